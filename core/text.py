"""Text in and out: the normalisation the models were trained with, encoding, and visible characters.

Normalisation and encoding live in core/contract.py, which training uses too: Unicode NFC, \\r\\n and \\r
become \\n, lone surrogates (which cannot travel back to the browser) become U+FFFD. Any character outside a
model's vocabulary is encoded as its unknown token, never as a negative or out-of-range id.
"""

from __future__ import annotations

import unicodedata

from core.contract import Vocab, normalize  # noqa: F401 (text and its encoding, from the one contract)

MAX_CHARS = 1000  # the app's cap on typed text; enforced here, since the browser's max_chars is advisory
VISIBLE = {" ": "␣", "\n": "⏎", "\t": "⇥"}


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
