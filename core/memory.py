"""The memory lab's measurements, by backpropagation through time run one step at a time in onnxruntime.

Each model ships an analysis cell (one step forward, with its gates) and a backward step (export/cells.py).
`analyse` traces a text forward, recording the state before every step and the gates, then runs the
backward step from the last character to the first with a batch of upstream gradients:
- row 0 starts from the gradient of log p(current top guess): the norm of what reaches each earlier input
  embedding is how much that character moves the prediction (its influence);
- rows 1..P start from random Gaussian vectors on the last hidden state: the mean squared norm of what
  reaches h_(T-k) estimates ||dh_T/dh_(T-k)||_F^2 (Hutchinson's estimator), the quantity that vanishes or
  explodes through time.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from core.checks import SEED_MAX, integer
from core.contract import by_gate
from core.errors import InputError, ModelFileError
from core.models import Model, run_graph
from core.predict import softmax
from core.text import normalize

MAX_ANALYSIS_CHARS = 300  # the backward pass is one graph call per character and model
MAX_PROBES = 64  # random probes for the gradient-norm estimate


@dataclass(frozen=True)
class Trace:
    """A text run forward through a model's cell, one step at a time."""

    text: str
    ids: np.ndarray  # (T,)
    before: dict[str, np.ndarray]  # each state before each step, (T, H); empty for the feed-forward net
    after: dict[str, np.ndarray]  # each state after each step, (T, H)
    gates: np.ndarray  # (T, G, H), in core.contract.GATE_NAMES' order for the model's architecture
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
    """The fused model graph gives the hidden state after every step in one call; the cell, fed every
    step's previous hidden state as one batch, gives every step's gates in one more. Only the LSTM's cell
    state needs a loop, and that loop is elementwise: c_t = f_t * c_(t-1) + i_t * g_t."""
    cell = require_cell(model)
    text = normalize(text)
    if not text:
        raise InputError("an empty text has nothing to trace")
    ids = model.info.vocab.encode(text)
    steps, hidden = len(ids), model.info.hidden_size
    feed = {"tokens": ids[:, None], "glogits_in": np.zeros((steps, 1, len(model.info.vocab)), np.float32)}
    before, after, logits = {}, {}, None
    if model.state_names:
        fused = model.run(ids[None])
        after["h"], logits = fused["hidden"][0], fused["logits"][0]  # (T, H), (T, V)
        before["h"] = np.concatenate([np.zeros((1, hidden), np.float32), after["h"][:-1]])
    for name in model.state_names:
        feed[f"{name}_in"] = np.zeros((steps, 1, hidden), np.float32)
        feed[f"g{name}_in"] = np.zeros((steps, 1, hidden), np.float32)
    if "h" in before:
        feed["h_in"] = before["h"][:, None]
    out = run_graph(cell, feed)
    gates = out["gates"]  # (T, G, H): they depend on x_t and h_(t-1) only, never on c
    if "c" in model.state_names:
        c, cells = np.zeros(hidden, np.float32), []
        named = by_gate(model.info.arch, gates.transpose(1, 0, 2))  # gate name -> (T, H)
        for i, f, g in zip(named["input"], named["forget"], named["candidate"], strict=True):
            c = f * c + i * g
            cells.append(c)
        after["c"] = np.stack(cells)
        before["c"] = np.concatenate([np.zeros((1, hidden), np.float32), after["c"][:-1]])
    # the cell's logits are right only without state: it was fed zero cell states above
    return Trace(text, ids, before, after, gates, out["logits"][:, 0] if logits is None else logits)


def backprop(model: Model, tr: Trace, upstream: dict[str, np.ndarray], glogits: np.ndarray):
    """Backward from the last step. upstream: state name -> (P, H) gradient w.r.t. the final state;
    glogits (P, V) gradient w.r.t. the last logits. Returns (gx_norm, gh_norm), each (T, P): the norm of
    the gradient w.r.t. the input embedding at each step, and w.r.t. the hidden state before each step."""
    require_cell(model)
    steps, probes = len(tr.ids), glogits.shape[0]
    grads = {n: upstream[n][:, None].astype(np.float32) for n in model.state_names}
    gx_norm, gh_norm = np.zeros((steps, probes)), np.zeros((steps, probes))
    no_logits = np.zeros((probes, 1, glogits.shape[1]), np.float32)
    for t in reversed(range(steps)):
        feed = {
            "gates": np.repeat(tr.gates[t][None], probes, axis=0),
            "glogits_in": glogits[:, None].astype(np.float32) if t == steps - 1 else no_logits,
        }
        for n in model.state_names:
            feed[f"{n}_in"] = np.repeat(tr.before[n][t][None, None], probes, axis=0)
            feed[f"g{n}_in"] = grads[n]
        out = run_graph(model.back, feed)
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


def analyse(model: Model, text: str, probes: int = 4, seed: int = 0) -> Memory:
    """Influence, gradient norms through time and memory horizon of `model` on the last MAX_ANALYSIS_CHARS
    characters of `text`; `probes` random vectors (1..MAX_PROBES) estimate the norms."""
    probes = integer("probes", probes, 1, MAX_PROBES)
    seed = integer("seed", seed, 0, SEED_MAX)
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
