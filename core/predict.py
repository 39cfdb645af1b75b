"""From logits to what a learner sees: distributions, the likeliest guesses, surprisal, and sampled
continuations. Models only ever return raw logits; the rules that turn them into probabilities, a ranking and
a drawn character are core/sampling.py's, which the Train page's numpy models share. (The lookahead's step
graph, core/step.py, ranks its rows' guesses itself because it is faster there.)
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass, field

import numpy as np

from core import sampling, step
from core.checks import SEED_MAX, integer, number
from core.contract import LanguageModel
from core.errors import InputError
from core.text import normalize

# 0.01 already picks the top guess almost always; far smaller ones divide the scores into infinities (5e-324
# gave NaN probabilities), and above 100 every character is about as likely as any other.
MIN_TEMPERATURE, MAX_TEMPERATURE = 0.01, 100.0
MAX_GENERATE = 2000  # characters one sample() call writes at most (the page asks for up to 400)


def softmax(logits: np.ndarray, temperature: float = 1.0) -> np.ndarray:
    temperature = number("temperature", temperature, MIN_TEMPERATURE, MAX_TEMPERATURE)
    return sampling.distributions(np.asarray(logits, dtype=np.float64) / temperature)


# p is floored before -log2 p at float64's smallest normal number: a probability that underflowed to 0 reads as
# ~1022 bits, not infinity, which JSON (and so the page) cannot carry.
MIN_PROBABILITY = float(np.finfo(np.float64).tiny)


def surprisal(p: np.ndarray) -> np.ndarray:
    """-log2 p in bits, for probabilities from softmax."""
    return -np.log2(np.maximum(p, MIN_PROBABILITY))


CHECKPOINT_EVERY = 32  # characters between saved states: a backspace or a late edit re-reads at most this many


@dataclass(frozen=True)
class Reading:
    """A model's pass over a text. logits[t] scores the character after text[: t + 1]."""

    text: str  # the normalised text that was read
    ids: np.ndarray  # (T,) token ids
    logits: np.ndarray  # (T, V)
    state: dict  # the state after the last character, to carry on from
    checkpoints: dict = field(default_factory=dict, repr=False)  # position -> state after that many characters
    # what the pages show of each position, carried from keystroke to keystroke: read() always sets them
    bits: np.ndarray | None = field(default=None, repr=False)  # (T,) surprisal_bits()
    guesses: np.ndarray | None = field(default=None, repr=False)  # (T,) the likeliest token after each position
    guess_p: np.ndarray | None = field(default=None, repr=False)  # (T,) its probability
    probs: np.ndarray | None = field(default=None, repr=False)  # (V,) next_probs(); None for an empty text
    # (ids, p): the likeliest next tokens, most likely first, and their probabilities, as far as the step that
    # made this reading ranked them (core.step's TopK); None where nothing ranked them
    ranked: tuple | None = field(default=None, repr=False)
    # token id -> (outputs, row): that token's step is row `row` of core.step.next_steps()'s outputs. Filled by
    # lookahead(), so the key that comes next, when it is one of the lookahead's rows, is read without running
    # the model again
    ahead: dict = field(default_factory=dict, repr=False)

    def next_probs(self, temperature: float = 1.0) -> np.ndarray:
        """Distribution of the character after the whole text."""
        if not len(self.ids):
            raise InputError("an empty text has no next character to predict")
        if temperature == 1.0:
            return self.probs.copy()
        return softmax(self.logits[-1], temperature)

    def likeliest(self, top: int = 5) -> tuple[np.ndarray, np.ndarray]:
        """The `top` likeliest next token ids, most likely first (ties to the lower id), and their probabilities:
        top_k() of next_probs() as two arrays, from the ranking the step already made where it ranked as many."""
        if self.ranked is not None and len(self.ranked[0]) >= top:
            ids, p = self.ranked
            return ids[:top], p[:top]
        ids, p = sampling.ranked(self.probs[None], top)
        return ids[0], p[0]

    def surprisal_bits(self) -> np.ndarray:
        """(T,) -log2 p(text[t] | text[:t]); NaN at t = 0, which no model was asked to predict."""
        return self.bits.copy()


def tally(logits: np.ndarray, ids: np.ndarray, start: int = 0, previous: Reading | None = None) -> dict:
    """A reading's per-position facts from its logits (T, V): `bits` (each character's surprisal, NaN at 0),
    `guesses` and `guess_p` (the top guess after each position, ties to the lower id, and its probability) and
    `probs` (the distribution after the last). Positions before `start` are `previous`'s: a keystroke at the
    end computes two softmax rows, not one per character typed. Surprisal over the whole text was the
    largest Python cost of a fast-path reply at 120 characters (py-spy under `python -m bench.load`), and a
    reply is many small numpy calls, so this makes few of them."""
    if not len(ids):
        return {"bits": np.empty(0), "guesses": np.empty(0, np.int64), "guess_p": np.empty(0), "probs": None}
    if previous is None or start < 1:
        start = 0
    first = max(0, start - 1)  # row t - 1 predicts ids[t]
    probs = softmax(logits[first:])  # (T - first, V)
    guesses = probs.argmax(axis=1)
    guess_p = probs[np.arange(len(guesses)), guesses]
    # bits of positions first + 1 .. T - 1, from rows first .. T - 2
    bits = surprisal(probs[np.arange(len(guesses) - 1), ids[first + 1 :]])
    if start:
        bits = np.concatenate([previous.bits[:start], bits])
        guesses = np.concatenate([previous.guesses[:first], guesses])
        guess_p = np.concatenate([previous.guess_p[:first], guess_p])
    else:
        bits = np.concatenate([[np.nan], bits])
    return {"bits": bits, "guesses": guesses, "guess_p": guess_p, "probs": probs[-1]}


def read(model: LanguageModel, text: str, previous: Reading | None = None) -> Reading:
    """Run `text` through `model`, reusing `previous` up to the last checkpoint before the first changed
    character: typing at the end runs one step, a backspace at most CHECKPOINT_EVERY."""
    text = normalize(text)
    vocab = model.info.vocab
    appended = previous is not None and text.startswith(previous.text)
    ids = np.concatenate([previous.ids, vocab.ids(text[len(previous.text) :])]) if appended else vocab.ids(text)
    if appended and len(ids) == len(previous.ids) + 1:
        ahead = previous.ahead.get(int(ids[-1]))
        if ahead is None and len(previous.ids) and model.stepper is not None:
            # a key the lookahead did not cover (or a reply that left the lookahead out): one row of the
            # same step, cheaper than a run of the model's own graph
            ahead = step.next_steps(model, previous.state, ids[-1:], 1), 0
        if ahead is not None:
            return extended(previous, text, ids, *ahead, model.state_names)
    start, state, checkpoints = 0, None, {}
    if previous is not None:
        same = len(os.path.commonprefix([previous.text, text]))
        start = max((p for p in previous.checkpoints if p <= same), default=0)
        state = previous.checkpoints.get(start)
        # keep the regular checkpoints and the one run from: one state per 32 characters, not per keystroke
        checkpoints = {p: s for p, s in previous.checkpoints.items() if p % CHECKPOINT_EVERY == 0 and p < start}
        checkpoints[start] = state
    logits = [previous.logits[:start]] if start else []
    position = start
    while position < len(ids) or not logits:
        end = min(len(ids), (position // CHECKPOINT_EVERY + 1) * CHECKPOINT_EVERY)
        out = model.run(ids[None, position:end], state)
        state = {n: out[f"{n}_out"] for n in model.state_names}
        logits.append(out["logits"][0])
        position = end
        checkpoints[position] = state
    logits = np.concatenate(logits)
    return Reading(text, ids, logits, state, checkpoints, **tally(logits, ids, start, previous))


def extended(previous: Reading, text: str, ids: np.ndarray, out: dict, r: int, state_names: list[str]) -> Reading:
    """`previous` read one token further from row `r` of a step (core.step.next_steps()'s outputs) the lookahead
    already ran: what read() would return, with the same checkpoints (every CHECKPOINT_EVERY, the one it ran
    from, the end)."""
    end = len(previous.ids)
    checkpoints = {p: c for p, c in previous.checkpoints.items() if p % CHECKPOINT_EVERY == 0 and p < end}
    checkpoints[end] = previous.state
    checkpoints[end + 1] = state = {name: out[f"{name}_out"][r : r + 1] for name in state_names}
    all_logits = np.concatenate([previous.logits, out["logits"][r]])
    if not end:  # nothing before: no distribution to take the new character's surprisal from
        return Reading(text, ids, all_logits, state, checkpoints, **tally(all_logits, ids, end, previous))
    # tally() for one more position from what the step already made: the row's distribution and its top
    # guesses, and the new character's surprisal from the distribution `previous` holds
    top_ids, top_p = out["top_ids"][r], out["top_p"][r]
    bit = -math.log2(max(float(previous.probs[ids[-1]]), MIN_PROBABILITY))
    return Reading(
        text,
        ids,
        all_logits,
        state,
        checkpoints,
        bits=np.append(previous.bits, bit),
        guesses=np.append(previous.guesses, top_ids[0]),
        guess_p=np.append(previous.guess_p, top_p[0]),
        probs=out["probs"][r],
        ranked=(top_ids, top_p),
    )


def lookahead(
    model: LanguageModel, reading: Reading, top: int = 5, rows: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """The `top` likeliest next characters after the text plus each of `rows` (token ids; default every token),
    in one batched step from the reading's state: ids (R, top) and probabilities (R, top), row r for the text
    followed by token rows[r]. With it the page shows the right predictions the moment a key lands, before the
    server has read that key."""
    vocab_size = len(model.info.vocab)
    tokens = np.arange(vocab_size, dtype=np.int64) if rows is None else np.asarray(rows, dtype=np.int64)
    listed = tokens.tolist()  # checked in Python: a reply's numpy calls on 16 numbers cost more than the work
    if tokens.ndim != 1 or not listed or min(listed) < 0 or max(listed) >= vocab_size:
        raise InputError(f"lookahead rows are token ids from 0 to {vocab_size - 1}")
    out = step.steps(model, reading.state, tokens, top)
    # kept for the key that comes next (read() takes its row from here); rows are sliced only when used
    reading.ahead.update((token, (out, r)) for r, token in enumerate(listed))
    return out["top_ids"], out["top_p"]


def top_k(probs: np.ndarray, top: int = 5) -> list[tuple[int, float]]:
    """The `top` most likely token ids with their probabilities, most likely first."""
    ids, p = sampling.ranked(probs[None], max(1, min(top, len(probs))))
    return list(zip(ids[0].tolist(), p[0].tolist(), strict=True))


def sample(
    model: LanguageModel,
    prompt: str,
    length: int = 200,
    temperature: float = 0.8,
    top: int | None = None,
    seed: int = 0,
) -> str:
    """One-to-many: continue `prompt` for `length` characters (at most MAX_GENERATE), drawing each from the `top`
    likeliest (None: from all). Same seed, same text."""
    length = integer("length", length, 0, MAX_GENERATE)
    temperature = number("temperature", temperature, MIN_TEMPERATURE, MAX_TEMPERATURE)
    if top is not None:
        top = integer("top", top, 1, len(model.info.vocab))
    rng = np.random.default_rng(integer("seed", seed, 0, SEED_MAX))
    vocab = model.info.vocab
    reading = read(model, prompt or "\n")  # no start token was trained: an empty prompt starts a line
    logits, state = reading.logits[-1], reading.state
    out = []
    for _ in range(length):
        token = sampling.draw(logits, rng, temperature, vocab.unk_id, top)
        out.append(vocab.tokens[token])
        step = model.run(np.array([[token]], dtype=np.int64), state)
        logits, state = step["logits"][0, -1], {n: step[f"{n}_out"] for n in model.state_names}
    return "".join(out)
