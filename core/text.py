"""Text in and out: the normalisation the models were trained with, encoding, and visible characters.

Normalisation (the same as export/corpus.py): Unicode NFC, \\r\\n and \\r become \\n, and lone surrogates
(which cannot travel back to the browser) become U+FFFD. Any character outside a model's vocabulary is
encoded as its unknown token, never as a negative or out-of-range id.
"""

from __future__ import annotations

import unicodedata

import numpy as np

from core.errors import InputError

MAX_CHARS = 1000  # the app's cap on typed text; enforced here, since the browser's max_chars is advisory
VISIBLE = {" ": "␣", "\n": "⏎", "\t": "⇥"}


def normalize(text: str) -> str:
    if not isinstance(text, str):
        raise InputError(f"text must be a string, not {type(text).__name__}")
    text = text.encode("utf-16", "surrogatepass").decode("utf-16", "replace")
    return unicodedata.normalize("NFC", text.replace("\r\n", "\n").replace("\r", "\n"))


def cap(text: str, limit: int = MAX_CHARS) -> tuple[str, bool]:
    """Normalised text cut to `limit` characters, and whether it was cut."""
    text = normalize(text)
    return text[:limit], len(text) > limit


def visible(token: str) -> str:
    """How a token reads on screen: whitespace as a symbol, control characters as their code point."""
    if token in VISIBLE:
        return VISIBLE[token]
    if len(token) == 1 and unicodedata.category(token).startswith("C"):
        return f"U+{ord(token):04X}"
    return token


class Vocab:
    def __init__(self, tokens: list[str], unk_id: int):
        if not 0 <= unk_id < len(tokens):
            raise InputError(f"unk_id {unk_id} is outside a vocabulary of {len(tokens)} tokens")
        self.tokens, self.unk_id = list(tokens), unk_id
        self.index = {token: i for i, token in enumerate(tokens) if len(token) == 1}

    def __len__(self) -> int:
        return len(self.tokens)

    def encode(self, text: str) -> np.ndarray:
        """int64 ids, one per character of the normalised text."""
        return np.fromiter((self.index.get(ch, self.unk_id) for ch in normalize(text)), dtype=np.int64)

    def known(self, ch: str) -> bool:
        return ch in self.index
