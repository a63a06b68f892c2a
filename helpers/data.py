"""Data for the course: the real multi-view data it ships, and synthetic generators with known answers.

Real data (read from ``helpers/datasets/*.npz``; nothing is downloaded):

* ``load_multiple_features`` — UCI Multiple Features: 2,000 handwritten digits (0–9, 200 each)
  seen in six views: ``fou`` 76 Fourier coefficients, ``fac`` 216 profile correlations,
  ``kar`` 64 Karhunen–Loève coefficients, ``pix`` 240 pixel averages, ``zer`` 47 Zernike
  moments, ``mor`` 6 morphological features.
* ``load_nutrimouse`` — 40 mice: expression of 120 liver genes and 21 hepatic fatty acids (lipids);
  targets ``diet`` (5 classes) and ``genotype`` (2 classes: wild type, PPARα-deficient).

Synthetic generators follow, one section per chapter, each returning data whose right answer is known.
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib import resources
from typing import Sequence

import numpy as np

from ._checks import check_choice

DIGIT_VIEWS: tuple[str, ...] = ("fou", "fac", "kar", "pix", "zer", "mor")
NUTRIMOUSE_VIEWS: tuple[str, ...] = ("gene", "lipid")


@dataclass(frozen=True)
class MultiViewData:
    """Paired views of the same examples.

    ``views[name]`` is an (n, d_name) array; ``targets[name]`` is an (n,) array of integer class
    codes whose names are ``classes[name]``; ``feature_names[name]`` names the columns of a view
    where the source names them.
    """

    views: dict[str, np.ndarray]
    targets: dict[str, np.ndarray]
    classes: dict[str, tuple[str, ...]]
    feature_names: dict[str, tuple[str, ...]]

    @property
    def n_samples(self) -> int:
        """The number of examples, shared by every view."""
        return len(next(iter(self.targets.values())))


def _shipped(name: str) -> dict[str, np.ndarray]:
    """Arrays of a shipped ``.npz`` file, read from inside the package."""
    with resources.files("helpers.datasets").joinpath(f"{name}.npz").open("rb") as handle:
        with np.load(handle, allow_pickle=False) as archive:
            return {key: archive[key] for key in archive.files}


def _select_views(views: Sequence[str] | None, available: tuple[str, ...]) -> tuple[str, ...]:
    """The requested view names in their given order, checked against ``available``."""
    if views is None:
        return available
    if isinstance(views, str) or not len(views):
        raise ValueError(f"views must be a non-empty list of names from {available}, got {views!r}")
    for view in views:
        check_choice(view, "views", available)
    if len(set(views)) != len(views):
        raise ValueError(f"views must not repeat a name, got {list(views)}")
    return tuple(views)


def load_multiple_features(views: Sequence[str] | None = None) -> MultiViewData:
    """The UCI Multiple Features digits: 2,000 digits in up to six views, target ``digit`` (0–9).

    ``views`` picks a subset of ``DIGIT_VIEWS`` (default: all six, in that order).
    """
    chosen = _select_views(views, DIGIT_VIEWS)
    arrays = _shipped("multiple_features")
    return MultiViewData(
        views={view: arrays[view] for view in chosen},
        targets={"digit": arrays["digit"]},
        classes={"digit": tuple(str(digit) for digit in range(10))},
        feature_names={},
    )


def load_nutrimouse(views: Sequence[str] | None = None) -> MultiViewData:
    """Nutrimouse: 40 mice, views ``gene`` (120) and ``lipid`` (21), targets ``diet`` and ``genotype``."""
    chosen = _select_views(views, NUTRIMOUSE_VIEWS)
    arrays = _shipped("nutrimouse")
    return MultiViewData(
        views={view: arrays[view] for view in chosen},
        targets={"diet": arrays["diet"], "genotype": arrays["genotype"]},
        classes={"diet": tuple(arrays["diet_classes"].tolist()),
                 "genotype": tuple(arrays["genotype_classes"].tolist())},
        feature_names={view: tuple(arrays[f"{view}_names"].tolist()) for view in chosen},
    )


# ---------------------------------------------------------------------------------------------
# Chapter 01 — principles: synthetic generators
# ---------------------------------------------------------------------------------------------


# ---------------------------------------------------------------------------------------------
# Chapter 02 — alignment: synthetic generators
# ---------------------------------------------------------------------------------------------


# ---------------------------------------------------------------------------------------------
# Chapter 03 — fusion: synthetic generators
# ---------------------------------------------------------------------------------------------


# ---------------------------------------------------------------------------------------------
# Chapter 04 — challenges: synthetic generators
# ---------------------------------------------------------------------------------------------


# ---------------------------------------------------------------------------------------------
# Chapter 05 — applications: synthetic generators
# ---------------------------------------------------------------------------------------------
