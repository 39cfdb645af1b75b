"""Shannon's guessing game (Prediction and Entropy of Printed English, 1951), played by people and by models.

A player guesses a text one character at a time; the number of guesses each character took is its guess
count. A model's guess count for a character is the character's rank in the model's predicted distribution
(1 = its top guess), so people and models are scored the same way. After MAX_WRONG wrong guesses a character
is revealed and counts as GAVE_UP guesses. From the distribution q_i of guess counts, Shannon's bounds on
the entropy in bits per character are
    lower = sum_i i * (q_i - q_(i+1)) * log2(i)        upper = -sum_i q_i * log2(q_i)
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from core.errors import InputError, ModelFileError
from core.models import Model
from core.predict import read, softmax, surprisal

MAX_WRONG = 10  # wrong guesses before a character is revealed
GAVE_UP = MAX_WRONG + 1  # what a revealed character counts as


def capped(ranks: np.ndarray) -> np.ndarray:
    """Guess counts from ranks: anything past MAX_WRONG counts as GAVE_UP."""
    return np.minimum(np.asarray(ranks, dtype=np.int64), GAVE_UP)


def ranks_in(probs: np.ndarray, actual: np.ndarray, excluded: int | None = None) -> np.ndarray:
    """(T,) 1-based rank of actual[t] in probs[t] (T, V): 1 + how many tokens the model rates higher.
    `excluded` (the unknown token) is never a guess; a character that is the excluded token ranks last."""
    probs = np.array(probs, dtype=np.float64)
    if excluded is not None:
        probs[:, excluded] = -1.0
    chosen = probs[np.arange(len(actual)), actual]
    ranks = 1 + (probs > chosen[:, None]).sum(axis=1)
    if excluded is not None:
        ranks[actual == excluded] = probs.shape[1]
    return ranks


@dataclass(frozen=True)
class ModelPlay:
    """A model's game on a text: its guess count and surprisal for every character."""

    counts: np.ndarray  # (T,) 1..GAVE_UP
    bits: np.ndarray  # (T,) -log2 p(character | the text before it)


def model_play(model: Model, text: str) -> ModelPlay:
    """The model reads the text from the start of a line ("\\n", as every passage starts), guessing each
    character from the ones before it, exactly what the player sees."""
    if not text:
        raise InputError("an empty text has nothing to guess")
    reading = read(model, "\n" + text)
    probs = softmax(reading.logits[:-1])  # (T, V): row t predicts text[t]
    actual = reading.ids[1:]
    ranks = ranks_in(probs, actual, excluded=model.info.vocab.unk_id)
    bits = surprisal(probs[np.arange(len(actual)), actual])
    return ModelPlay(capped(ranks), bits)


def frequency_counts(text: str, order: list[str]) -> np.ndarray:
    """The baseline player: it always guesses the most frequent characters first, whatever came before."""
    position = {ch: i + 1 for i, ch in enumerate(order)}
    return capped([position.get(ch, GAVE_UP) for ch in text])


def distribution(counts) -> np.ndarray:
    """(GAVE_UP,) q_i: the share of characters that took i guesses, i = 1..GAVE_UP."""
    counts = np.asarray(counts, dtype=np.int64)
    if counts.size == 0:
        return np.zeros(GAVE_UP)
    if counts.min() < 1 or counts.max() > GAVE_UP:
        raise InputError(f"guess counts must lie in 1..{GAVE_UP}")
    return np.bincount(counts, minlength=GAVE_UP + 1)[1:] / counts.size


def shannon_bounds(q) -> tuple[float, float]:
    """(lower, upper) bounds in bits per character from the guess-count distribution q (q[0] is 1 guess)."""
    q = np.asarray(q, dtype=np.float64)
    if q.size == 0 or abs(q.sum() - 1) > 1e-9 or q.min() < 0:
        raise InputError("q must be a distribution over guess counts")
    i = np.arange(1, q.size + 1)
    drop = q - np.append(q[1:], 0.0)  # q_i - q_(i+1)
    lower = float(np.sum(i * drop * np.log2(i)))
    nonzero = q[q > 0]
    upper = float(-np.sum(nonzero * np.log2(nonzero)))
    return lower, upper


@dataclass(frozen=True)
class Score:
    guesses_per_char: float
    lower: float  # Shannon's lower bound, bits per character
    upper: float  # Shannon's upper bound, bits per character


def score(counts) -> Score | None:
    """The running score of a list of guess counts; None before the first character."""
    counts = np.asarray(counts, dtype=np.int64)
    if counts.size == 0:
        return None
    lower, upper = shannon_bounds(distribution(counts))
    return Score(float(counts.mean()), lower, upper)


@dataclass(frozen=True)
class Passages:
    texts: list[str]  # the passages, each starting at a line start in a held-out play
    plays: list[str]  # which play each came from
    frequency_order: list[str]  # the training text's characters, most frequent first
    source: dict


def load_passages(folder: Path) -> Passages:
    """models/passages.json (export/passages.py writes it)."""
    path = Path(folder) / "passages.json"
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        items = data["passages"]
        texts = [p["text"] for p in items]
        plays = [p["play"] for p in items]
        order = data["frequency_order"]
    except FileNotFoundError:
        raise ModelFileError(f"{path} is missing: make it with `python -m export.passages`") from None
    except (OSError, ValueError, KeyError, TypeError) as e:
        raise ModelFileError(f"{path} is not a passages file ({type(e).__name__}: {e})") from None
    if not texts or not all(isinstance(t, str) and t for t in texts) or not isinstance(order, list):
        raise ModelFileError(f"{path} holds no usable passages")
    return Passages(texts, plays, order, data.get("source", {}))


@dataclass
class Game:
    """One player's game on one passage."""

    text: str
    position: int = 0  # characters revealed so far
    wrong: list[str] = field(default_factory=list)  # wrong guesses at the current position, in order
    counts: list[int] = field(default_factory=list)  # guess count of every revealed character

    @property
    def done(self) -> bool:
        return self.position >= len(self.text)

    def guess(self, ch: str) -> str:
        """'right', 'wrong', 'revealed' (the MAX_WRONG-th wrong guess) or 'again' (already tried: not counted)."""
        if self.done:
            raise InputError("the passage is finished")
        if not isinstance(ch, str) or len(ch) != 1:
            raise InputError("a guess is one character")
        if ch in self.wrong:
            return "again"
        if ch == self.text[self.position]:
            self._reveal(len(self.wrong) + 1)
            return "right"
        self.wrong.append(ch)
        if len(self.wrong) >= MAX_WRONG:
            self._reveal(GAVE_UP)
            return "revealed"
        return "wrong"

    def show(self) -> None:
        """The player gives up on this character: it is revealed and counts as GAVE_UP guesses."""
        if self.done:
            raise InputError("the passage is finished")
        self._reveal(GAVE_UP)

    def _reveal(self, count: int) -> None:
        self.counts.append(count)
        self.position += 1
        self.wrong = []
