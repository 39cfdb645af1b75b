"""Train a character model with truncated backpropagation through time, then export it to ONNX.

    python -m export.train all            # retrain everything that ships into models/
    python -m export.train lstm --quick   # a few minutes: a small LSTM, to see the pipeline work
    python -m export.train rnn --corpus my.txt --id my-rnn --out my-models

The batch is B contiguous streams of the training text; each step reads the next T characters of every
stream and starts from the state the previous step ended in (detached), so the model learns from context
longer than T while gradients flow back at most T steps. Checkpoints are written atomically and a run
resumes from its checkpoint exactly where it stopped.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import math
import os
import sys
import time
from pathlib import Path

import torch
import torch.nn.functional as F
from tqdm import tqdm

from export import corpus as corpus_lib
from export.config import TrainConfig
from export.models import ModelConfig, build
from export.onnx_export import export_trained
from export.tasks import IGNORE, make_task

ROOT = Path(__file__).resolve().parent.parent


# What ships. Sizes and steps were chosen so that `all` fits in an hour on 2 cores (README has the figures).
PRESETS = {
    "ff": TrainConfig(id="ff", arch="ff", hidden_size=256, steps=1500, lr=3e-3),
    "rnn": TrainConfig(id="rnn", arch="rnn", hidden_size=256, steps=3000),
    "lstm": TrainConfig(id="lstm", arch="lstm", hidden_size=512, steps=5000, bf16=True),
    "gru": TrainConfig(id="gru", arch="gru", hidden_size=256, steps=3000),
}
# The long-range recall experiment (export/tasks.py): small models, lags that grow during training.
RECALL = TrainConfig(
    id="recall",
    arch="rnn",
    task="recall",
    hidden_size=64,
    embed_size=16,
    batch_size=32,
    steps=1500,
    lr=3e-3,
    recall_max_k=600,
    curriculum=750,
    eval_every=250,
    checkpoint_every=100,
)
PRESETS["recall-rnn"] = dataclasses.replace(RECALL, id="recall-rnn")
PRESETS["recall-lstm"] = dataclasses.replace(RECALL, id="recall-lstm", arch="lstm", forget_bias=1.0)
# Two real runs of one RNN, with and without gradient clipping; only their logs ship (models/clipping.json).
CLIPPING = TrainConfig(
    id="clip-demo",
    arch="rnn",
    hidden_size=256,
    steps=400,
    lr=0.1,  # measured: unclipped, the gradient norm reaches 1e15 at this rate; clipped it stays below 10
    warmup=0,
    seq_len=200,
    eval_every=400,
    checkpoint_every=400,
)
GROUPS = {
    "all": ("ff", "rnn", "lstm", "recall-rnn", "recall-lstm", "clipping"),
    "recall": ("recall-rnn", "recall-lstm"),
}


def quick(config: TrainConfig) -> TrainConfig:
    """A few minutes on 2 cores: enough to see loss fall and the app use the result."""
    return dataclasses.replace(config, hidden_size=min(config.hidden_size, 128), steps=300, eval_every=100)


class TrainingDiverged(RuntimeError):
    """The loss stopped being a finite number."""


def learning_rate(config: TrainConfig, step: int) -> float:
    if step < config.warmup:
        return config.lr * (step + 1) / config.warmup
    progress = (step - config.warmup) / max(1, config.steps - config.warmup)
    return config.min_lr + 0.5 * (config.lr - config.min_lr) * (1 + math.cos(math.pi * progress))


# -----------------------------------------------------------------------------
# training


def save_atomic(obj, path: Path) -> None:
    tmp = path.with_name(path.name + ".tmp")
    torch.save(obj, tmp)
    os.replace(tmp, path)


def train(
    config: TrainConfig, run_dir: Path, resume: bool = True, stop_after: int | None = None, progress: bool = True
):
    """Train (or resume) and return (model, task, record). `stop_after` ends early, as a crash would."""
    torch.set_num_threads(config.threads)
    task = make_task(config)
    vocab = task.vocab

    torch.manual_seed(config.seed)
    model_config = ModelConfig(
        config.arch, len(vocab), config.hidden_size, config.embed_size, config.layers, config.forget_bias
    )
    model = build(model_config)
    optimizer = torch.optim.Adam(model.parameters(), lr=config.lr)
    run_dir.mkdir(parents=True, exist_ok=True)
    checkpoint = run_dir / f"{config.id}.ckpt"
    log = {"step": [], "loss": [], "grad_norm": [], "clipped": [], "lr": [], "val_step": [], task.val_metric: []}
    state, start, seconds = model.init_state(config.batch_size), 0, 0.0
    if resume and checkpoint.exists():
        saved = torch.load(checkpoint, weights_only=False)
        defaults = {f.name: f.default for f in dataclasses.fields(TrainConfig)}  # fields added since it was saved
        if {**defaults, **saved["config"]} != dataclasses.asdict(config):
            raise ValueError(f"{checkpoint} was written with other settings; delete it or pass --fresh")
        model.load_state_dict(saved["model"])
        optimizer.load_state_dict(saved["optimizer"])
        state, start, seconds, log = saved["state"], saved["step"], saved["seconds"], saved["log"]

    def snapshot(step):
        save_atomic(
            {
                "config": dataclasses.asdict(config),
                "model": model.state_dict(),
                "optimizer": optimizer.state_dict(),
                "state": state,
                "step": step,
                "seconds": seconds,
                "log": log,
                "vocab": vocab,
            },
            checkpoint,
        )

    end = config.steps if stop_after is None else min(config.steps, stop_after)
    bar = tqdm(
        range(start, end), initial=start, total=config.steps, desc=config.id, disable=not progress, file=sys.stderr
    )
    for step in bar:
        began = time.perf_counter()
        x, y, fresh = task.batch(step)
        if fresh:
            state = model.init_state(config.batch_size)
        for group in optimizer.param_groups:
            group["lr"] = learning_rate(config, step)
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=config.bf16):
            logits, state, _ = model(x, state)
        loss = F.cross_entropy(logits.float().reshape(-1, len(vocab)), y.reshape(-1), ignore_index=IGNORE)
        if not torch.isfinite(loss):
            error = TrainingDiverged(
                f"{config.id}: loss became {loss.item()} at step {step}; nothing was written for this step "
                f"(last checkpoint: {checkpoint if checkpoint.exists() else 'none'}). Try a lower --lr or --clip 1.0."
            )
            error.step, error.log = step, log
            raise error
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        max_norm = config.clip if config.clip > 0 else float("inf")
        grad_norm = float(torch.nn.utils.clip_grad_norm_(model.parameters(), max_norm))
        optimizer.step()
        state = tuple(s.detach().float() for s in state)
        seconds += time.perf_counter() - began
        clipped = config.clip > 0 and grad_norm > config.clip
        row = {
            "step": step + 1,
            "loss": loss.item(),
            "grad_norm": grad_norm,
            "clipped": clipped,
            "lr": learning_rate(config, step),
        }
        for key, value in row.items():
            log[key].append(value)
        bar.set_postfix(loss=f"{loss.item():.3f}", grad=f"{grad_norm:.2f}")
        done = step + 1
        if done % config.eval_every == 0 or done == config.steps:
            model.eval()
            log["val_step"].append(done)
            log[task.val_metric].append(task.validate(model))
            model.train()
            bar.write(f"{config.id} step {done}: {task.val_metric} {log[task.val_metric][-1]:.4f}")
        if done % config.checkpoint_every == 0 or done == end:
            snapshot(done)
    bar.close()
    model.eval()
    record = {"steps": len(log["step"]), "seconds": round(seconds, 1), "log": log, "model_config": model_config}
    return model, task, record


def clipping_runs(out_dir: Path, run_dir: Path, config: TrainConfig = CLIPPING) -> list[dict]:
    """Train the same RNN twice, clipping at 1.0 and not at all, and ship both logs, diverged or not."""
    runs = []
    for label, clip in (("clipping at 1.0", 1.0), ("no clipping", 0.0)):
        run = dataclasses.replace(config, id=f"{config.id}-{'on' if clip else 'off'}", clip=clip)
        try:
            *_, record = train(run, run_dir, resume=False)
            log, diverged = record["log"], None
        except TrainingDiverged as e:
            log, diverged = e.log, e.step
        runs.append(
            {
                "label": label,
                "clip": clip or None,
                "diverged_at": diverged,
                "config": dataclasses.asdict(run),
                "log": {k: log[k] for k in ("step", "loss", "grad_norm", "clipped")},
            }
        )
    out_dir.mkdir(parents=True, exist_ok=True)
    tmp = out_dir / "clipping.json.tmp"
    tmp.write_text(json.dumps({"runs": runs}) + "\n")
    os.replace(tmp, out_dir / "clipping.json")
    return runs


# -----------------------------------------------------------------------------


# Flags that override a preset's settings: declared once, each named after its TrainConfig field.
OVERRIDES = (
    ("corpus", str, "`shakespeare` (default), `tiny`, or a UTF-8 text file of your own"),
    ("id", str, "model id (default: the preset's)"),
    ("steps", int, None),
    ("hidden_size", int, None),
    ("batch_size", int, None),
    ("seq_len", int, None),
    ("recall_lags", str, "recall only: how lags are drawn, `uniform` or `log-uniform`"),
    ("clip", float, "gradient-norm clipping threshold; 0 switches it off"),
    ("seed", int, None),
)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("preset", choices=[*PRESETS, *GROUPS, "clipping"], help="what to train; `all`: what ships")
    parser.add_argument("--quick", action="store_true", help="small and short: minutes, not an hour")
    for field, kind, text in OVERRIDES:
        parser.add_argument("--" + field.replace("_", "-"), type=kind, help=text)
    parser.add_argument("--out", type=Path, default=ROOT / "models", help="folder of ONNX files and manifest.json")
    parser.add_argument("--runs", type=Path, default=ROOT / "runs", help="folder for checkpoints")
    parser.add_argument("--fresh", action="store_true", help="ignore an existing checkpoint")
    args = parser.parse_args(argv)

    names = GROUPS.get(args.preset, (args.preset,))
    overrides = {field: getattr(args, field) for field, _, _ in OVERRIDES if getattr(args, field) is not None}
    if overrides.get("recall_lags") not in (None, "uniform", "log-uniform"):
        parser.error("--recall-lags is `uniform` or `log-uniform`")
    if args.id and len(names) > 1:
        parser.error("--id names one model; it cannot be used with `all`")
    for name in names:
        if name == "clipping":
            runs = clipping_runs(args.out, args.runs, quick(CLIPPING) if args.quick else CLIPPING)
            print(
                "clipping: "
                + "; ".join(
                    f"{r['label']}: max grad norm {max(r['log']['grad_norm']):.3g}, diverged at {r['diverged_at']}"
                    for r in runs
                )
            )
            continue
        config = quick(PRESETS[name]) if args.quick else PRESETS[name]
        config = dataclasses.replace(config, **overrides)
        try:
            model, task, record = train(config, args.runs, resume=not args.fresh)
        except (corpus_lib.CorpusError, TrainingDiverged) as e:
            print(f"error: {e}", file=sys.stderr)
            return 1
        entry = export_trained(model, task, record, config, args.out)
        print(f"{entry['id']}: {entry['params']:,} params, {entry['training']['seconds']} s, {entry['metrics']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
