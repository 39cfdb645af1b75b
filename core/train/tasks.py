"""What the Train page trains on. Every batch is a pure function of the step and the seed, so a run can be
repeated exactly and the cells trained side by side see the same data.

- `Recall` (many-to-one): one key, k distractors, the query; the answer is the key. The memory lab's
  recall models were trained on the same sequences (export/tasks.py imports the alphabet from here).
- `Text` (many-to-many): the next character at every position of a learner's text or of the Shakespeare
  excerpt that ships with the app; the last tenth is held out for validation.
"""

from __future__ import annotations

import unicodedata
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import NamedTuple

import numpy as np

from core.checks import SEED_MAX, integer
from core.contract import UNK, Vocab, normalize
from core.errors import InputError

KEYS = "ABCDEFGH"  # what the recall model must remember
DISTRACTORS = "abcdefghijklmnopqrstuvwxyz"  # what it must ignore; disjoint from KEYS
QUERY = "?"  # asks for the key
MAX_K = 500  # the longest recall lag a job trains on: 500 steps of BPTT per batch is already seconds per step
MAX_BATCH = 256
MAX_SEQ_LEN = 500  # the longest unroll T of a text sequence (the recall task's is k + 2)

MAX_TEXT = 100_000  # characters of a learner's text; longer ones are cut (and the task says so)
MIN_TEXT = 200  # fewer characters leave nothing to hold out
MAX_VOCAB = 96  # distinct characters kept, the most frequent first; the rest read as the unknown token
HELD_OUT = 0.1  # the tail kept for validation
EXCERPT = Path(__file__).resolve().parent / "shakespeare.txt"  # written by `python -m export.excerpt`
ALLOWED_CONTROLS = "\n\t"
NOTES = {  # each note's words in English; the Train page has them in each of its languages (train.note_<kind>)
    "cut": "cut to its first {kept} of {total} characters",
    "controls": "{count} control characters removed",
    "rare": "{count} rare characters read as the unknown token ({share} of the text)",
}


class Note(NamedTuple):
    """Something done to a learner's text before training: its kind (a key of NOTES) and the figures its words
    take."""

    kind: str
    figures: dict

    def __str__(self) -> str:
        return NOTES[self.kind].format(**self.figures)


def seeded(seed: int, step: int) -> np.random.Generator:
    return np.random.default_rng([integer("seed", seed, 0, SEED_MAX), integer("step", step, 0, SEED_MAX)])


# -----------------------------------------------------------------------------
# recall: the key after k distractors


@dataclass(frozen=True)
class Recall:
    k: int  # distractors between the key and the query
    batch: int = 32
    seed: int = 0
    curriculum: int = 0  # steps over which the lag rises from 1 to k (0: k from the start)
    vocab: Vocab = field(default_factory=lambda: Vocab([UNK, *sorted(KEYS + DISTRACTORS + QUERY)]), repr=False)

    def __post_init__(self):
        integer("k", self.k, 1, MAX_K)
        integer("batch", self.batch, 1, MAX_BATCH)
        integer("curriculum", self.curriculum, 0, 10**9)

    def lag(self, step: int) -> int:
        if step >= self.curriculum:
            return self.k
        return max(1, round(self.k * (step + 1) / self.curriculum))

    def sequences(self, rng: np.random.Generator, n: int, k: int) -> tuple[np.ndarray, np.ndarray]:
        """n sequences, tokens (n, k + 2), and their keys' ids (n,)."""
        ids = self.vocab.index
        keys = np.array([ids[c] for c in KEYS])[rng.integers(0, len(KEYS), n)]
        noise = np.array([ids[c] for c in DISTRACTORS])[rng.integers(0, len(DISTRACTORS), (n, k))]
        return np.concatenate([keys[:, None], noise, np.full((n, 1), ids[QUERY])], axis=1), keys

    def batch_at(self, step: int) -> tuple[np.ndarray, np.ndarray]:
        return self.sequences(seeded(self.seed, step), self.batch, self.lag(step))

    def fresh(self, n: int = 256, salt: int = 1) -> tuple[np.ndarray, np.ndarray]:
        """Sequences at the full lag that no training batch holds (another stream of the seed)."""
        return self.sequences(np.random.default_rng([self.seed, 2**32 + salt]), n, self.k)

    def key_ids(self) -> np.ndarray:
        return np.array([self.vocab.index[c] for c in KEYS])


# -----------------------------------------------------------------------------
# your text: the next character everywhere


@dataclass(frozen=True)
class Text:
    train: np.ndarray  # token ids
    val: np.ndarray
    vocab: Vocab
    notes: tuple[Note, ...]  # what was done to the text: a page words them in its own language
    unknown: str  # the characters read as the unknown token
    batch: int = 32
    seq_len: int = 50  # T: characters per sequence, the length of the unroll
    seed: int = 0

    @classmethod
    def from_text(cls, text, batch: int = 32, seq_len: int = 50, seed: int = 0) -> Text:
        if isinstance(text, bytes):
            try:
                text = text.decode("utf-8")
            except UnicodeDecodeError as e:
                raise InputError(f"this is not UTF-8 text (byte {e.start} cannot be read)") from None
        text = normalize(text)
        notes = []
        if len(text) > MAX_TEXT:
            notes.append(Note("cut", {"kept": f"{MAX_TEXT:,}", "total": f"{len(text):,}"}))
            text = text[:MAX_TEXT]
        controls = [ch for ch in text if unicodedata.category(ch) == "Cc" and ch not in ALLOWED_CONTROLS]
        if "\x00" in text or len(controls) > 0.1 * max(1, len(text)):
            raise InputError("this looks like binary data, not text: train on plain text")
        if controls:
            text = "".join(ch for ch in text if ch not in set(controls))
            notes.append(Note("controls", {"count": len(controls)}))
        if len(text.strip()) < MIN_TEXT:
            raise InputError(f"the text is too short to train on: {len(text.strip())} characters, at least {MIN_TEXT}")
        integer("batch", batch, 1, MAX_BATCH)
        integer("sequence length", seq_len, 1, MAX_SEQ_LEN)
        counts = Counter(text)
        kept = sorted(ch for ch, _ in counts.most_common(MAX_VOCAB))
        unknown = "".join(sorted(set(counts) - set(kept)))
        if unknown:
            share = sum(counts[ch] for ch in unknown) / len(text)
            notes.append(Note("rare", {"count": len(unknown), "share": f"{share:.1%}"}))
        vocab = Vocab([UNK, *kept])
        ids = vocab.encode(text)
        cut = max(seq_len + 1, int(len(ids) * HELD_OUT))
        if len(ids) - cut < seq_len + 1:
            raise InputError(
                f"the text is too short for sequences of {seq_len} characters: {len(ids)} characters, at least "
                f"{2 * (seq_len + 1)} needed; shorten the unroll or paste more text"
            )
        return cls(ids[:-cut], ids[-cut:], vocab, tuple(notes), unknown, batch, seq_len, seed)

    @classmethod
    def shakespeare(cls, **settings) -> Text:
        return cls.from_text(EXCERPT.read_text(encoding="utf-8"), **settings)

    def batch_at(self, step: int) -> tuple[np.ndarray, np.ndarray]:
        """B windows of T + 1 characters at random places: tokens (B, T) and the next characters (B, T)."""
        starts = seeded(self.seed, step).integers(0, len(self.train) - self.seq_len, self.batch)
        rows = self.train[starts[:, None] + np.arange(self.seq_len + 1)]
        return rows[:, :-1], rows[:, 1:]
