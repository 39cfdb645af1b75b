"""The memory lab's measurements, by backpropagation through time run one step at a time in onnxruntime.

Each model's analysis cell (export/cells.py) computes one step forward and one step backward. `analyse`
runs a text forward through it, recording the state before every step and the gates, then backward from
the last step with a batch of upstream gradients:
- row 0 starts from the gradient of log p(current top guess): the norm of what reaches each earlier input
  embedding is how much that character moves the prediction (its influence);
- rows 1..P start from random Gaussian vectors on the last hidden state: the mean squared norm of what
  reaches h_(T-k) estimates ||dh_T/dh_(T-k)||_F^2 (Hutchinson's estimator), the quantity that vanishes or
  explodes through time.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from core.errors import InputError, ModelFileError
from core.models import Model
from core.predict import softmax
from core.text import normalize

MAX_ANALYSIS_CHARS = 300  # two passes of one cell call per character and model


@dataclass(frozen=True)
class Trace:
    """A text run forward through a model's cell, one step at a time."""

    text: str
    ids: np.ndarray  # (T,)
    before: dict[str, np.ndarray]  # each state before each step, (T, H); empty for the feed-forward net
    after: dict[str, np.ndarray]  # each state after each step, (T, H)
    gates: np.ndarray  # (T, G, H): LSTM i, f, g, o; GRU r, z, n; RNN and feed-forward their hidden layer
    logits: np.ndarray  # (T, V)


@dataclass(frozen=True)
class Memory:
    trace: Trace
    influence: np.ndarray  # (T,) norm of d log p(top guess) / d input embedding at each position
    gradient_norms: np.ndarray  # (T,) [k] = ||dh_T/dh_(T-k)||_F / sqrt(H), so [0] = 1; NaN where no path exists
    horizon: int  # distance back within which 90% of the influence lies (0: only the last character)


def require_cell(model: Model):
    if model.cell is None:
        raise ModelFileError(f"{model.id}: {model.cell_problem}")
    return model.cell


def trace(model: Model, text: str) -> Trace:
    cell = require_cell(model)
    text = normalize(text)
    if not text:
        raise InputError("an empty text has nothing to trace")
    ids = model.info.vocab.encode(text)
    hidden, vocab_size = model.info.hidden_size, len(model.info.vocab)
    state = {n: np.zeros((1, 1, hidden), np.float32) for n in model.state_names}
    zeros = {f"g{n}_in": np.zeros((1, 1, hidden), np.float32) for n in model.state_names}
    zeros["glogits_in"] = np.zeros((1, 1, vocab_size), np.float32)
    names = [o.name for o in cell.get_outputs()]
    before = {n: [] for n in model.state_names}
    after = {n: [] for n in model.state_names}
    gates, logits = [], []
    for token in ids:
        feed = {"tokens": np.array([[token]], np.int64), **{f"{n}_in": s for n, s in state.items()}, **zeros}
        out = dict(zip(names, cell.run(None, feed), strict=True))
        for n in model.state_names:
            before[n].append(state[n][0, 0])
            state[n] = out[f"{n}_out"]
            after[n].append(state[n][0, 0])
        gates.append(out["gates"][0])
        logits.append(out["logits"][0, 0])
    stack = lambda d: {n: np.stack(v) for n, v in d.items()}  # noqa: E731
    return Trace(text, ids, stack(before), stack(after), np.stack(gates), np.stack(logits))


def backprop(model: Model, tr: Trace, upstream: dict[str, np.ndarray], glogits: np.ndarray):
    """Backward from the last step. upstream: state name -> (P, H) gradient w.r.t. the final state;
    glogits (P, V) gradient w.r.t. the last logits. Returns (gx_norm, gh_norm), each (T, P): the norm of
    the gradient w.r.t. the input embedding at each step, and w.r.t. the hidden state before each step."""
    cell = require_cell(model)
    steps, probes = len(tr.ids), glogits.shape[0]
    names = [o.name for o in cell.get_outputs()]
    grads = {n: upstream[n][:, None].astype(np.float32) for n in model.state_names}
    gx_norm, gh_norm = np.zeros((steps, probes)), np.zeros((steps, probes))
    no_logits = np.zeros((probes, 1, glogits.shape[1]), np.float32)
    for t in reversed(range(steps)):
        feed = {
            "tokens": np.full((probes, 1), tr.ids[t], np.int64),
            "glogits_in": glogits[:, None].astype(np.float32) if t == steps - 1 else no_logits,
        }
        for n in model.state_names:
            feed[f"{n}_in"] = np.repeat(tr.before[n][t][None, None], probes, axis=0)
            feed[f"g{n}_in"] = grads[n]
        out = dict(zip(names, cell.run(None, feed), strict=True))
        gx_norm[t] = np.linalg.norm(out["gx_out"], axis=-1)
        if not model.state_names:  # no state: nothing before this step can reach the prediction
            break
        grads = {n: out[f"g{n}_out"] for n in model.state_names}
        gh_norm[t] = np.linalg.norm(grads["h"][:, 0], axis=-1)
    return gx_norm, gh_norm


def memory_horizon(influence: np.ndarray, share: float = 0.9) -> int:
    """The distance back (0 = the last character) within which `share` of the total influence lies."""
    by_distance = influence[::-1]
    total = by_distance.sum()
    if not total > 0:
        return 0
    return int(np.searchsorted(np.cumsum(by_distance) / total, share - 1e-9))


def analyse(model: Model, text: str, probes: int = 8, seed: int = 0) -> Memory:
    text = normalize(text)[-MAX_ANALYSIS_CHARS:]
    tr = trace(model, text)
    steps, hidden = len(tr.ids), model.info.hidden_size
    probs = softmax(tr.logits[-1])
    saliency = -probs
    saliency[int(np.argmax(probs))] += 1.0  # d log p(top) / d logits
    rng = np.random.default_rng(seed)
    glogits = np.zeros((probes + 1, len(probs)), np.float32)
    glogits[0] = saliency
    upstream = {n: np.zeros((probes + 1, hidden), np.float32) for n in model.state_names}
    if "h" in upstream:
        upstream["h"][1:] = rng.standard_normal((probes, hidden))
    gx_norm, gh_norm = backprop(model, tr, upstream, glogits)
    influence = gx_norm[:, 0]
    norms = np.full(steps, np.nan)
    norms[0] = 1.0
    if model.state_names:
        # gh_norm[t] is w.r.t. the state before step t, i.e. h_(t-1): k = (T - 1) - (t - 1) steps back
        frob = np.sqrt(np.mean(gh_norm[1:, 1:] ** 2, axis=1)) / np.sqrt(hidden)
        norms[1:] = frob[::-1]
    return Memory(tr, influence, norms, memory_horizon(influence))
