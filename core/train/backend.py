"""Models trained in this session, run through the same predict path as the shipped ones.

`TrainedModel` is a core.contract.LanguageModel, as core.models.Model is: the predict path and the pages use
either alike. It runs the engine's numpy cells instead of onnxruntime; it has no analysis cell (the memory
lab does not list it) and no stepper (the lookahead runs its rows as one batch).

`Registry` finds them by an opaque token (the page's fast-path token, so the keystroke route finds them
too), but does not own them: the session does. `put` returns a `Held` that the page keeps in its
st.session_state, and the registry keeps only a weak reference to it, so the models are freed when Streamlit
drops the session's state after the session ends. Beyond that, at most MAX_SESSIONS sessions are found, the
least recently used dropped first, and any left unused for IDLE seconds.
"""

from __future__ import annotations

import math
import threading
import time
import weakref
from dataclasses import dataclass

import numpy as np

from core.checks import checked_tokens
from core.contract import STATE_NAMES, Vocab
from core.errors import InputError
from core.train import cells, loss

MAX_SESSIONS = 64  # sessions holding trained models at once, per server process
MAX_PER_SESSION = 3  # one per trainable architecture
IDLE = 3600.0  # seconds a session's trained models are kept after their last use


@dataclass(frozen=True)
class TrainedInfo:
    id: str
    arch: str
    vocab: Vocab
    hidden_size: int
    params: int
    training_steps: int
    training_seconds: float
    test_nats_per_char: float  # on the held-out tail of its text (NaN if it was never measured)
    layers: int = 1
    task: str = "text"
    trained_here: bool = True  # the page marks these as session-only (core.contract.ModelInfo)

    @property
    def state_names(self) -> tuple[str, ...]:
        return STATE_NAMES[self.arch]


class TrainedModel:
    """A core.contract.LanguageModel on the engine's numpy cells."""

    cell = back = None  # no analysis cell: the memory lab skips it
    cell_problem = "a model trained on the Train page has no analysis cell"
    stepper = None  # the lookahead's rows run as one batch through run()

    def __init__(
        self, model_id: str, weights: dict, steps: int = 0, seconds: float = 0.0, heldout_bits: float | None = None
    ):
        arch, tokens, params = weights["arch"], weights["vocab"], weights["params"]
        hidden = params["w_hh"].shape[1]
        self.params = {k: np.asarray(v, np.float32) for k, v in params.items()}
        nats = float("nan") if heldout_bits is None else heldout_bits * math.log(2)
        size = sum(v.size for v in self.params.values())
        self.info = TrainedInfo(model_id, arch, Vocab(tokens), hidden, size, steps, seconds, nats)
        if self.params["w_out"].shape[0] != len(tokens):
            raise InputError(f"{model_id}: its weights score {self.params['w_out'].shape[0]} tokens, not {len(tokens)}")
        self.state_names = list(STATE_NAMES[arch])
        self.recurrence = cells.make(arch, hidden)  # the engine's cell (`cell` is the analysis cell: none)

    @property
    def id(self) -> str:
        return self.info.id

    def zero_state(self, batch_size: int = 1) -> dict[str, np.ndarray]:
        return {n: np.zeros((batch_size, 1, self.info.hidden_size), np.float32) for n in self.state_names}

    def run(self, tokens: np.ndarray, state: dict[str, np.ndarray] | None = None) -> dict[str, np.ndarray]:
        """As core.models.Model.run: logits (batch, time, vocab), each state after, and the hidden states."""
        tokens = checked_tokens(tokens, len(self.info.vocab))
        state = state or self.zero_state(tokens.shape[0])
        if tokens.shape[1] == 0:
            return {"logits": np.zeros((tokens.shape[0], 0, len(self.info.vocab)), np.float32)} | {
                f"{n}_out": np.asarray(state[n], np.float32) for n in self.state_names
            }
        flat = {n: np.asarray(state[n], np.float32)[:, 0] for n in self.state_names}
        hs, _, after = self.recurrence.forward(self.params, tokens, flat)
        out = {"logits": loss.batch_logits(self.params, hs), "hidden": hs.transpose(1, 0, 2)}
        return out | {f"{n}_out": after[n][:, None] for n in self.state_names}


class Held:
    """A session's trained models; the session keeps this object, the registry only points at it."""

    def __init__(self, models: dict[str, TrainedModel]):
        self.models = dict(models)


class Registry:
    def __init__(self, max_sessions: int = MAX_SESSIONS, idle: float = IDLE):
        self.max_sessions, self.idle = max_sessions, idle
        self.sessions: dict[str, tuple[float, weakref.ref]] = {}
        self.lock = threading.Lock()

    def put(self, token: str, models: dict[str, TrainedModel]) -> Held:
        """Keep the returned Held alive (in the session's state) for as long as the models should be found."""
        if len(models) > MAX_PER_SESSION:
            raise InputError(f"a session keeps at most {MAX_PER_SESSION} trained models")
        held = Held(models)
        with self.lock:
            self.sessions.pop(token, None)
            self.sessions[token] = (time.monotonic(), weakref.ref(held))
            self.prune()
        return held

    def get(self, token: str | None) -> dict[str, TrainedModel]:
        with self.lock:
            self.prune()
            if token not in self.sessions:
                return {}
            _, ref = self.sessions.pop(token)
            held = ref()
            if held is None:  # its session went a moment ago
                return {}
            self.sessions[token] = (time.monotonic(), ref)  # the most recently used go last
            return dict(held.models)

    def drop(self, token: str | None) -> None:
        with self.lock:
            self.sessions.pop(token, None)

    def prune(self) -> None:
        now = time.monotonic()
        for token in [t for t, (used, ref) in self.sessions.items() if now - used > self.idle or ref() is None]:
            del self.sessions[token]
        while len(self.sessions) > self.max_sessions:
            del self.sessions[next(iter(self.sessions))]


REGISTRY = Registry()
