"""Every architecture Unrolled ships, side by side, with one call shape and one state convention.

    logits, state, hidden = model(tokens, state)

tokens (B, T) int64; logits (B, T, V) before softmax; hidden (B, T, H) the top layer's activity at each
step; state a tuple of float tensors, each (B, layers, H), zeros meaning a fresh start (`()` for the
feed-forward net, which has none). Batch comes first everywhere, so the ONNX graphs, the runtime and the
app never need to know how torch lays out recurrent state internally.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn as nn

from core.contract import STATE_NAMES, gate_index


@dataclass(frozen=True)
class ModelConfig:
    arch: str  # one of core.contract.ARCHS
    vocab_size: int  # number of tokens, the unknown token included
    hidden_size: int = 256  # width of the recurrent state (or of the feed-forward hidden layer)
    embed_size: int = 64  # width of the character embedding fed to the first layer
    layers: int = 1  # stacked recurrent layers (the feed-forward net always has one hidden layer)
    forget_bias: float = 0.0  # LSTM only: added to the forget gate's bias at init (Gers et al., 2000)


# -----------------------------------------------------------------------------
# feed-forward: sees only the current character. The counter-example with no memory.


class FeedForward(nn.Module):
    state_names = STATE_NAMES["ff"]

    def __init__(self, config: ModelConfig):
        super().__init__()
        self.config = config
        self.embed = nn.Embedding(config.vocab_size, config.embed_size)
        self.x_to_h = nn.Linear(config.embed_size, config.hidden_size)
        self.h_to_logits = nn.Linear(config.hidden_size, config.vocab_size)

    def init_state(self, batch_size: int) -> tuple[torch.Tensor, ...]:
        return ()

    def forward(self, tokens, state=()):
        hidden = torch.tanh(self.x_to_h(self.embed(tokens)))  # (B, T, H)
        return self.h_to_logits(hidden), (), hidden


# -----------------------------------------------------------------------------
# recurrent: vanilla tanh RNN, LSTM and GRU share everything but torch's layer and the state it carries.


class Recurrent(nn.Module):
    def __init__(self, config: ModelConfig):
        super().__init__()
        self.config = config
        self.state_names = STATE_NAMES[config.arch]
        self.embed = nn.Embedding(config.vocab_size, config.embed_size)
        layer = getattr(nn, config.arch.upper())  # torch names its layers after them: nn.RNN, nn.GRU, nn.LSTM
        self.recurrent = layer(config.embed_size, config.hidden_size, config.layers, batch_first=True)
        if config.arch == "lstm" and config.forget_bias:
            start = gate_index("lstm", "forget") * config.hidden_size  # the weights' gate blocks are the contract's
            with torch.no_grad():
                for name, bias in self.recurrent.named_parameters():
                    if name.startswith("bias_ih"):
                        bias[start : start + config.hidden_size] += config.forget_bias
        self.h_to_logits = nn.Linear(config.hidden_size, config.vocab_size)

    def init_state(self, batch_size: int) -> tuple[torch.Tensor, ...]:
        shape = (batch_size, self.config.layers, self.config.hidden_size)
        return tuple(torch.zeros(shape) for _ in self.state_names)

    def forward(self, tokens, state=None):
        if state is None:
            state = self.init_state(tokens.shape[0])
        torch_state = tuple(s.transpose(0, 1).contiguous() for s in state)  # (layers, B, H) for torch
        if len(torch_state) == 1:
            torch_state = torch_state[0]
        hidden, torch_state = self.recurrent(self.embed(tokens), torch_state)  # hidden (B, T, H)
        if isinstance(torch_state, torch.Tensor):
            torch_state = (torch_state,)
        state = tuple(s.transpose(0, 1) for s in torch_state)  # back to (B, layers, H)
        return self.h_to_logits(hidden), state, hidden


# -----------------------------------------------------------------------------


def build(config: ModelConfig) -> nn.Module:
    if config.arch not in STATE_NAMES:
        raise ValueError(f"unknown architecture {config.arch!r}; valid ones: {', '.join(STATE_NAMES)}")
    return Recurrent(config) if STATE_NAMES[config.arch] else FeedForward(config)


def count_params(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())
