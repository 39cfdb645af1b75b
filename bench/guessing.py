"""Shannon's guessing game played by the models and by a baseline, on the held-out passages the page uses.

    python -m bench.guessing [--passages 300]

Each player guesses every character of every passage (100 characters each, from Hamlet, The Tempest and
Macbeth, never trained on): the baseline always in order of the training text's character frequencies,
each model in order of its own prediction from the passage so far. Counts are capped as on the page (10
wrong guesses: counted as 11). Shannon's bounds come from the guess-count distribution over all passages
together; cross-entropy is the models' mean -log2 p per character on the same characters.
"""

from __future__ import annotations

import argparse

import numpy as np

from core.guess import distribution, frequency_counts, load_passages, model_play, shannon_bounds
from core.models import load_models, models_dir


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--passages", type=int, default=300)
    args = parser.parse_args(argv)
    passages = load_passages(models_dir())
    texts = passages.texts[: args.passages]
    models, problems = load_models()
    if problems:
        raise SystemExit(f"models failed to load: {problems}")
    rows = {
        "baseline (most frequent first)": (
            np.concatenate([frequency_counts(t, passages.frequency_order) for t in texts]),
            None,
        )
    }
    for model in models.values():
        plays = [model_play(model, t) for t in texts]
        rows[model.id] = (
            np.concatenate([p.counts for p in plays]),
            np.concatenate([p.bits for p in plays]),
        )
    chars = sum(len(t) for t in texts)
    print(f"{len(texts)} passages, {chars:,} characters, from {', '.join(sorted(set(passages.plays)))}")
    print(f"{'player':32} {'guesses/char':>12} {'first guess':>11} {'lower':>7} {'upper':>7} {'cross-entropy':>14}")
    for name, (counts, bits) in rows.items():
        lower, upper = shannon_bounds(distribution(counts))
        xent = f"{bits.mean():10.2f} bits" if bits is not None else f"{'':>14}"
        print(f"{name:32} {counts.mean():12.2f} {np.mean(counts == 1):11.0%} {lower:7.2f} {upper:7.2f} {xent}")
    print("lower/upper: Shannon's bounds in bits per character, from the distribution of guess counts")


if __name__ == "__main__":
    main()
