"""A class's pooled guessing game (core/pooled.py), against cases worked by hand and a known distribution."""

from __future__ import annotations

import math

import numpy as np
import pytest

from core import pooled
from core.guess import GAVE_UP, shannon_bounds


def test_two_players_pooled_by_hand():
    records = [("a", 0, 1), ("a", 1, 1), ("a", 2, 2), ("b", 0, 1), ("b", 1, 3)]
    got = pooled.pool(records, resamples=0)
    assert (got.players, got.characters, got.guesses_per_char) == (2, 5, 1.6)
    assert got.q[:4].tolist() == pytest.approx([0.6, 0.2, 0.2, 0.0])
    # q falls throughout: lower = 3 * (0.2 - 0) * log2 3, upper = -(0.6 log2 0.6 + 2 * 0.2 log2 0.2)
    assert got.bounds.monotone
    assert got.bounds.lower == pytest.approx(0.6 * math.log2(3))
    assert got.bounds.upper == pytest.approx(-(0.6 * math.log2(0.6) + 0.4 * math.log2(0.2)))
    assert got.lower_interval is None  # no resamples asked for
    assert pooled.pool([]) is None


def test_where_q_rises_the_lower_bound_is_of_its_falling_fit():
    # q_1 = 0.25, q_2 = 0.5, q_11 = 0.25: it rises twice. The falling fit pools q_1 and q_2 to 0.375 each,
    # and q_3..q_11 to 0.25 / 9 each; its lower bound is 2 (0.375 - 0.25/9) + 11 (0.25/9) log2 11.
    counts = [1, 2, 2, GAVE_UP]
    fit = pooled.falling(np.array([0.25, 0.5] + [0.0] * 8 + [0.25]))
    assert fit.tolist() == pytest.approx([0.375, 0.375] + [0.25 / 9] * 9)
    assert fit.sum() == pytest.approx(1.0) and np.all(np.diff(fit) <= 1e-12)
    b = pooled.bounds(counts)
    assert not b.monotone
    assert b.lower == pytest.approx(2 * (0.375 - 0.25 / 9) + 11 * (0.25 / 9) * math.log2(11))
    assert b.upper == pytest.approx(-(0.5 * math.log2(0.25) + 0.5 * math.log2(0.5)))
    assert b.lower >= 0  # the plain formula on the rising q would go below what a falling q allows


def test_the_bootstrap_over_players_brackets_a_known_distribution_and_narrows_with_more_players():
    q = np.array([0.5, 0.2, 0.1, 0.07, 0.05, 0.03, 0.02, 0.01, 0.01, 0.005, 0.005])  # falls throughout
    true_lower, true_upper = shannon_bounds(q)
    rng = np.random.default_rng(7)

    def records(players: int, each: int) -> list:
        counts = rng.choice(np.arange(1, GAVE_UP + 1), size=(players, each), p=q)
        return [(f"p{p}", i, int(c)) for p in range(players) for i, c in enumerate(counts[p])]

    small = pooled.pool(records(10, 30), resamples=400)
    large = pooled.pool(records(160, 30), resamples=400)
    for got in (small, large):
        low, high = got.upper_interval
        assert low <= true_upper <= high
        low, high = got.lower_interval
        assert low <= true_lower <= high
    width = lambda interval: interval[1] - interval[0]  # noqa: E731
    assert width(large.upper_interval) < width(small.upper_interval) / 2  # about 1 / sqrt(16)
    once = pooled.pool([("a", 0, 1), ("b", 0, 2), ("c", 0, 3)], resamples=200, seed=3)
    again = pooled.pool([("a", 0, 1), ("b", 0, 2), ("c", 0, 3)], resamples=200, seed=3)
    assert (once.lower_interval, once.upper_interval) == (again.lower_interval, again.upper_interval)  # seeded


def test_each_position_has_the_class_mean_and_how_many_it_rests_on():
    records = [("a", 0, 1), ("b", 0, 3), ("a", 1, 2), ("c", 3, GAVE_UP), ("c", 9, 1)]
    mean, seen = pooled.per_position(records, 4)
    assert mean[:2].tolist() == [2.0, 2.0] and math.isnan(mean[2]) and mean[3] == GAVE_UP
    assert seen.tolist() == [2, 1, 0, 1]  # position 9 lies past the passage: left out


def test_a_model_is_scored_on_exactly_the_characters_the_class_played():
    model = [1, 5, 2, 1]  # the model's guess count at each position
    records = [("a", 0, 2), ("b", 0, 1), ("a", 1, 3)]  # positions 0, 0 and 1
    per_char, b = pooled.model_on_same(records, model)
    assert per_char == pytest.approx((1 + 1 + 5) / 3)
    assert b == pooled.bounds([1, 1, 5])
    with pytest.raises(ValueError):
        pooled.model_on_same([("a", 7, 1)], model)
