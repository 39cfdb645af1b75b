"""A class's guessing game, pooled: Shannon's experiment with many subjects at once (ui/room.py keeps their
records in the store). Pure functions of the records, so that they are tested here, apart from any database.

A record is one revealed character of one player: (player, position, count), count being the guesses it took
(1..GAVE_UP). From every record together:
- the class's guesses per character and its guess-count distribution q_i;
- Shannon's bounds on the entropy in bits per character (core.guess.shannon_bounds), with a bootstrap
  interval over players: the class is resampled player by player, since one player's characters are not
  independent of each other;
- for each position of the passage, the class's mean guesses and how many players it rests on;
- a model's figures on exactly the same characters: its guess count at every recorded (player, position).

Shannon's lower bound, sum_i i (q_i - q_(i+1)) log2 i, assumes the q_i fall as i grows, as they do for one
subject with unlimited guesses. A class's pooled counts are noisy, and the cap makes q_GAVE_UP collect every
character revealed after MAX_WRONG wrong guesses, so q can rise somewhere. Then the lower bound is taken of the
closest falling distribution (pool-adjacent-violators: the least-squares fit that never rises, which keeps
the total at 1), and `monotone` says it was; the upper bound, -sum q_i log2 q_i, needs no such assumption and
is taken of q as counted. The models' bounds beside the class's are made the same way.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np

from core.guess import GAVE_UP, distribution, shannon_bounds

BOOTSTRAP = 1000  # resamples of the class's players for the intervals
INTERVAL = 0.95


@dataclass(frozen=True)
class Bounds:
    lower: float  # bits per character, from the falling fit of q where q rose (see `monotone`)
    upper: float
    monotone: bool  # True: q fell throughout as counted; False: the lower bound is of its falling fit


@dataclass(frozen=True)
class Pooled:
    players: int  # players with at least one record
    characters: int  # records: revealed characters, every player's together
    guesses_per_char: float
    q: np.ndarray  # (GAVE_UP,) share of characters that took i guesses, i = 1..GAVE_UP
    bounds: Bounds
    lower_interval: tuple[float, float] | None  # INTERVAL of the bootstrap over players; None with one player
    upper_interval: tuple[float, float] | None


def falling(q: Sequence[float]) -> np.ndarray:
    """The closest sequence to q (least squares) that never rises: pool-adjacent-violators. Each pooled block
    takes its mean, so the total stays the same."""
    blocks: list[list[float]] = []  # [sum, length]
    for value in np.asarray(q, dtype=np.float64):
        blocks.append([value, 1])
        while len(blocks) > 1 and blocks[-2][0] / blocks[-2][1] < blocks[-1][0] / blocks[-1][1]:
            total, length = blocks.pop()
            blocks[-1][0] += total
            blocks[-1][1] += length
    return np.concatenate([np.full(length, total / length) for total, length in blocks])


def bounds(counts: Sequence[int]) -> Bounds:
    """Shannon's bounds of a set of guess counts, the lower one of the falling fit where q rises."""
    q = distribution(counts)
    fit = falling(q)
    monotone = bool(np.allclose(fit, q))
    lower, _ = shannon_bounds(q if monotone else fit / fit.sum())
    _, upper = shannon_bounds(q)
    return Bounds(lower, upper, monotone)


def _by_player(records: Iterable[tuple[str, int, int]]) -> dict[str, np.ndarray]:
    out: dict[str, list[int]] = {}
    for player, _, count in records:
        out.setdefault(player, []).append(int(count))
    return {p: np.asarray(c, dtype=np.int64) for p, c in out.items()}


def pool(records: Iterable[tuple[str, int, int]], resamples: int = BOOTSTRAP, seed: int = 0) -> Pooled | None:
    """The class's figures from its records (player, position, count); None before the first record."""
    per_player = _by_player(records)
    if not per_player:
        return None
    counts = np.concatenate(list(per_player.values()))
    lower_interval = upper_interval = None
    if len(per_player) > 1 and resamples > 0:
        lower_interval, upper_interval = bootstrap(list(per_player.values()), resamples, seed)
    return Pooled(
        players=len(per_player),
        characters=int(counts.size),
        guesses_per_char=float(counts.mean()),
        q=distribution(counts),
        bounds=bounds(counts),
        lower_interval=lower_interval,
        upper_interval=upper_interval,
    )


def bootstrap(
    players: list[np.ndarray], resamples: int = BOOTSTRAP, seed: int = 0
) -> tuple[tuple[float, float], tuple[float, float]]:
    """INTERVAL intervals of the lower and upper bounds, resampling whole players with replacement: every
    resample's guess-count distribution at once, as one (resamples, GAVE_UP) array."""
    rng = np.random.default_rng(seed)
    tallies = np.stack([np.bincount(c, minlength=GAVE_UP + 1)[1:] for c in players])  # (players, GAVE_UP)
    picks = rng.integers(0, len(players), (resamples, len(players)))
    q = tallies[picks].sum(axis=1).astype(np.float64)
    q /= q.sum(axis=1, keepdims=True)
    with np.errstate(divide="ignore", invalid="ignore"):
        ups = -np.nansum(np.where(q > 0, q * np.log2(q), 0.0), axis=1)
    rising = np.any(np.diff(q, axis=1) > 1e-12, axis=1)
    fitted = q.copy()
    for r in np.flatnonzero(rising):  # only the resamples whose q rises need their falling fit
        fitted[r] = falling(q[r])
    i = np.arange(1, GAVE_UP + 1)
    drop = fitted - np.concatenate([fitted[:, 1:], np.zeros((resamples, 1))], axis=1)
    lows = (i * drop * np.log2(i)).sum(axis=1)
    tail = (1 - INTERVAL) / 2 * 100
    low = tuple(float(x) for x in np.percentile(lows, [tail, 100 - tail]))
    up = tuple(float(x) for x in np.percentile(ups, [tail, 100 - tail]))
    return low, up


def per_position(records: Iterable[tuple[str, int, int]], length: int) -> tuple[np.ndarray, np.ndarray]:
    """For each position of a passage of `length` characters: the class's mean guesses (NaN where nobody has
    played it yet) and how many players it rests on."""
    total, seen = np.zeros(length), np.zeros(length, dtype=np.int64)
    for _, position, count in records:
        if 0 <= position < length:
            total[position] += count
            seen[position] += 1
    with np.errstate(invalid="ignore"):
        return np.where(seen > 0, total / np.maximum(seen, 1), np.nan), seen


def on_same(records: Iterable[tuple[str, int, int]], model_counts: Sequence[int]) -> np.ndarray:
    """A model's guess count at every recorded position, once per record: the characters the class played,
    weighed as the class's are."""
    counts = np.asarray(model_counts, dtype=np.int64)
    return np.asarray([counts[position] for _, position, _ in records if 0 <= position < len(counts)], dtype=np.int64)


def model_on_same(records: Iterable[tuple[str, int, int]], model_counts: Sequence[int]) -> tuple[float, Bounds]:
    """A model's guesses per character and bounds on exactly the characters the class played (on_same)."""
    picked = on_same(records, model_counts)
    if picked.size == 0:
        raise ValueError("no record falls inside the model's counts")
    return float(picked.mean()), bounds(picked)
