"""From logits to what a learner sees: distributions, top-k, surprisal, and sampled continuations.

The one place where softmax, temperature and sampling live; models only ever return raw logits.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from core.errors import InputError
from core.models import Model
from core.text import normalize


def softmax(logits: np.ndarray, temperature: float = 1.0) -> np.ndarray:
    if not temperature > 0:
        raise InputError(f"temperature must be positive, got {temperature}")
    z = np.asarray(logits, dtype=np.float64) / temperature
    z = z - z.max(axis=-1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=-1, keepdims=True)


@dataclass(frozen=True)
class Reading:
    """A model's pass over a text. logits[t] scores the character after text[: t + 1]."""

    text: str  # the normalised text that was read
    ids: np.ndarray  # (T,) token ids
    logits: np.ndarray  # (T, V)
    state: dict  # the state after the last character, to carry on from
    hidden: np.ndarray | None  # (T, H) the top layer's activity, where the graph exports it

    def next_probs(self, temperature: float = 1.0) -> np.ndarray:
        """Distribution of the character after the whole text."""
        if not len(self.ids):
            raise InputError("an empty text has no next character to predict")
        return softmax(self.logits[-1], temperature)

    def surprisal_bits(self) -> np.ndarray:
        """(T,) -log2 p(text[t] | text[:t]); NaN at t = 0, which no model was asked to predict."""
        bits = np.full(len(self.ids), np.nan)
        if len(self.ids) > 1:
            probs = softmax(self.logits[:-1])
            bits[1:] = -np.log2(probs[np.arange(len(self.ids) - 1), self.ids[1:]])
        return bits


def read(model: Model, text: str, previous: Reading | None = None) -> Reading:
    """Run `text` through `model`. If `previous` read a prefix of it, only the new characters are run,
    starting from the state it ended in: one step per keystroke while the learner types on."""
    text = normalize(text)
    ids = model.info.vocab.encode(text)
    start, state = 0, None
    if previous is not None and 0 < len(previous.text) <= len(text) and text.startswith(previous.text):
        start, state = len(previous.text), previous.state
    out = model.run(ids[None, start:], state)
    logits = out["logits"][0]
    hidden = out.get("hidden")
    hidden = hidden[0] if hidden is not None else None
    if start:
        logits = np.concatenate([previous.logits, logits])
        if hidden is not None and previous.hidden is not None:
            hidden = np.concatenate([previous.hidden, hidden])
    new_state = {n: out[f"{n}_out"] for n in model.state_names}
    return Reading(text, ids, logits, new_state, hidden)


def top_k(probs: np.ndarray, k: int = 5) -> list[tuple[int, float]]:
    """The k most likely token ids with their probabilities, most likely first."""
    k = max(1, min(k, len(probs)))
    ids = np.argpartition(-probs, k - 1)[:k]
    ids = ids[np.argsort(-probs[ids], kind="stable")]
    return [(int(i), float(probs[i])) for i in ids]


def sample(
    model: Model, prompt: str, length: int = 200, temperature: float = 0.8, k: int | None = None, seed: int = 0
) -> str:
    """One-to-many: continue `prompt` for `length` characters. Same seed, same text."""
    if length < 0:
        raise InputError("length must be zero or more")
    rng = np.random.default_rng(seed)
    vocab = model.info.vocab
    reading = read(model, prompt or "\n")  # no start token was trained: an empty prompt starts a line
    logits, state = reading.logits[-1], reading.state
    out = []
    for _ in range(length):
        probs = softmax(logits, temperature)
        probs[vocab.unk_id] = 0.0  # never write the unknown token as if it were a character
        if k:
            keep = [i for i, _ in top_k(probs, k)]
            probs[np.setdiff1d(np.arange(len(probs)), keep)] = 0.0
        token = int(rng.choice(len(probs), p=probs / probs.sum()))
        out.append(vocab.tokens[token])
        step = model.run(np.array([[token]], dtype=np.int64), state)
        logits, state = step["logits"][0, -1], {n: step[f"{n}_out"] for n in model.state_names}
    return "".join(out)
