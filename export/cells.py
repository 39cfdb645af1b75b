"""One-step analysis cells: a trained model's step, its gates, and its backward step, in plain tensor ops.

The ONNX LSTM op returns only outputs and final states, and onnxruntime has no autograd, so for the
memory lab each recurrent model also ships `<id>.cell.onnx`, one time step written out by hand:

    inputs   tokens (B, 1) int64, h_in [c_in] (B, 1, H) state before the step,
             gh_in [gc_in] (B, 1, H) gradient w.r.t. the state after the step,
             glogits_in (B, 1, V) gradient w.r.t. this step's logits
    outputs  logits (B, 1, V), h_out [c_out] (B, 1, H), gates (B, G, H),
             gh_out [gc_out] (B, 1, H) gradient w.r.t. the state before the step,
             gx_out (B, E) gradient w.r.t. this step's input embedding

Running it forward over a text and then backward, one step at a time, is backpropagation through time:
the runtime reads off dh_T/dh_(T-k) and how much each earlier character moves the current prediction.
Gates: LSTM (input, forget, cell candidate, output), GRU (reset, update, candidate), RNN (the new state),
feed-forward (its hidden layer; it has no state inputs or outputs at all).
The tests check every backward step against torch autograd.
"""

from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F


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

    def head(self, h, glogits):
        """Logits from the new hidden state, and the gradient they send back into it."""
        return F.linear(h, self.w_out, self.b_out), glogits @ self.w_out


class FeedForwardCell(nn.Module):
    """No state in, none out: the gradient has no path to any earlier character."""

    state_names = ()

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

    def forward(self, tokens, glogits_in):
        h = torch.tanh(F.linear(self.embed[tokens[:, 0]], self.w, self.b))  # (B, H)
        logits = F.linear(h, self.w_out, self.b_out)
        da = (glogits_in[:, 0] @ self.w_out) * (1 - h * h)
        return logits[:, None], h[:, None], da @ self.w


class RNNCell(Cell):
    state_names = ("h",)

    def forward(self, tokens, h_in, gh_in, glogits_in):
        x, h = self.embed[tokens[:, 0]], h_in[:, 0]  # (B, E), (B, H)
        h_new = torch.tanh(F.linear(x, self.w_ih, self.b_ih) + F.linear(h, self.w_hh, self.b_hh))
        logits, g_from_logits = self.head(h_new, glogits_in[:, 0])
        da = (gh_in[:, 0] + g_from_logits) * (1 - h_new * h_new)  # through tanh
        return (logits[:, None], h_new[:, None], h_new[:, None], (da @ self.w_hh)[:, None], da @ self.w_ih)


class LSTMCell(Cell):
    state_names = ("h", "c")

    def forward(self, tokens, h_in, c_in, gh_in, gc_in, glogits_in):
        x, h, c = self.embed[tokens[:, 0]], h_in[:, 0], c_in[:, 0]
        a = F.linear(x, self.w_ih, self.b_ih) + F.linear(h, self.w_hh, self.b_hh)  # (B, 4H), torch's order i, f, g, o
        i, f, g, o = a.chunk(4, dim=-1)
        i, f, g, o = torch.sigmoid(i), torch.sigmoid(f), torch.tanh(g), torch.sigmoid(o)
        c_new = f * c + i * g
        tanh_c = torch.tanh(c_new)
        h_new = o * tanh_c
        logits, g_from_logits = self.head(h_new, glogits_in[:, 0])
        gh = gh_in[:, 0] + g_from_logits
        gc = gc_in[:, 0] + gh * o * (1 - tanh_c * tanh_c)
        da = torch.cat(
            [gc * g * i * (1 - i), gc * c * f * (1 - f), gc * i * (1 - g * g), gh * tanh_c * o * (1 - o)], -1
        )
        gates = torch.stack([i, f, g, o], 1)  # (B, 4, H)
        return (
            logits[:, None],
            h_new[:, None],
            c_new[:, None],
            gates,
            (da @ self.w_hh)[:, None],
            (gc * f)[:, None],
            da @ self.w_ih,
        )


class GRUCell(Cell):
    state_names = ("h",)

    def forward(self, tokens, h_in, gh_in, glogits_in):
        x, h = self.embed[tokens[:, 0]], h_in[:, 0]
        xi, hh = F.linear(x, self.w_ih, self.b_ih), F.linear(h, self.w_hh, self.b_hh)  # (B, 3H) each, order r, z, n
        x_r, x_z, x_n = xi.chunk(3, -1)
        h_r, h_z, h_n = hh.chunk(3, -1)
        r, z = torch.sigmoid(x_r + h_r), torch.sigmoid(x_z + h_z)
        n = torch.tanh(x_n + r * h_n)
        h_new = (1 - z) * n + z * h
        logits, g_from_logits = self.head(h_new, glogits_in[:, 0])
        g = gh_in[:, 0] + g_from_logits
        dn = g * (1 - z) * (1 - n * n)
        dz = g * (h - n) * z * (1 - z)
        dr = dn * h_n * r * (1 - r)
        dx = torch.cat([dr, dz, dn], -1)
        dh = torch.cat([dr, dz, dn * r], -1)
        gh_out = dh @ self.w_hh + g * z
        return logits[:, None], h_new[:, None], torch.stack([r, z, n], 1), gh_out[:, None], dx @ self.w_ih


CELLS = {"ff": FeedForwardCell, "rnn": RNNCell, "lstm": LSTMCell, "gru": GRUCell}


def build_cell(model) -> Cell:
    arch = model.config.arch
    if arch not in CELLS:
        raise ValueError(f"no analysis cell for {arch!r}; cells exist for {', '.join(CELLS)}")
    return CELLS[arch](model).eval()


def input_names(cell: Cell) -> list[str]:
    return ["tokens", *(f"{n}_in" for n in cell.state_names), *(f"g{n}_in" for n in cell.state_names), "glogits_in"]


def output_names(cell: Cell) -> list[str]:
    outs = ["logits", *(f"{n}_out" for n in cell.state_names)]
    outs += ["gates"] + [f"g{n}_out" for n in cell.state_names] + ["gx_out"]
    return outs
