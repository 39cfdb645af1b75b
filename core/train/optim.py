"""Adam and global-norm gradient clipping, on dicts of numpy arrays, updating in place.

Adam follows torch.optim.Adam's defaults and arithmetic (no weight decay, no amsgrad), so the same gradients
give the same weights (tests/test_train_engine.py checks it against torch). Clipping scales every gradient by
max_norm / norm when the global norm is above max_norm, so the clipped norm is the threshold exactly (torch
divides by norm + 1e-6 instead, a difference of one part in a million).
"""

from __future__ import annotations

import math

import numpy as np


def global_norm(grads: dict[str, np.ndarray]) -> float:
    """sqrt of the sum of squares of every gradient, summed in float64 (inf or NaN if any entry is)."""
    return math.sqrt(sum(float(np.dot(g.ravel().astype(np.float64), g.ravel())) for g in grads.values()))


def clip(grads: dict[str, np.ndarray], max_norm: float | None) -> tuple[float, float]:
    """Scale the gradients in place so their global norm is at most max_norm (None: no clipping).
    Returns the norm before and after."""
    norm = global_norm(grads)
    if max_norm is None or not norm > max_norm or not math.isfinite(norm):
        return norm, norm
    scale = max_norm / norm
    for g in grads.values():
        g *= scale
    return norm, global_norm(grads)


class Adam:
    def __init__(self, params: dict[str, np.ndarray], lr: float = 3e-3, betas=(0.9, 0.999), eps: float = 1e-8):
        self.lr, self.betas, self.eps, self.t = lr, betas, eps, 0
        self.m = {k: np.zeros_like(v) for k, v in params.items()}
        self.v = {k: np.zeros_like(v) for k, v in params.items()}

    def step(self, params: dict[str, np.ndarray], grads: dict[str, np.ndarray]) -> None:
        self.t += 1
        b1, b2 = self.betas
        step_size = self.lr / (1 - b1**self.t)
        root_correction = math.sqrt(1 - b2**self.t)
        for name, p in params.items():
            g, m, v = grads[name], self.m[name], self.v[name]
            m *= b1
            m += (1 - b1) * g
            v *= b2
            v += (1 - b2) * g * g
            p -= step_size * m / (np.sqrt(v) / root_correction + self.eps)
