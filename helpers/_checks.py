"""Input checks shared by every helpers module: each raises ValueError naming the argument."""

from __future__ import annotations

from typing import Any

import numpy as np


def as_array(value: Any, name: str, *, ndim: int | None = None, dtype: Any = float,
             finite: bool = True) -> np.ndarray:
    """``value`` as a NumPy array of ``dtype``, checked to have ``ndim`` dimensions and (unless
    ``finite=False``, where NaN marks a missing entry) finite entries."""
    try:
        array = np.asarray(value, dtype=dtype)
    except (TypeError, ValueError) as error:
        raise ValueError(f"{name} must be numeric array-like, got {type(value).__name__}") from error
    if ndim is not None and array.ndim != ndim:
        raise ValueError(f"{name} must have {ndim} dimension(s), got shape {array.shape}")
    if finite and array.dtype.kind == "f" and not np.all(np.isfinite(array)):
        raise ValueError(f"{name} must contain only finite numbers")
    return array


def check_same_length(**arrays: Any) -> int:
    """The common number of rows of the named arrays; ValueError naming them when they differ."""
    lengths = {name: len(array) for name, array in arrays.items()}
    if len(set(lengths.values())) > 1:
        detail = ", ".join(f"{name} has {n}" for name, n in lengths.items())
        raise ValueError(f"arguments must have the same number of rows: {detail}")
    return next(iter(lengths.values()))


def check_same_shape(**arrays: Any) -> tuple[int, ...]:
    """The common shape of the named arrays; ValueError naming them when they differ."""
    shapes = {name: np.shape(array) for name, array in arrays.items()}
    if len(set(shapes.values())) > 1:
        detail = ", ".join(f"{name} has shape {shape}" for name, shape in shapes.items())
        raise ValueError(f"arguments must have the same shape: {detail}")
    return next(iter(shapes.values()))


def check_probabilities(p: Any, name: str, *, axis: int = -1, atol: float = 1e-6) -> np.ndarray:
    """``p`` as an array of probability vectors along ``axis`` (non-negative, summing to one)."""
    array = as_array(p, name)
    if np.any(array < 0):
        raise ValueError(f"{name} must be non-negative probabilities")
    if not np.allclose(array.sum(axis=axis), 1.0, atol=atol):
        raise ValueError(f"{name} must sum to 1 along axis {axis}")
    return array


def check_in_range(value: float, name: str, low: float, high: float, *,
                   low_open: bool = False, high_open: bool = False) -> float:
    """``value`` as a float checked to lie in the interval between ``low`` and ``high``."""
    try:
        number = float(value)
    except (TypeError, ValueError) as error:
        raise ValueError(f"{name} must be a number, got {value!r}") from error
    too_low = number <= low if low_open else number < low
    too_high = number >= high if high_open else number > high
    if too_low or too_high or not np.isfinite(number):
        left, right = "(" if low_open else "[", ")" if high_open else "]"
        raise ValueError(f"{name} must lie in {left}{low}, {high}{right}, got {value!r}")
    return number


def check_positive_int(value: Any, name: str, *, minimum: int = 1) -> int:
    """``value`` as an int checked to be at least ``minimum``."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value!r}")
    return int(value)


def check_choice(value: Any, name: str, choices: tuple[str, ...]) -> str:
    """``value`` checked to be one of ``choices``."""
    if value not in choices:
        raise ValueError(f"{name} must be one of {', '.join(map(repr, choices))}; got {value!r}")
    return value


def rng_from(seed: int | np.random.Generator, name: str = "seed") -> np.random.Generator:
    """A NumPy generator from a non-negative integer seed, or the generator itself."""
    if isinstance(seed, np.random.Generator):
        return seed
    check_positive_int(seed, name, minimum=0)
    return np.random.default_rng(int(seed))
