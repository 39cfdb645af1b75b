"""Recurrent cells with backpropagation through time, in numpy: a vanilla tanh RNN, an LSTM and a GRU.

Weights are laid out as torch lays them out, and as the shipped models' analysis cells read them
(export/cells.py): w_ih (G*H, V), w_hh (G*H, H), b_ih and b_hh (G*H,), in G gate blocks of H rows each, in
core/contract.py's gate order; then the output head w_out (V, H), b_out (V,). The input is one-hot, so
x_t @ w_ih.T is column `token` of w_ih: no embedding to learn, and the vocabulary stays small (at most 96).

    hs, tape = cell.forward(params, tokens, state)   # tokens (B, T) int; hs (B, T, H) the state after each step
    grads, dh_norms = cell.backward(params, tape, dhs) # dhs (B, T, H) dL/dh_t from the output at each step

`dh_norms[t]` is ||dL/dh_t||, the whole gradient that reaches h_t through time (the output's share at t plus
everything flowing back from later steps), over the batch: the curve the Train page draws. Per step the
loops do only (B, G*H) work; the weight gradients are one matrix product each over all steps.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from core.contract import ARCHS, GATE_NAMES, STATE_NAMES

TRAINABLE = tuple(a for a in ARCHS if STATE_NAMES[a])  # the recurrent ones; the feed-forward net has no time
FORGET_BIAS = 1.0  # added to the LSTM's forget gate at init, so it starts out remembering (Gers et al., 2000)


def sigmoid(x: np.ndarray) -> np.ndarray:
    return 0.5 * (1.0 + np.tanh(0.5 * x))  # never overflows, unlike 1 / (1 + exp(-x)) in float32


def gate_slices(arch: str, hidden: int) -> dict[str, slice]:
    return {g: slice(k * hidden, (k + 1) * hidden) for k, g in enumerate(GATE_NAMES[arch])}


def init(arch: str, vocab_size: int, hidden: int, seed: int, dtype=np.float32) -> dict[str, np.ndarray]:
    """torch's initialisation: every weight and bias uniform in +-1/sqrt(H)."""
    if arch not in TRAINABLE:
        raise ValueError(f"{arch!r} cannot be trained here; trainable: {', '.join(TRAINABLE)}")
    rng = np.random.default_rng(seed)
    rows, bound = len(GATE_NAMES[arch]) * hidden, 1.0 / np.sqrt(hidden)
    shapes = {
        "w_ih": (rows, vocab_size),
        "w_hh": (rows, hidden),
        "b_ih": (rows,),
        "b_hh": (rows,),
        "w_out": (vocab_size, hidden),
        "b_out": (vocab_size,),
    }
    params = {name: rng.uniform(-bound, bound, shape).astype(dtype) for name, shape in shapes.items()}
    if arch == "lstm":
        params["b_ih"][gate_slices(arch, hidden)["forget"]] += FORGET_BIAS
    return params


@dataclass
class Tape:
    """What the backward pass needs from the forward pass."""

    tokens: np.ndarray  # (B, T)
    h0: np.ndarray  # (B, H)
    hs: np.ndarray  # (B, T, H)
    extra: dict  # per architecture: activated gates, cell states, ...


class Cell:
    arch: str

    def __init__(self, hidden: int):
        self.hidden = hidden
        self.slices = gate_slices(self.arch, hidden)

    def zero_state(self, batch: int, dtype=np.float32) -> dict[str, np.ndarray]:
        return {name: np.zeros((batch, self.hidden), dtype) for name in STATE_NAMES[self.arch]}

    @staticmethod
    def inputs(params: dict, tokens: np.ndarray) -> np.ndarray:
        """x_t @ w_ih.T + b_ih for every step at once, (B, T, G*H): a column of w_ih per one-hot input."""
        return params["w_ih"].T[tokens] + params["b_ih"]

    @staticmethod
    def weight_grads(params: dict, tape: Tape, dx: np.ndarray, dh: np.ndarray) -> dict[str, np.ndarray]:
        """The recurrent weights' gradients from the pre-activation gradients of every step: dx (B, T, G*H)
        for the input side (w_ih, b_ih), dh for the recurrent side (w_hh, b_hh); they differ only in the GRU."""
        batch, steps, rows = dx.shape
        h_prev = np.concatenate([tape.h0[:, None], tape.hs[:, :-1]], axis=1).reshape(batch * steps, -1)
        onehot = np.zeros((batch * steps, params["w_ih"].shape[1]), dx.dtype)
        onehot[np.arange(batch * steps), tape.tokens.reshape(-1)] = 1.0
        dx2, dh2 = dx.reshape(-1, rows), dh.reshape(-1, rows)
        return {"w_ih": dx2.T @ onehot, "b_ih": dx2.sum(0), "w_hh": dh2.T @ h_prev, "b_hh": dh2.sum(0)}


class RNN(Cell):
    """h_t = tanh(W_ih x_t + b_ih + W_hh h_(t-1) + b_hh)"""

    arch = "rnn"

    def forward(self, params, tokens, state):
        xw, w_hh_t, b_hh = self.inputs(params, tokens), params["w_hh"].T.copy(), params["b_hh"]
        h = state["h"]
        hs = np.empty((*tokens.shape, self.hidden), xw.dtype)
        for t in range(tokens.shape[1]):
            h = np.tanh(xw[:, t] + h @ w_hh_t + b_hh)
            hs[:, t] = h
        return hs, Tape(tokens, state["h"], hs, {}), {"h": h}

    def backward(self, params, tape, dhs):
        steps, w_hh = dhs.shape[1], params["w_hh"]
        da, norms = np.empty_like(dhs), np.empty(steps)
        dh = np.zeros_like(dhs[:, 0])
        for t in reversed(range(steps)):
            dh = dh + dhs[:, t]
            norms[t] = np.linalg.norm(dh)
            h = tape.hs[:, t]
            da[:, t] = dh * (1.0 - h * h)
            dh = da[:, t] @ w_hh
        return self.weight_grads(params, tape, da, da), norms


class LSTM(Cell):
    """c_t = f * c_(t-1) + i * g, h_t = o * tanh(c_t), with i, f, o sigmoids and g a tanh of one
    pre-activation W_ih x_t + b_ih + W_hh h_(t-1) + b_hh, split into gate blocks."""

    arch = "lstm"

    def forward(self, params, tokens, state):
        xw, w_hh_t, b_hh = self.inputs(params, tokens), params["w_hh"].T.copy(), params["b_hh"]
        s = self.slices
        h, c = state["h"], state["c"]
        batch, steps = tokens.shape
        acts = np.empty((batch, steps, len(s) * self.hidden), xw.dtype)
        cs, hs = np.empty((batch, steps, self.hidden), xw.dtype), np.empty((batch, steps, self.hidden), xw.dtype)
        for t in range(steps):
            a = xw[:, t] + h @ w_hh_t + b_hh
            act = acts[:, t]
            act[:] = sigmoid(a)
            act[:, s["candidate"]] = np.tanh(a[:, s["candidate"]])
            c = act[:, s["forget"]] * c + act[:, s["input"]] * act[:, s["candidate"]]
            h = act[:, s["output"]] * np.tanh(c)
            cs[:, t], hs[:, t] = c, h
        return hs, Tape(tokens, state["h"], hs, {"acts": acts, "cs": cs, "c0": state["c"]}), {"h": h, "c": c}

    def backward(self, params, tape, dhs):
        s, w_hh = self.slices, params["w_hh"]
        acts, cs = tape.extra["acts"], tape.extra["cs"]
        steps = dhs.shape[1]
        da, norms = np.empty_like(acts), np.empty(steps)
        dh, dc = np.zeros_like(dhs[:, 0]), np.zeros_like(dhs[:, 0])
        for t in reversed(range(steps)):
            dh = dh + dhs[:, t]
            norms[t] = np.linalg.norm(dh)
            act = acts[:, t]
            i, f, g, o = act[:, s["input"]], act[:, s["forget"]], act[:, s["candidate"]], act[:, s["output"]]
            c_prev = cs[:, t - 1] if t else tape.extra["c0"]
            tanh_c = np.tanh(cs[:, t])
            dc = dc + dh * o * (1.0 - tanh_c * tanh_c)
            d = da[:, t]
            d[:, s["input"]] = dc * g * i * (1.0 - i)
            d[:, s["forget"]] = dc * c_prev * f * (1.0 - f)
            d[:, s["candidate"]] = dc * i * (1.0 - g * g)
            d[:, s["output"]] = dh * tanh_c * o * (1.0 - o)
            dc = dc * f
            dh = d @ w_hh
        return self.weight_grads(params, tape, da, da), norms


class GRU(Cell):
    """torch's GRU: r and z sigmoids, n = tanh(x_n + r * (W_hn h + b_hn)), h_t = (1 - z) * n + z * h_(t-1)."""

    arch = "gru"

    def forward(self, params, tokens, state):
        xw, w_hh_t, b_hh = self.inputs(params, tokens), params["w_hh"].T.copy(), params["b_hh"]
        s = self.slices
        h = state["h"]
        batch, steps = tokens.shape
        acts = np.empty((batch, steps, len(s) * self.hidden), xw.dtype)
        hn = np.empty((batch, steps, self.hidden), xw.dtype)  # W_hn h + b_hn, which r scales
        hs = np.empty((batch, steps, self.hidden), xw.dtype)
        for t in range(steps):
            x, hh = xw[:, t], h @ w_hh_t + b_hh
            act = acts[:, t]
            act[:, s["reset"]] = sigmoid(x[:, s["reset"]] + hh[:, s["reset"]])
            act[:, s["update"]] = sigmoid(x[:, s["update"]] + hh[:, s["update"]])
            hn[:, t] = hh[:, s["candidate"]]
            act[:, s["candidate"]] = np.tanh(x[:, s["candidate"]] + act[:, s["reset"]] * hn[:, t])
            z = act[:, s["update"]]
            h = (1.0 - z) * act[:, s["candidate"]] + z * h
            hs[:, t] = h
        return hs, Tape(tokens, state["h"], hs, {"acts": acts, "hn": hn}), {"h": h}

    def backward(self, params, tape, dhs):
        s, w_hh = self.slices, params["w_hh"]
        acts, hn = tape.extra["acts"], tape.extra["hn"]
        steps = dhs.shape[1]
        dx, dhh, norms = np.empty_like(acts), np.empty_like(acts), np.empty(steps)
        dh = np.zeros_like(dhs[:, 0])
        for t in reversed(range(steps)):
            dh = dh + dhs[:, t]
            norms[t] = np.linalg.norm(dh)
            act = acts[:, t]
            r, z, n = act[:, s["reset"]], act[:, s["update"]], act[:, s["candidate"]]
            h_prev = tape.hs[:, t - 1] if t else tape.h0
            dn = dh * (1.0 - z) * (1.0 - n * n)
            dr = dn * hn[:, t] * r * (1.0 - r)
            dz = dh * (h_prev - n) * z * (1.0 - z)
            for d in (dx[:, t], dhh[:, t]):
                d[:, s["reset"]], d[:, s["update"]] = dr, dz
            dx[:, t][:, s["candidate"]] = dn
            dhh[:, t][:, s["candidate"]] = dn * r
            dh = dhh[:, t] @ w_hh + dh * z
        return self.weight_grads(params, tape, dx, dhh), norms


CELLS = {cell.arch: cell for cell in (RNN, GRU, LSTM)}


def make(arch: str, hidden: int) -> Cell:
    if arch not in CELLS:
        raise ValueError(f"{arch!r} cannot be trained here; trainable: {', '.join(TRAINABLE)}")
    return CELLS[arch](hidden)
