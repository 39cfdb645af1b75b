"""One training step, and the cells that train side by side in lockstep.

    run = Run(settings)          # the task and one Net per chosen cell, all from the same seed
    reports = run.step(n)        # arch -> StepReport for the cells still training
    run.stopped                  # arch -> why it stopped ("lstm exploded at step 212: ...")

A step is: the batch, forward through time, the loss, backward through time, the global gradient norm,
clipping, Adam. Its report holds the loss, the norm before and after clipping, ||dL/dh_t|| for every t of
the unroll, and the milliseconds it took. A NaN or inf in a cell's loss or gradients stops that cell with a
TrainingError; the others go on.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

import numpy as np

from core import sampling
from core.checks import SEED_MAX, integer, number
from core.contract import Vocab
from core.errors import InputError, TrainingError
from core.train import cells, loss, optim, tasks

MAX_HIDDEN = 512
MAX_LR = 10.0


@dataclass(frozen=True)
class StepReport:
    step: int
    loss: float  # nats per scored character
    norm: float  # global gradient norm before clipping
    clipped: float  # and after (equal when the step was not clipped)
    dh_norms: np.ndarray  # (T,) ||dL/dh_t||
    ms: float  # wall milliseconds
    cpu_ms: float  # this thread's CPU milliseconds: BPTT's own cost, whatever else the machine is doing


@dataclass(frozen=True)
class Settings:
    task: str = "recall"  # "recall" (many-to-one) or "text" (many-to-many)
    cells: tuple[str, ...] = cells.TRAINABLE
    hidden: int = 64
    lr: float = 3e-3
    clip: float | None = 1.0  # max global gradient norm; None: no clipping
    seed: int = 0
    batch: int = 32
    k: int = 20  # recall: the lag
    curriculum: int = 0  # recall: steps over which the lag rises to k
    text: str | None = None  # text: the learner's text; None: the Shakespeare excerpt
    seq_len: int = 50  # text: the unroll length T
    max_steps: int = 3000
    max_seconds: float = 60.0
    sample_every: int = 300  # text: steps between samples

    @property
    def unroll(self) -> int:
        """T, the steps one sequence unrolls: the text's sequence length, or the recall sequence (k + 2)."""
        return self.seq_len if self.task == "text" else self.k + 2

    def checked(self) -> Settings:
        if self.task not in ("recall", "text"):
            raise InputError(f"task must be recall or text, not {self.task!r}")
        if (
            not self.cells
            or any(c not in cells.TRAINABLE for c in self.cells)
            or len(set(self.cells)) != len(self.cells)
        ):
            raise InputError(f"cells must be some of {', '.join(cells.TRAINABLE)}, each once, not {self.cells!r}")
        integer("hidden size", self.hidden, 1, MAX_HIDDEN)
        number("learning rate", self.lr, 0, MAX_LR)
        if self.clip is not None:
            number("clipping threshold", self.clip, 1e-6, 1e6)
        integer("seed", self.seed, 0, SEED_MAX)
        integer("max steps", self.max_steps, 1, 10**6)
        number("max seconds", self.max_seconds, 0.1, 3600)
        integer("sample every", self.sample_every, 1, 10**6)
        return self


class Net:
    """One cell with its output head and its optimiser."""

    def __init__(self, arch: str, vocab: Vocab, hidden: int, seed: int, lr: float):
        self.arch, self.vocab = arch, vocab
        self.cell = cells.make(arch, hidden)
        self.params = cells.init(arch, len(vocab), hidden, seed)
        self.adam = optim.Adam(self.params, lr)

    def train_step(self, step: int, tokens: np.ndarray, targets: np.ndarray, clip: float | None) -> StepReport:
        began, began_cpu = time.perf_counter(), time.thread_time()
        with np.errstate(all="ignore"):  # overflow shows up as inf or NaN below, and is reported as such
            hs, tape, _ = self.cell.forward(self.params, tokens, self.cell.zero_state(len(tokens)))
            value, head_grads, dhs = loss.head(self.params, hs, targets)
            grads, dh_norms = self.cell.backward(self.params, tape, dhs)
            grads.update(head_grads)
            norm, clipped = optim.clip(grads, clip)
        if not math.isfinite(value) or not math.isfinite(norm):
            what = "loss" if not math.isfinite(value) else "gradient norm"
            shown = value if not math.isfinite(value) else norm
            raise TrainingError(f"{self.arch} exploded at step {step}: its {what} became {shown}")
        self.adam.step(self.params, grads)
        ms, cpu_ms = (time.perf_counter() - began) * 1000, (time.thread_time() - began_cpu) * 1000
        return StepReport(step, value, norm, clipped, dh_norms, ms, cpu_ms)

    def logits(self, tokens: np.ndarray, state: dict | None = None) -> tuple[np.ndarray, dict]:
        """logits (B, T, V) and the state after, without keeping anything for a backward pass."""
        state = state or self.cell.zero_state(len(tokens))
        hs, _, state = self.cell.forward(self.params, tokens, state)
        return loss.batch_logits(self.params, hs), state

    def bits_per_char(self, ids: np.ndarray, streams: int = 16, chunk: int = 200) -> float:
        """Mean -log2 p(next character) over ids, read as `streams` contiguous pieces with the state carried."""
        streams = max(1, min(streams, (len(ids) - 1) // 2))
        length = (len(ids) - 1) // streams
        x = ids[: streams * length].reshape(streams, length)
        y = ids[1 : streams * length + 1].reshape(streams, length)
        state, total = None, 0.0
        for t in range(0, length, chunk):
            out, state = self.logits(x[:, t : t + chunk], state)
            targets = y[:, t : t + chunk].reshape(-1)
            total += loss.cross_entropy(out.reshape(-1, out.shape[-1]), targets)[0] * targets.size
        return total / (streams * length) / math.log(2)

    def recall_accuracy(self, task: tasks.Recall) -> float:
        tokens, keys = task.fresh()
        out, _ = self.logits(tokens)
        key_ids = task.key_ids()
        return float(np.mean(key_ids[out[:, -1, key_ids].argmax(-1)] == keys))

    def sample(self, n: int = 200, prime: str = "\n", temperature: float = 0.8, seed: int = 0) -> str:
        rng = np.random.default_rng(seed)
        ids = self.vocab.encode(prime) if prime else np.array([self.vocab.unk_id])
        out, state = self.logits(ids[None])
        written = []
        for _ in range(n):
            nxt = sampling.draw(out[0, -1], rng, temperature, self.vocab.unk_id)
            written.append(self.vocab.tokens[nxt])
            out, state = self.logits(np.array([[nxt]]), state)
        return "".join(written)

    def weights(self) -> dict:
        """What a page needs to run this model: its architecture, vocabulary and weights."""
        return {
            "arch": self.arch,
            "vocab": list(self.vocab.tokens),
            "params": {k: v.copy() for k, v in self.params.items()},
        }


class Run:
    def __init__(self, settings: Settings):
        self.settings = s = settings.checked()
        if s.task == "recall":
            self.task = tasks.Recall(s.k, s.batch, s.seed, s.curriculum)
        elif s.text is None:
            self.task = tasks.Text.shakespeare(batch=s.batch, seq_len=s.seq_len, seed=s.seed)
        else:
            self.task = tasks.Text.from_text(s.text, batch=s.batch, seq_len=s.seq_len, seed=s.seed)
        self.nets = {arch: Net(arch, self.task.vocab, s.hidden, s.seed, s.lr) for arch in s.cells}
        self.stopped: dict[str, str] = {}

    @property
    def live(self) -> list[str]:
        return [a for a in self.nets if a not in self.stopped]

    def step(self, n: int) -> dict[str, StepReport]:
        tokens, targets = self.task.batch_at(n)
        reports = {}
        for arch in self.live:
            try:
                reports[arch] = self.nets[arch].train_step(n, tokens, targets, self.settings.clip)
            except TrainingError as e:
                self.stopped[arch] = str(e)
        return reports

    def evaluate(self) -> dict[str, float]:
        """recall: accuracy on fresh sequences at the full lag; text: held-out bits per character."""
        if isinstance(self.task, tasks.Recall):
            return {a: self.nets[a].recall_accuracy(self.task) for a in self.live}
        return {a: self.nets[a].bits_per_char(self.task.val) for a in self.live}
