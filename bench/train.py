"""The numpy training engine on one core, with PyTorch eager measured in the same run as the baseline.

    python -m bench.train [--json FILE] [--quick]

Prints:
- steps per second at T = 50, batch 32, hidden 64, vocabulary 65, for RNN, LSTM and GRU: a whole step of
  core/train (forward, loss, backward through time with ||dL/dh_t|| at every t, clipping, Adam) against
  torch's fused nn.RNN / nn.LSTM / nn.GRU with the same loss, clipping and Adam (torch's step does not
  compute the per-t norms: it cannot read them from its fused layers). The two are interleaved in rounds,
  so a slow spell of the machine hits both;
- milliseconds per step at T = 25, 50, 100 and 200 (BPTT's cost against the unroll);
- recall at k = 20: the RNN and the LSTM trained side by side with one budget (6,000 steps or 60 s), their
  accuracy on fresh sequences and ||dL/dh_0|| / ||dL/dh_T||;
- your text: the best held-out bits per character within 20 s on the Shakespeare excerpt, per cell, and as a
  yardstick an interpolated Kneser-Ney character 5-gram counted on the same training text (the classic
  strong model of small texts: what 27 kB of training text allows).
With --json FILE the figures are also written as JSON; --quick runs every part briefly (a smoke test).
"""

from __future__ import annotations

# isort: off
import core.train.worker  # noqa: F401 (first: it pins BLAS to one thread before numpy loads, as in the workers)

# isort: on
import argparse
import json
import math
import statistics
import time
from collections import Counter, defaultdict

import numpy as np

from core.contract import UNK, Vocab
from core.train.cells import TRAINABLE
from core.train.engine import Net, Run, Settings
from core.train.tasks import Text

SPEED = {"seq_len": 50, "batch": 32, "hidden": 64, "vocab": 65}
UNROLLS = (25, 50, 100, 200)
RECALL_CELLS = tuple(a for a in TRAINABLE if a != "gru")  # the article's pair: the plain RNN and the LSTM
RECALL = Settings(task="recall", k=20, cells=RECALL_CELLS, hidden=64, lr=1e-2, clip=1.0, seed=0)
RECALL_BUDGET = {"steps": 6000, "seconds": 60.0}
TEXT = {"hidden": 128, "seq_len": 25, "batch": 32, "lr": 1e-2, "clip": 1.0, "seed": 0}
TEXT_SECONDS, EVALUATE_EVERY = 20.0, 1.0
KN_ORDER = 5  # the best order on the excerpt's split (3: 2.86 bits, 4: 2.54, 5: 2.51, 6: 2.52, 7: 2.55)


def batch(seed: int, steps: int, batch_size: int, vocab: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    return rng.integers(0, vocab, (batch_size, steps)), rng.integers(0, vocab, (batch_size, steps))


def numpy_steps(arch: str, steps: int, n: int) -> list[float]:
    """Seconds per training step of core/train's Net, on a fixed random batch."""
    vocab = Vocab([UNK, *(chr(0x21 + i) for i in range(SPEED["vocab"] - 1))])
    net = Net(arch, vocab, SPEED["hidden"], seed=0, lr=3e-3)
    tokens, targets = batch(0, steps, SPEED["batch"], len(vocab))
    net.train_step(0, tokens, targets, 1.0)
    times = []
    for i in range(n):
        began = time.perf_counter()
        net.train_step(i, tokens, targets, 1.0)
        times.append(time.perf_counter() - began)
    return times


class TorchStep:
    """The same step in PyTorch eager: a fused recurrent layer on one-hot input, a linear head, cross-entropy,
    backward, clipping, Adam."""

    def __init__(self, arch: str, steps: int):
        import torch

        torch.set_num_threads(1)
        self.torch = torch
        vocab, hidden = SPEED["vocab"], SPEED["hidden"]
        self.layer = getattr(torch.nn, arch.upper())(vocab, hidden, batch_first=True)  # nn.RNN, nn.GRU, nn.LSTM
        self.head = torch.nn.Linear(hidden, vocab)
        self.params = [*self.layer.parameters(), *self.head.parameters()]
        self.optimiser = torch.optim.Adam(self.params, lr=3e-3)
        tokens, targets = batch(0, steps, SPEED["batch"], vocab)
        self.x = torch.nn.functional.one_hot(torch.from_numpy(tokens), vocab).float()
        self.y = torch.from_numpy(targets).reshape(-1)

    def __call__(self) -> float:
        torch = self.torch
        self.optimiser.zero_grad()
        out, _ = self.layer(self.x)
        loss = torch.nn.functional.cross_entropy(self.head(out).reshape(-1, SPEED["vocab"]), self.y)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(self.params, 1.0)
        self.optimiser.step()
        return float(loss.detach())


def torch_steps(step: TorchStep, n: int) -> list[float]:
    step()
    times = []
    for _ in range(n):
        began = time.perf_counter()
        step()
        times.append(time.perf_counter() - began)
    return times


def speed(rounds: int, n: int) -> tuple[dict, dict]:
    ours, theirs = {a: [] for a in TRAINABLE}, {a: [] for a in TRAINABLE}
    baselines = {a: TorchStep(a, SPEED["seq_len"]) for a in TRAINABLE}
    for _ in range(rounds):
        for arch in TRAINABLE:
            ours[arch] += numpy_steps(arch, SPEED["seq_len"], n)
            theirs[arch] += torch_steps(baselines[arch], n)
    return (
        {a: 1 / statistics.median(t) for a, t in ours.items()},
        {a: 1 / statistics.median(t) for a, t in theirs.items()},
    ), (ours, theirs)


def p95(times: list[float]) -> float:
    return float(np.percentile(times, 95))


def recall(budget: dict) -> dict:
    run = Run(RECALL)
    began, step, ratios = time.perf_counter(), 0, {a: [] for a in RECALL.cells}
    while step < budget["steps"] and time.perf_counter() - began < budget["seconds"]:
        for arch, report in run.step(step).items():
            ratios[arch].append(report.dh_norms[0] / report.dh_norms[-1])
        step += 1
    scores = run.evaluate()
    out = {a: {"accuracy": scores.get(a, 0.0), "grad_ratio": float(np.median(ratios[a][-100:]))} for a in RECALL.cells}
    return {"cells": out, "steps": step, "seconds": time.perf_counter() - began, "stopped": run.stopped}


def text(seconds: float) -> dict:
    best = {}
    for arch in TRAINABLE:
        run = Run(Settings(task="text", cells=(arch,), **TEXT))
        began = evaluated = time.perf_counter()
        step, scores = 0, []
        while time.perf_counter() - began < seconds:
            run.step(step)
            step += 1
            if time.perf_counter() - evaluated >= EVALUATE_EVERY:
                scores.append(run.evaluate().get(arch, float("inf")))
                evaluated = time.perf_counter()
        scores.append(run.evaluate().get(arch, float("inf")))
        best[arch] = {"bits_per_char": min(scores), "steps": step}
    return best


def kneser_ney_bits(train: np.ndarray, held_out: np.ndarray, order: int = KN_ORDER, discount: float = 0.75) -> float:
    """Held-out bits per character of an interpolated Kneser-Ney character n-gram counted on the same training
    text: the classic strong model of small texts, as a yardstick for what 30 kB allows."""
    vocab = int(max(train.max(), held_out.max())) + 1
    train, held_out = train.tolist(), held_out.tolist()
    counts = [defaultdict(Counter) for _ in range(order + 1)]  # n -> context (n - 1 ids) -> next id -> count
    for n in range(1, order + 1):
        for i in range(n - 1, len(train)):
            counts[n][tuple(train[i - n + 1 : i])][train[i]] += 1
    continuations = [defaultdict(Counter) for _ in range(order + 1)]  # in how many contexts a lower n-gram ends
    for n in range(2, order + 1):
        for context, after in counts[n].items():
            for token in after:
                continuations[n - 1][context[1:]][token] += 1

    def probability(context: tuple, token: int) -> float:
        p = 1.0 / vocab
        for n in range(1, order + 1):
            table = counts[n] if n == order else continuations[n]
            seen = table.get(context[len(context) - n + 1 :] if n > 1 else ())
            if seen:
                total = sum(seen.values())
                p = max(seen[token] - discount, 0) / total + discount * len(seen) / total * p
        return p

    scored = range(order, len(held_out))
    return -sum(math.log2(probability(tuple(held_out[i - order + 1 : i]), held_out[i])) for i in scored) / len(scored)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--json", help="also write the figures to this file")
    parser.add_argument("--quick", action="store_true", help="every part briefly: a smoke test, not figures")
    args = parser.parse_args(argv)
    quick = args.quick
    print(f"one core; T = {SPEED['seq_len']}, batch {SPEED['batch']}, hidden {SPEED['hidden']}, vocab {SPEED['vocab']}")
    (ours, theirs), (raw_ours, raw_theirs) = speed(rounds=1 if quick else 3, n=3 if quick else 30)
    print(f"\n{'cell':6} {'numpy steps/s':>14} {'p95 ms':>7} {'torch steps/s':>14} {'p95 ms':>7} {'ratio':>6}")
    for a in TRAINABLE:
        print(
            f"{a:6} {ours[a]:14.0f} {1000 * p95(raw_ours[a]):7.1f} {theirs[a]:14.0f} "
            f"{1000 * p95(raw_theirs[a]):7.1f} {ours[a] / theirs[a]:6.2f}"
        )
    unrolls = {a: {} for a in TRAINABLE}
    for steps in UNROLLS:
        for a in TRAINABLE:
            unrolls[a][str(steps)] = 1000 * statistics.median(numpy_steps(a, steps, 2 if quick else 15))
    print(f"\nms per step against the unroll T: {'':4}" + "".join(f"{f'T={t}':>9}" for t in UNROLLS))
    for a in TRAINABLE:
        print(f"{a:37}" + "".join(f"{unrolls[a][str(t)]:9.1f}" for t in UNROLLS))
    budget = {"steps": 20, "seconds": 5.0} if quick else RECALL_BUDGET
    found = recall(budget)
    settings = (
        f"hidden {RECALL.hidden}, lr {RECALL.lr:g}, clip {RECALL.clip:g}, batch {RECALL.batch}, seed {RECALL.seed}"
    )
    print(f"\nrecall at k = {RECALL.k} ({settings}): {found['steps']} steps in {found['seconds']:.0f} s")
    for a, f in found["cells"].items():
        ratio = f"{f['grad_ratio']:.1e}" if f["grad_ratio"] > 0 else "0 (below float32's smallest number)"
        print(f"  {a:5} accuracy {f['accuracy']:6.1%}   ||dL/dh_0|| / ||dL/dh_T|| {ratio}")
    seconds = 1.0 if quick else TEXT_SECONDS
    best = text(seconds)
    print(f"\nyour text (the Shakespeare excerpt), best held-out bits per character within {seconds:g} s:")
    print("  settings: " + ", ".join(f"{k} {v:g}" for k, v in TEXT.items()))
    for a, b in best.items():
        print(f"  {a:5} {b['bits_per_char']:.3f} bits/char after {b['steps']} steps")
    split = Text.shakespeare()
    yardstick = kneser_ney_bits(split.train, split.val)
    print(f"  yardstick: a Kneser-Ney {KN_ORDER}-gram counted on the same training text: {yardstick:.3f} bits/char")
    if args.json:
        figures = {
            "steps_per_s": ours,
            "torch_steps_per_s": theirs,
            "ms_per_step": unrolls,
            "recall_k20": found["cells"],
            "text_bits_per_char_20s": {a: b["bits_per_char"] for a, b in best.items()},
            "text_kneser_ney_bits_per_char": yardstick,
        }
        with open(args.json, "w", encoding="utf-8") as f:
            json.dump(figures, f, indent=2)
        print(f"\nwrote {args.json}")


if __name__ == "__main__":
    main()
