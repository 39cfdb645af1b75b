"""From logits to probabilities, a ranking and a drawn character: the rules every model shares, the shipped
ONNX models (core/predict.py, core/step.py) and the Train page's numpy ones (core/train/engine.py). numpy only:
the training workers import it, and core.predict pulls in onnxruntime.
"""

from __future__ import annotations

import numpy as np


def distributions(logits: np.ndarray) -> np.ndarray:
    """Each row of logits (..., V) as probabilities, in float64."""
    z = np.asarray(logits, dtype=np.float64)
    e = np.exp(z - z.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def ranked(probs: np.ndarray, top: int) -> tuple[np.ndarray, np.ndarray]:
    """The `top` likeliest tokens of each row of probabilities (R, V), most likely first (ties to the lower id,
    as onnxruntime's TopK), and their probabilities: (R, top) each. A vocabulary is small: one stable sort beats
    a partition."""
    ids = np.argsort(-probs, axis=1, kind="stable")[:, :top]
    return ids, np.take_along_axis(probs, ids, axis=1)


def draw(logits: np.ndarray, rng: np.random.Generator, temperature: float, unk_id: int, top: int | None = None) -> int:
    """One token drawn from logits (V,) at `temperature`, never the unknown token (it would be written as if it
    were a character); with `top`, only from the `top` likeliest."""
    probs = distributions(np.asarray(logits, dtype=np.float64) / temperature)
    probs[unk_id] = 0.0
    if top:
        keep = np.zeros(len(probs), dtype=bool)
        keep[ranked(probs[None], top)[0][0]] = True
        probs[~keep] = 0.0
    # what rng.choice(p=...) does, without its checks of p on every character (half a sampling loop's time)
    cdf = np.cumsum(probs)
    return int(np.searchsorted(cdf / cdf[-1], rng.random(), side="right"))
