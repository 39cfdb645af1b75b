"""Argument checks for core's public functions: refuse bad values early with the project's own error."""

from __future__ import annotations

import math
import numbers

import numpy as np

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


def checked_tokens(tokens, vocab_size: int) -> np.ndarray:
    """tokens as run() takes them: int64 (batch, time), every id inside the vocabulary."""
    tokens = np.asarray(tokens)
    if tokens.ndim != 2 or tokens.dtype != np.int64:
        raise InputError(f"tokens must be int64 (batch, time), got {tokens.dtype} {tokens.shape}")
    if tokens.size and (tokens.min() < 0 or tokens.max() >= vocab_size):
        raise InputError(f"token ids must lie in 0..{vocab_size - 1}")
    return tokens
