"""Find the hidden units that track something a reader can see, so the app can offer them first.

For every feature below, each unit's activation (hidden state h, and the LSTM's cell state c) is correlated
with the feature over held-out text, and the unit with the largest |Pearson r| is kept. The search runs
at export on text the model never trained on; the manifest records unit, signal and r.
"""

from __future__ import annotations

import numpy as np
import torch

from core.contract import Vocab
from export.cells import build_cell


def features(text: str) -> dict[str, np.ndarray]:
    """Each feature's value after reading each character of `text`, by its id in core.contract.UNIT_FEATURES."""
    n = len(text)
    bracket, quote, column = np.zeros(n), np.zeros(n), np.zeros(n)
    depth, inside, col = 0, False, 0
    for t, ch in enumerate(text):
        depth = depth + 1 if ch == "[" else max(0, depth - 1) if ch == "]" else depth
        inside = not inside if ch == '"' else inside
        col = 0 if ch == "\n" else col + 1
        bracket[t], quote[t], column[t] = depth > 0, inside, col
    newline = np.array([ch == "\n" for ch in text], dtype=float)
    return {"stage": bracket, "quotes": quote, "position": column, "newline": newline}  # by UNIT_FEATURES id


@torch.no_grad()
def activations(model, ids: np.ndarray, streams: int = 16) -> dict[str, np.ndarray]:
    """h (and c) after every character, (T, H) each, read as `streams` contiguous pieces in parallel."""
    cell = build_cell(model)
    hidden = model.config.hidden_size
    length = len(ids) // streams
    tokens = torch.from_numpy(ids[: streams * length].reshape(streams, length))
    state = [torch.zeros(streams, 1, hidden) for _ in cell.state_names]
    seen = {n: [] for n in cell.state_names}
    for t in range(length):
        out = cell(tokens[:, t : t + 1], *state)
        state = list(out[1 : 1 + len(state)])
        for n, s in zip(cell.state_names, state, strict=True):
            seen[n].append(s[:, 0])
    return {n: torch.stack(v, 1).reshape(streams * length, hidden).numpy() for n, v in seen.items()}


def correlations(values: np.ndarray, feature: np.ndarray) -> np.ndarray:
    """Pearson r of every column of values (T, H) with feature (T,); 0 where either is constant."""
    v = values - values.mean(0)
    f = feature - feature.mean()
    denom = np.sqrt((v * v).sum(0) * (f * f).sum())
    return np.divide(v.T @ f, denom, out=np.zeros(values.shape[1]), where=denom > 0)


def tracking_units(model, text: str, vocab: list[str], max_chars: int = 400_000) -> list[dict]:
    text = text[:max_chars]
    acts = activations(model, Vocab(vocab).encode(text))
    found = []
    for name, feature in features(text).items():
        feature = feature[: len(next(iter(acts.values())))]
        if feature.std() == 0:
            continue
        best = None
        for signal, values in acts.items():
            r = correlations(values, feature)
            unit = int(np.abs(r).argmax())
            if best is None or abs(r[unit]) > abs(best["correlation"]):
                best = {"feature": name, "signal": signal, "unit": unit, "correlation": round(float(r[unit]), 3)}
        found.append(best)
    return sorted(found, key=lambda u: -abs(u["correlation"]))
