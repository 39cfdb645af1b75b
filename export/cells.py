"""One-step analysis cells: a trained model's step, its gates, and its backward step, in plain tensor ops.

The ONNX LSTM op returns only outputs and final states, and onnxruntime has no autograd, so for the
memory lab each model also ships two one-step graphs written out by hand:

    <id>.cell.onnx  tokens (B, 1) int64, h_in [c_in] (B, 1, H) state before the step
                    -> logits (B, 1, V), h_out [c_out] (B, 1, H), gates (B, G, H)
    <id>.back.onnx  gates, h_in [c_in], gh_in [gc_in] (B, 1, H) gradient w.r.t. the state after the step,
                    glogits_in (B, 1, V) gradient w.r.t. this step's logits
                    -> gh_out [gc_out] (B, 1, H) gradient w.r.t. the state before the step,
                       gx_out (B, E) gradient w.r.t. this step's input embedding

The backward step starts from the gates the forward step stored, so it reads the weights once. Running the
forward over a text and the backward from its last character to its first is backpropagation through time:
the runtime reads off dh_T/dh_(T-k) and how much each earlier character moves the current prediction.
The gates, and the order in which they are stacked, are core/contract.py's GATE_NAMES: LSTM (input, forget,
candidate, output), GRU (reset, update, candidate), RNN (the new state), feed-forward (its hidden layer; it
has no state inputs or outputs at all).
The tests check every step, forward and backward, against torch autograd.
"""

from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F

from core.contract import GATE_NAMES, STATE_NAMES, by_gate, gate_index, in_gate_order


class Cell(nn.Module):
    """Shared by the recurrent cells: the embedding and the output head of the trained model."""

    def __init__(self, model):
        super().__init__()
        if model.config.layers != 1:
            raise ValueError("analysis cells cover one recurrent layer")
        rec = model.recurrent
        # buffers, not plain attributes: the exporter stores each once as an initializer, where a plain
        # tensor becomes a separate Constant at every use (the LSTM cell came out twice its size)
        for name, value in {
            "embed": model.embed.weight,
            "w_ih": rec.weight_ih_l0,
            "w_hh": rec.weight_hh_l0,
            "b_ih": rec.bias_ih_l0,
            "b_hh": rec.bias_hh_l0,
            "w_out": model.h_to_logits.weight,
            "b_out": model.h_to_logits.bias,
        }.items():
            self.register_buffer(name, value.detach().clone())  # embed (V, E), w_ih (G*H, E), w_hh (G*H, H)
        self.hidden_size = model.config.hidden_size

    def forward(self, tokens, *state):
        return self.step(tokens, *state)


def split(arch: str, a):
    """Pre-activations (B, G*H), laid out as the weights are (G blocks of H), by gate name."""
    return by_gate(arch, a.chunk(len(GATE_NAMES[arch]), -1))


def combined(cell, tokens, *state_and_grads):
    """One step forward, then its backward step from the gates it just computed (what the tests check)."""
    n = len(cell.state_names)
    state, upstream, glogits = state_and_grads[:n], state_and_grads[n : 2 * n], state_and_grads[-1]
    logits, *state_out, gates = cell.step(tokens, *state)
    return (logits, *state_out, gates, *cell.back(gates, *state, *upstream, glogits))


class BackStep(nn.Module):
    """The backward step alone, from stored gates: one pass over the weights instead of two."""

    def __init__(self, cell):
        super().__init__()
        self.cell = cell

    def forward(self, gates, *state_and_grads):
        return self.cell.back(gates, *state_and_grads)


class FeedForwardCell(nn.Module):
    """No state in, none out: the gradient has no path to any earlier character."""

    arch = "ff"
    state_names = STATE_NAMES[arch]
    hidden_size = 0

    def forward(self, tokens):
        return self.step(tokens)

    def __init__(self, model):
        super().__init__()
        for name, value in {
            "embed": model.embed.weight,
            "w": model.x_to_h.weight,
            "b": model.x_to_h.bias,
            "w_out": model.h_to_logits.weight,
            "b_out": model.h_to_logits.bias,
        }.items():
            self.register_buffer(name, value.detach().clone())

    def step(self, tokens):
        h = torch.tanh(F.linear(self.embed[tokens[:, 0]], self.w, self.b))  # (B, H)
        return F.linear(h, self.w_out, self.b_out)[:, None], h[:, None]

    def back(self, gates, glogits_in):
        h = by_gate(self.arch, gates.unbind(1))["hidden"]
        da = (glogits_in[:, 0] @ self.w_out) * (1 - h * h)
        return (da @ self.w,)


class RNNCell(Cell):
    arch = "rnn"
    state_names = STATE_NAMES[arch]

    def step(self, tokens, h_in):
        x, h = self.embed[tokens[:, 0]], h_in[:, 0]  # (B, E), (B, H)
        h_new = torch.tanh(F.linear(x, self.w_ih, self.b_ih) + F.linear(h, self.w_hh, self.b_hh))
        return F.linear(h_new, self.w_out, self.b_out)[:, None], h_new[:, None], h_new[:, None]

    def back(self, gates, h_in, gh_in, glogits_in):
        h_new = by_gate(self.arch, gates.unbind(1))["hidden"]
        da = (gh_in[:, 0] + glogits_in[:, 0] @ self.w_out) * (1 - h_new * h_new)  # through tanh
        return (da @ self.w_hh)[:, None], da @ self.w_ih


class LSTMCell(Cell):
    arch = "lstm"
    state_names = STATE_NAMES[arch]

    def step(self, tokens, h_in, c_in):
        x, h, c = self.embed[tokens[:, 0]], h_in[:, 0], c_in[:, 0]
        a = split("lstm", F.linear(x, self.w_ih, self.b_ih) + F.linear(h, self.w_hh, self.b_hh))
        i, f, o = torch.sigmoid(a["input"]), torch.sigmoid(a["forget"]), torch.sigmoid(a["output"])
        g = torch.tanh(a["candidate"])
        c_new = f * c + i * g
        h_new = o * torch.tanh(c_new)
        logits = F.linear(h_new, self.w_out, self.b_out)
        gates = torch.stack(in_gate_order("lstm", {"input": i, "forget": f, "candidate": g, "output": o}), 1)
        return logits[:, None], h_new[:, None], c_new[:, None], gates  # gates (B, 4, H)

    def back(self, gates, h_in, c_in, gh_in, gc_in, glogits_in):
        named = by_gate("lstm", gates.unbind(1))
        i, f, g, o = named["input"], named["forget"], named["candidate"], named["output"]
        c = c_in[:, 0]
        tanh_c = torch.tanh(f * c + i * g)
        gh = gh_in[:, 0] + glogits_in[:, 0] @ self.w_out
        gc = gc_in[:, 0] + gh * o * (1 - tanh_c * tanh_c)
        da = {  # the gradient w.r.t. each gate's pre-activation
            "input": gc * g * i * (1 - i),
            "forget": gc * c * f * (1 - f),
            "candidate": gc * i * (1 - g * g),
            "output": gh * tanh_c * o * (1 - o),
        }
        da = torch.cat(in_gate_order("lstm", da), -1)
        return (da @ self.w_hh)[:, None], (gc * f)[:, None], da @ self.w_ih


class GRUCell(Cell):
    arch = "gru"
    state_names = STATE_NAMES[arch]

    def step(self, tokens, h_in):
        x, h = self.embed[tokens[:, 0]], h_in[:, 0]
        xi = split("gru", F.linear(x, self.w_ih, self.b_ih))  # (B, H) per gate
        hh = split("gru", F.linear(h, self.w_hh, self.b_hh))
        r, z = torch.sigmoid(xi["reset"] + hh["reset"]), torch.sigmoid(xi["update"] + hh["update"])
        n = torch.tanh(xi["candidate"] + r * hh["candidate"])
        h_new = (1 - z) * n + z * h
        gates = torch.stack(in_gate_order("gru", {"reset": r, "update": z, "candidate": n}), 1)
        return F.linear(h_new, self.w_out, self.b_out)[:, None], h_new[:, None], gates

    def back(self, gates, h_in, gh_in, glogits_in):
        named = by_gate("gru", gates.unbind(1))
        r, z, n, h = named["reset"], named["update"], named["candidate"], h_in[:, 0]
        start = gate_index("gru", "candidate") * self.hidden_size
        rows = slice(start, start + self.hidden_size)
        h_n = F.linear(h, self.w_hh[rows], self.b_hh[rows])
        g = gh_in[:, 0] + glogits_in[:, 0] @ self.w_out
        dn = g * (1 - z) * (1 - n * n)
        dz = g * (h - n) * z * (1 - z)
        dr = dn * h_n * r * (1 - r)
        dx = torch.cat(in_gate_order("gru", {"reset": dr, "update": dz, "candidate": dn}), -1)
        dh = torch.cat(in_gate_order("gru", {"reset": dr, "update": dz, "candidate": dn * r}), -1)
        return (dh @ self.w_hh + g * z)[:, None], dx @ self.w_ih


CELLS = {cell.arch: cell for cell in (FeedForwardCell, RNNCell, GRUCell, LSTMCell)}


def build_cell(model) -> Cell:
    arch = model.config.arch
    if arch not in CELLS:
        raise ValueError(f"no analysis cell for {arch!r}; cells exist for {', '.join(CELLS)}")
    return CELLS[arch](model).eval()


def input_names(cell: Cell) -> list[str]:
    return ["tokens", *(f"{n}_in" for n in cell.state_names)]


def output_names(cell: Cell) -> list[str]:
    return ["logits", *(f"{n}_out" for n in cell.state_names), "gates"]


def back_input_names(cell: Cell) -> list[str]:
    names = ["gates", *(f"{n}_in" for n in cell.state_names), *(f"g{n}_in" for n in cell.state_names)]
    return names + ["glogits_in"]


def back_output_names(cell: Cell) -> list[str]:
    return [f"g{n}_out" for n in cell.state_names] + ["gx_out"]
