"""Training settings and the machine they ran on: what export/train.py reads and export/onnx_export.py records."""

from __future__ import annotations

import os
import platform
from dataclasses import dataclass

import torch


@dataclass(frozen=True)
class TrainConfig:
    id: str  # model id in the manifest and file names
    arch: str  # ff | rnn | lstm | gru
    corpus: str = "shakespeare"  # `shakespeare`, `tiny`, or a path to a UTF-8 text file
    hidden_size: int = 256  # recurrent state width
    embed_size: int = 64  # character embedding width
    layers: int = 1  # stacked recurrent layers
    batch_size: int = 64  # parallel streams of text
    seq_len: int = 128  # characters per step: how far back gradients flow (truncated BPTT)
    steps: int = 2000  # optimiser steps
    lr: float = 2e-3  # Adam's peak learning rate
    min_lr: float = 1e-4  # where the cosine schedule ends
    warmup: int = 50  # linear warm-up steps
    clip: float = 1.0  # gradient-norm clipping threshold; 0 switches clipping off
    seed: int = 1234  # seeds weights and data order
    eval_every: int = 250  # steps between validations
    checkpoint_every: int = 250  # steps between checkpoints
    bf16: bool = False  # bfloat16 autocast: about 2x faster on CPUs with AMX, weights stay float32
    threads: int = 2  # torch intra-op threads
    task: str = "text"  # `text`: next character everywhere; `recall`: the key after a lag (export/tasks.py)
    recall_max_k: int = 0  # recall only: the longest lag (distractors between key and query) trained on
    curriculum: int = 0  # recall only: steps over which the longest lag grows from 10 to recall_max_k
    recall_lags: str = "uniform"  # recall only: lags drawn `uniform` in 1..longest, or `log-uniform`
    forget_bias: float = 0.0  # LSTM only: added to the forget gate's bias at init, so memory starts long


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next(line.split(":", 1)[1].strip() for line in f if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    return f"{cpu}, {os.cpu_count()} cores, torch {torch.__version__}"
