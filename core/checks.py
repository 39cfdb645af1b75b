"""Argument checks for core's public functions: refuse bad values early with the project's own error."""

from __future__ import annotations

import math
import numbers

from core.errors import InputError


def integer(name: str, value, low: int, high: int) -> int:
    """An int (not a bool, not a float) in [low, high]."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise InputError(f"{name} must be a whole number, not {type(value).__name__} {value!r}")
    if not low <= value <= high:
        raise InputError(f"{name} must lie between {low:,} and {high:,}, not {value:,}")
    return int(value)


def number(name: str, value, low: float, high: float) -> float:
    """A finite real number in [low, high]."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not math.isfinite(value):
        raise InputError(f"{name} must be a finite number, not {value!r}")
    if not low <= value <= high:
        raise InputError(f"{name} must lie between {low:g} and {high:g}, not {value:g}")
    return float(value)


SEED_MAX = 2**63 - 1  # numpy's generators take any non-negative int; this keeps seeds within int64
# The pages' seed boxes offer less: ten digits are more than anyone types, and a browser's number box holds
# whole numbers exactly only up to 2^53 - 1, so a page never offers a seed it would round.
PAGE_SEED_MAX = 2**31 - 1
