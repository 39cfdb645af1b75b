"""The output head and its loss: softmax cross-entropy on every step (many-to-many: the next character) or on
the last step only (many-to-one: the recall task's answer). Mean nats per scored step."""

from __future__ import annotations

import numpy as np


def cross_entropy(logits: np.ndarray, targets: np.ndarray) -> tuple[float, np.ndarray]:
    """Mean -log softmax(logits)[target] over the rows of logits (N, V), and its gradient w.r.t. logits.
    Works in place on logits, which becomes the gradient."""
    rows = np.arange(len(targets))
    logits -= logits.max(axis=1, keepdims=True)
    picked = logits[rows, targets]
    np.exp(logits, out=logits)
    total = logits.sum(axis=1)
    loss = float(np.mean(np.log(total) - picked))
    logits /= total[:, None]
    logits[rows, targets] -= 1.0
    logits *= 1.0 / len(targets)
    return loss, logits


def head(params: dict, hs: np.ndarray, targets: np.ndarray) -> tuple[float, dict, np.ndarray]:
    """Loss of the output head on the states hs (T, B, H), time first. targets (B, T) scores every step;
    targets (B,) scores the last step only. Returns the loss, the head's gradients and dL/dh_t from the
    output, (T, B, H)."""
    w_out, b_out = params["w_out"], params["b_out"]
    if targets.ndim == 1:  # many-to-one
        last, dhs = hs[-1], np.zeros_like(hs)
        loss, dlogits = cross_entropy(last @ w_out.T + b_out, targets)
        dhs[-1] = dlogits @ w_out
        return loss, {"w_out": dlogits.T @ last, "b_out": dlogits.sum(0)}, dhs
    flat = hs.reshape(-1, hs.shape[-1])
    logits = flat @ w_out.T
    logits += b_out
    loss, dlogits = cross_entropy(logits, targets.T.reshape(-1))  # time first, as hs
    return loss, {"w_out": dlogits.T @ flat, "b_out": dlogits.sum(0)}, (dlogits @ w_out).reshape(hs.shape)


def batch_logits(params: dict, hs: np.ndarray) -> np.ndarray:
    """The output head on the states hs (T, B, H), time first as the cells keep them: logits (B, T, V), batch
    first as core.models.Model.run returns them."""
    return (hs @ params["w_out"].T + params["b_out"]).transpose(1, 0, 2)
