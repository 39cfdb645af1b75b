"""Recurrent cells with backpropagation through time, in numpy: a vanilla tanh RNN, an LSTM and a GRU.

Weights are laid out as torch lays them out, and as the shipped models' analysis cells read them
(export/cells.py): w_ih (G*H, V), w_hh (G*H, H), b_ih and b_hh (G*H,), in G gate blocks of H rows each, in
core/contract.py's gate order; then the output head w_out (V, H), b_out (V,). The input is one-hot, so
x_t @ w_ih.T is column `token` of w_ih: no embedding to learn, and the vocabulary stays small (at most 96).

    hs, tape, state = cell.forward(params, tokens, state)  # tokens (B, T) int; hs (T, B, H), time first
    grads, dh_norms = cell.backward(params, tape, dhs)     # dhs (T, B, H): dL/dh_t from the output at each t

`dh_norms[t]` is ||dL/dh_t||, the whole gradient that reaches h_t through time (the output's share at t plus
everything flowing back from later steps), over the batch: the curve the Train page draws.

Speed: arrays are time-major so each step reads contiguous (B, G*H) blocks; everything that does not need the
recurrence (input projections, activation derivatives, weight gradients, the norms) is done for all steps at
once outside the loops, which keep a handful of small operations per step.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from core.contract import ARCHS, GATE_NAMES, STATE_NAMES

TRAINABLE = tuple(a for a in ARCHS if STATE_NAMES[a])  # the recurrent ones; the feed-forward net has no time
FORGET_BIAS = 1.0  # added to the LSTM's forget gate at init, so it starts out remembering (Gers et al., 2000)


def sigmoid(x: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
    """1 / (1 + exp(-x)), in place when out is x; exp overflows to inf for x < -88 in float32, giving 0."""
    out = np.negative(x, out=out)
    np.exp(out, out=out)
    out += 1.0
    return np.reciprocal(out, out=out)


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
    """What the backward pass needs from the forward pass, feature-major: each step's arrays are (H, B)."""

    tokens: np.ndarray  # (T, B)
    h0: np.ndarray  # (H, B)
    hs: np.ndarray  # (T, H, B)
    extra: dict  # per architecture: activated gates (T, G*H, B), cell states, ...


class Cell:
    """Inside, every per-step array is feature-major, (G*H, B) or (H, B), so that each gate's block is a
    contiguous run of rows: elementwise work on a block is then 4-7x faster than on the strided columns of a
    (B, G*H) array (measured at B = 32, H = 64). The interface stays batch-first."""

    arch: str

    def __init__(self, hidden: int):
        self.hidden = hidden
        self.slices = gate_slices(self.arch, hidden)

    def zero_state(self, batch: int, dtype=np.float32) -> dict[str, np.ndarray]:
        return {name: np.zeros((batch, self.hidden), dtype) for name in STATE_NAMES[self.arch]}

    @staticmethod
    def inputs(w_ih: np.ndarray, tokens: np.ndarray, bias: np.ndarray) -> np.ndarray:
        """W_ih x_t + bias for every step at once, batch-major (T, B, G*H): a column of w_ih per one-hot input.
        The loops read step t as xw[t].T; a feature-major copy made here would cost 3-4 ms per batch at
        T = 50, B = 32, G*H = 256, against about 0.7 ms for the strided reads."""
        return np.take(np.ascontiguousarray((w_ih + bias[:, None]).T), tokens, axis=0)

    @staticmethod
    def begin(tokens: np.ndarray, state: dict) -> tuple[np.ndarray, dict]:
        """Tokens time-first and the state feature-major, both contiguous."""
        return np.ascontiguousarray(tokens.T), {k: np.ascontiguousarray(v.T) for k, v in state.items()}

    @staticmethod
    def end(hs: np.ndarray, state: dict) -> tuple[np.ndarray, dict]:
        """hs (T, B, H) and the state batch-first, for the head and the caller."""
        return np.ascontiguousarray(hs.transpose(0, 2, 1)), {k: np.ascontiguousarray(v.T) for k, v in state.items()}

    @staticmethod
    def weight_grads(params: dict, tape: Tape, dx: np.ndarray, dh: np.ndarray) -> dict[str, np.ndarray]:
        """The recurrent weights' gradients from the pre-activation gradients of every step: dx (T, G*H, B)
        for the input side (w_ih, b_ih), dh for the recurrent side (w_hh, b_hh); they differ only in the GRU.
        Each is one matrix product over all T * B samples, after one copy to (G*H, T * B)."""
        steps, rows, batch = dx.shape

        def samples(a: np.ndarray) -> np.ndarray:  # (T, K, B) -> (K, T * B)
            return np.ascontiguousarray(a.transpose(1, 0, 2)).reshape(a.shape[1], steps * batch)

        h_prev = np.concatenate([tape.h0[None], tape.hs[:-1]])  # (T, H, B)
        onehot = np.zeros((steps * batch, params["w_ih"].shape[1]), dx.dtype)  # beats np.add.at 8x
        onehot[np.arange(steps * batch), tape.tokens.reshape(-1)] = 1.0
        x = samples(dx)
        h = x if dh is dx else samples(dh)
        return {"w_ih": x @ onehot, "b_ih": x.sum(1), "w_hh": h @ samples(h_prev).T, "b_hh": h.sum(1)}

    @staticmethod
    def norms(dh_total: np.ndarray) -> np.ndarray:
        return np.sqrt(np.einsum("thb,thb->t", dh_total, dh_total, dtype=np.float64))


class RNN(Cell):
    """h_t = tanh(W_ih x_t + b_ih + W_hh h_(t-1) + b_hh)"""

    arch = "rnn"

    def forward(self, params, tokens, state):
        tokens, state = self.begin(tokens, state)
        xw = self.inputs(params["w_ih"], tokens, params["b_ih"] + params["b_hh"])
        w_hh, h, a = params["w_hh"], state["h"], np.empty_like(state["h"])
        hs = np.empty((len(tokens), *h.shape), xw.dtype)
        for t in range(len(tokens)):
            np.matmul(w_hh, h, out=a)
            np.add(a, xw[t].T, out=hs[t])
            h = np.tanh(hs[t], out=hs[t])
        out, final = self.end(hs, {"h": h})
        return out, Tape(tokens, state["h"], hs, {}), final

    def backward(self, params, tape, dhs):
        dhs = np.ascontiguousarray(dhs.transpose(0, 2, 1))
        w_hh_t = np.ascontiguousarray(params["w_hh"].T)
        da = 1.0 - tape.hs * tape.hs  # tanh's derivative at every step, then the pre-activation gradient
        total = np.empty_like(dhs)  # dL/dh_t
        dh = dhs[-1].copy()
        for t in reversed(range(len(dhs))):
            total[t] = dh
            da[t] *= dh
            if t:
                np.matmul(w_hh_t, da[t], out=dh)
                dh += dhs[t - 1]
        return self.weight_grads(params, tape, da, da), self.norms(total)


class LSTM(Cell):
    """c_t = f * c_(t-1) + i * g, h_t = o * tanh(c_t), with i, f, o sigmoids and g a tanh of one
    pre-activation W_ih x_t + b_ih + W_hh h_(t-1) + b_hh, split into gate blocks.

    The candidate's tanh is computed as 2 * sigmoid(2a) - 1, so one sigmoid covers all four blocks a step:
    its block of the weights and bias is doubled once per forward pass."""

    arch = "lstm"

    def forward(self, params, tokens, state):
        tokens, state = self.begin(tokens, state)
        s = self.slices
        doubled = np.ones((len(s) * self.hidden, 1), params["w_hh"].dtype)
        doubled[s["candidate"]] = 2.0
        bias = (params["b_ih"] + params["b_hh"]) * doubled[:, 0]
        xw = self.inputs(params["w_ih"] * doubled, tokens, bias)
        w_hh = params["w_hh"] * doubled
        steps, batch = tokens.shape
        acts = np.empty((steps, xw.shape[-1], batch), xw.dtype)  # pre-activations, then the gates in place
        cs, tanh_cs, hs = (np.empty((steps, self.hidden, batch), acts.dtype) for _ in range(3))
        h, c = state["h"], state["c"]
        a = np.empty(acts.shape[1:], acts.dtype)
        for t in range(steps):
            np.matmul(w_hh, h, out=a)
            act = np.add(a, xw[t].T, out=acts[t])
            sigmoid(act, out=act)
            g = act[s["candidate"]]
            g *= 2.0
            g -= 1.0
            np.multiply(act[s["forget"]], c, out=cs[t])
            cs[t] += act[s["input"]] * g
            c = cs[t]
            np.tanh(c, out=tanh_cs[t])
            h = np.multiply(act[s["output"]], tanh_cs[t], out=hs[t])
        extra = {"acts": acts, "cs": cs, "tanh_cs": tanh_cs, "c0": state["c"]}
        out, final = self.end(hs, {"h": h, "c": c})
        return out, Tape(tokens, state["h"], hs, extra), final

    def backward(self, params, tape, dhs):
        dhs = np.ascontiguousarray(dhs.transpose(0, 2, 1))
        s, w_hh_t = self.slices, np.ascontiguousarray(params["w_hh"].T)
        acts, cs, tanh_cs = tape.extra["acts"], tape.extra["cs"], tape.extra["tanh_cs"]
        i, f, g, o = acts[:, s["input"]], acts[:, s["forget"]], acts[:, s["candidate"]], acts[:, s["output"]]
        c_prev = np.concatenate([tape.extra["c0"][None], cs[:-1]])
        # everything but dh and dc, for all steps at once: d gate pre-activation = (dc or dh) * k
        k = np.empty_like(acts)
        k[:, s["input"]] = g * i * (1.0 - i)
        k[:, s["forget"]] = c_prev * f * (1.0 - f)
        k[:, s["candidate"]] = i * (1.0 - g * g)
        k[:, s["output"]] = tanh_cs * o * (1.0 - o)
        through_c = o * (1.0 - tanh_cs * tanh_cs)  # dc_t / dh_t's path: h = o * tanh(c)
        total, da = np.empty_like(dhs), k  # k becomes the pre-activation gradients in place
        dh, dc = dhs[-1].copy(), np.zeros_like(dhs[-1])
        for t in reversed(range(len(dhs))):
            total[t] = dh
            dc += dh * through_c[t]
            d = da[t]
            d[s["input"]] *= dc
            d[s["forget"]] *= dc
            d[s["candidate"]] *= dc
            d[s["output"]] *= dh
            dc *= f[t]
            if t:
                np.matmul(w_hh_t, d, out=dh)
                dh += dhs[t - 1]
        return self.weight_grads(params, tape, da, da), self.norms(total)


class GRU(Cell):
    """torch's GRU: r and z sigmoids, n = tanh(x_n + r * (W_hn h + b_hn)), h_t = (1 - z) * n + z * h_(t-1)."""

    arch = "gru"

    def __init__(self, hidden: int):
        super().__init__(hidden)
        s = self.slices  # reset and update are neighbouring blocks, so one sigmoid covers both
        self.rz = slice(min(s["reset"].start, s["update"].start), max(s["reset"].stop, s["update"].stop))
        if self.rz.stop - self.rz.start != 2 * hidden:
            raise ValueError("the GRU expects its reset and update gates in neighbouring blocks")

    def forward(self, params, tokens, state):
        tokens, state = self.begin(tokens, state)
        s, rz = self.slices, self.rz
        xw = self.inputs(params["w_ih"], tokens, params["b_ih"])
        w_hh, b_hh = params["w_hh"], params["b_hh"][:, None]
        steps, batch = tokens.shape
        acts = np.empty((steps, xw.shape[-1], batch), xw.dtype)
        hn = np.empty((steps, self.hidden, batch), acts.dtype)  # W_hn h + b_hn, which r scales
        hs = np.empty((steps, self.hidden, batch), acts.dtype)
        h, hh = state["h"], np.empty(acts.shape[1:], acts.dtype)
        for t in range(steps):
            np.matmul(w_hh, h, out=hh)
            hh += b_hh
            act, x = acts[t], xw[t].T
            np.add(x[rz], hh[rz], out=act[rz])
            sigmoid(act[rz], out=act[rz])
            r, z, n = act[s["reset"]], act[s["update"]], act[s["candidate"]]
            hn[t] = hh[s["candidate"]]
            np.multiply(r, hn[t], out=n)
            n += x[s["candidate"]]
            np.tanh(n, out=n)
            np.subtract(h, n, out=hs[t])  # h_t = n + z * (h - n)
            hs[t] *= z
            hs[t] += n
            h = hs[t]
        out, final = self.end(hs, {"h": h})
        return out, Tape(tokens, state["h"], hs, {"acts": acts, "hn": hn}), final

    def backward(self, params, tape, dhs):
        dhs = np.ascontiguousarray(dhs.transpose(0, 2, 1))
        s, w_hh_t = self.slices, np.ascontiguousarray(params["w_hh"].T)
        acts, hn = tape.extra["acts"], tape.extra["hn"]
        r, z, n = acts[:, s["reset"]], acts[:, s["update"]], acts[:, s["candidate"]]
        h_prev = np.concatenate([tape.h0[None], tape.hs[:-1]])
        dx = np.empty_like(acts)  # d pre-activation on the input side = dh * k, k for all steps at once
        dx[:, s["candidate"]] = (1.0 - z) * (1.0 - n * n)
        dx[:, s["reset"]] = dx[:, s["candidate"]] * hn * r * (1.0 - r)
        dx[:, s["update"]] = (h_prev - n) * z * (1.0 - z)
        total = np.empty_like(dhs)
        dhh = np.empty_like(acts)  # the recurrent side: the same, but the candidate's block is scaled by r
        dh = dhs[-1].copy()
        for t in reversed(range(len(dhs))):
            total[t] = dh
            d, e = dx[t], dhh[t]
            for block in s.values():
                d[block] *= dh
            np.multiply(d[s["candidate"]], r[t], out=e[s["candidate"]])
            e[self.rz] = d[self.rz]
            if t:
                dh *= z[t]
                dh += w_hh_t @ e
                dh += dhs[t - 1]
        return self.weight_grads(params, tape, dx, dhh), self.norms(total)


CELLS = {cell.arch: cell for cell in (RNN, GRU, LSTM)}


def make(arch: str, hidden: int) -> Cell:
    if arch not in CELLS:
        raise ValueError(f"{arch!r} cannot be trained here; trainable: {', '.join(TRAINABLE)}")
    return CELLS[arch](hidden)
