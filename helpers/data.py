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

from ._checks import as_array, check_choice, check_positive_int

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


def standardise(train: np.ndarray, *others: np.ndarray) -> list[np.ndarray]:
    """z = (x − μ_train) / σ_train for ``train`` and each of ``others`` (a constant column keeps scale 1).

    μ and σ (population standard deviation) are the training columns' statistics, ignoring NaN
    entries; NaN stays NaN (a missing view stays missing).
    """
    train = as_array(train, "train", ndim=2, finite=False)
    others = [as_array(x, f"others[{i}]", ndim=2, finite=False) for i, x in enumerate(others)]
    for i, other in enumerate(others):
        if other.shape[1] != train.shape[1]:
            raise ValueError(f"others[{i}] must be an (m, {train.shape[1]}) array, got shape {other.shape}")
    with np.errstate(all="ignore"):
        mean = np.nan_to_num(np.nanmean(train, axis=0)) if len(train) else np.zeros(train.shape[1])
        std = np.nan_to_num(np.nanstd(train, axis=0)) if len(train) else np.ones(train.shape[1])
    std = np.where(std > 1e-12, std, 1.0)
    return [(x - mean) / std for x in (train, *others)]


def pca_project(views: Sequence[np.ndarray], dim: int, *, fit_rows: np.ndarray | None = None,
                standardised: bool = True) -> list[np.ndarray]:
    """Each view projected onto its own top ``dim`` principal axes (PCA).

    With Z_fit the view's ``fit_rows`` (default: all rows) standardised (``standardise``; only
    centred when ``standardised=False``) and Z_fit = U S Vᵀ its SVD, every row z of the view
    (standardised with the same statistics) maps to z V_dim (V_dim: the first ``dim`` columns of V).
    Chapter 02 uses it to put two views of different widths into a common dimension for Procrustes.
    """
    from . import single_thread

    check_positive_int(dim, "dim")
    if isinstance(views, np.ndarray) or not isinstance(views, Sequence) or not len(views):
        raise ValueError("views must be a list of (n, d_m) arrays, one per view")
    projected = []
    for i, view in enumerate(views):
        view = as_array(view, f"views[{i}]", ndim=2)
        fit = view if fit_rows is None else view[fit_rows]
        if dim > min(fit.shape):
            raise ValueError(f"dim must be at most min(n, d) = {min(fit.shape)} for views[{i}], got {dim}")
        if standardised:
            z_fit, z_all = standardise(fit, view)
        else:
            mean = fit.mean(axis=0)
            z_fit, z_all = fit - mean, view - mean
        with single_thread():
            _, _, vt = np.linalg.svd(z_fit, full_matrices=False)
        projected.append(z_all @ vt[:dim].T)
    return projected


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


def make_noisy_xor(n: int, noise: float, seed: int | np.random.Generator = 0
                   ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A continuous XOR with two one-dimensional views (text: 互补性, the XOR example).

    Hidden signs S1, S2 are uniform on {-1, +1}; view v is X_v = S_v + noise * N(0, 1) and the
    label is Y = 1 when -S1*S2 = +1 (the signs differ), else 0. Returns (X1 (n, 1), X2 (n, 1), y (n,)).
    """
    from ._checks import check_in_range, check_positive_int, rng_from

    check_positive_int(n, "n")
    check_in_range(noise, "noise", 0.0, 100.0)
    rng = rng_from(seed)
    signs = rng.choice([-1.0, 1.0], size=(n, 2))
    views = signs + noise * rng.standard_normal((n, 2))
    y = (-signs[:, 0] * signs[:, 1] > 0).astype(np.int64)
    return views[:, :1], views[:, 1:], y


def make_gaussian_views(n: int, sigmas: Sequence[float], *, dim: int = 1,
                        seed: int | np.random.Generator = 0) -> tuple[list[np.ndarray], np.ndarray]:
    """Redundant Gaussian views of a balanced binary label (text: 冗余性).

    Y is uniform on {0, 1}, s = 2Y - 1, and view v is X_v = s * mu + sigmas[v] * N(0, I_dim) with
    mu = (1, ..., 1) / sqrt(dim), so every view carries signal-to-noise 1 / sigmas[v] whatever its
    dimension. Returns ([X_1, ..., X_k] each (n, dim), y (n,)).
    """
    from ._checks import as_array, check_positive_int, rng_from

    check_positive_int(n, "n")
    check_positive_int(dim, "dim")
    scales = as_array(sigmas, "sigmas", ndim=1)
    if len(scales) == 0 or np.any(scales <= 0):
        raise ValueError(f"sigmas must be a non-empty list of positive noise levels, got {list(scales)}")
    rng = rng_from(seed)
    y = rng.integers(0, 2, size=n)
    mean = np.full(dim, 1.0 / np.sqrt(dim))
    signal = (2.0 * y - 1.0)[:, None] * mean
    views = [signal + sigma * rng.standard_normal((n, dim)) for sigma in scales]
    return views, y.astype(np.int64)


# ---------------------------------------------------------------------------------------------
# Chapter 02 — alignment: synthetic generators
# ---------------------------------------------------------------------------------------------

from ._checks import check_in_range, rng_from  # noqa: E402  (this section's checks)


@dataclass(frozen=True)
class PairedViews:
    """Paired observations ``x[i]`` ↔ ``y[i]`` of one example seen by two modalities.

    ``shared`` is the common latent both views were generated from, ``labels`` its class
    (the cluster ``shared`` was drawn around): the ground truth a good alignment recovers.
    """

    x: np.ndarray
    y: np.ndarray
    shared: np.ndarray
    labels: np.ndarray

    def subset(self, index: np.ndarray | slice) -> "PairedViews":
        """The pairs at ``index`` (rows of every array)."""
        _check_row_index(index, len(self.x))
        return PairedViews(self.x[index], self.y[index], self.shared[index], self.labels[index])


def _check_row_index(index: np.ndarray | slice, n: int) -> None:
    """``index`` selects rows of an n-row array: a slice, an (n,) bool mask or integers in −n … n − 1."""
    if isinstance(index, slice):
        return
    array = np.asarray(index)
    if array.dtype == bool:
        if array.shape != (n,):
            raise ValueError(f"index must be a slice, an ({n},) bool mask or row numbers, "
                             f"got a bool mask of shape {array.shape}")
    elif array.size and (array.dtype.kind not in "iu" or array.ndim > 1
                         or np.any((array < -n) | (array >= n))):
        raise ValueError(f"index must be a slice, an ({n},) bool mask or row numbers in {-n} … {n - 1}, "
                         f"got {index!r}")


def _random_map(inputs: np.ndarray, out_dim: int, nonlinear: bool, rng: np.random.Generator) -> np.ndarray:
    """A random linear map of ``inputs`` to ``out_dim`` columns, bent by a smooth nonlinearity if asked."""
    weights = rng.normal(size=(inputs.shape[1], out_dim)) / np.sqrt(inputs.shape[1])
    hidden = inputs @ weights
    if not nonlinear:
        return hidden
    return np.tanh(hidden) * 2.0 + 0.5 * np.sin(2.0 * hidden)


def latent_pairs(n: int, *, n_classes: int = 5, d_shared: int = 4, d_private: int = 4,
                 dims: tuple[int, int] = (16, 16), nonlinear: tuple[bool, bool] = (False, True),
                 private_scale: float = 2.0, class_spread: float = 3.0, noise: float = 0.1,
                 seed: int = 0) -> PairedViews:
    """Two views of one common latent (text: 核心挑战之一：表示与对齐 — a shared representation space).

    A shared latent ``z`` (``d_shared`` dims) is drawn around one of ``n_classes`` random class
    centres; each view also has its own private latent ``u`` (``d_private`` dims, standard deviation
    ``private_scale``: modality-specific nuisance that says nothing about the pair). Then

        x = f_x([z, u_x]) + noise,    y = f_y([z, u_y]) + noise,

    with ``f_v`` a random linear map, bent by ``2 tanh(h) + 0.5 sin(2h)`` when ``nonlinear[v]``.
    """
    check_positive_int(n, "n", minimum=2)
    check_positive_int(n_classes, "n_classes")
    check_positive_int(d_shared, "d_shared")
    check_positive_int(d_private, "d_private", minimum=0)
    if len(dims) != 2 or len(nonlinear) != 2:
        raise ValueError(f"dims and nonlinear must each give two values (x, y), got {dims!r}, {nonlinear!r}")
    for name, dim in zip(("dims[0]", "dims[1]"), dims):
        check_positive_int(dim, name)
    check_in_range(private_scale, "private_scale", 0.0, 1e3)
    check_in_range(class_spread, "class_spread", 0.0, 1e3)
    check_in_range(noise, "noise", 0.0, 1e3)
    rng = rng_from(seed)
    centres = rng.normal(scale=class_spread / np.sqrt(d_shared), size=(n_classes, d_shared))
    labels = rng.integers(0, n_classes, size=n)
    shared = centres[labels] + rng.normal(scale=1.0 / np.sqrt(d_shared), size=(n, d_shared)) * 1.5
    views = []
    for dim, bend in zip(dims, nonlinear):
        private = rng.normal(scale=private_scale, size=(n, d_private))
        mapped = _random_map(np.hstack([shared, private]), dim, bool(bend), rng)
        views.append(mapped + rng.normal(scale=noise, size=mapped.shape))
    return PairedViews(views[0], views[1], shared, labels)


@dataclass(frozen=True)
class ProcrustesPair:
    """``y ≈ g(scale · x @ rotation) + translation + noise`` with the transformation that made it."""

    x: np.ndarray
    y: np.ndarray
    rotation: np.ndarray
    scale: float
    translation: np.ndarray


def rotation_2d(degrees: float) -> np.ndarray:
    """The 2×2 matrix that, acting on row vectors (``x @ R``), rotates them by ``degrees``
    counter-clockwise."""
    angle = np.deg2rad(check_in_range(degrees, "degrees", -1e4, 1e4))
    return np.array([[np.cos(angle), np.sin(angle)], [-np.sin(angle), np.cos(angle)]])


def random_rotation(d: int, seed: int = 0) -> np.ndarray:
    """A random proper rotation (orthogonal, det = +1) of R^d, drawn uniformly (QR of a Gaussian)."""
    check_positive_int(d, "d")
    q, r = np.linalg.qr(rng_from(seed).normal(size=(d, d)))
    q = q * np.sign(np.diag(r))
    if np.linalg.det(q) < 0:
        q[:, 0] = -q[:, 0]
    return q


def procrustes_pair(n: int = 200, d: int = 2, *, degrees: float = 40.0, scale: float = 1.5,
                    translation: Sequence[float] | None = None, noise: float = 0.05, warp: float = 0.0,
                    seed: int = 0) -> ProcrustesPair:
    """A point cloud ``x`` and its transformed copy ``y`` (text: 线性对齐：普氏分析).

    ``y = g(scale · x R) + translation + noise``, with ``R`` the rotation by ``degrees`` when
    ``d == 2`` (else a random proper rotation), and ``g`` bending each coordinate,
    ``g(u) = u + warp · u³`` (``warp = 0``: a purely linear relation that Procrustes undoes exactly).
    ``x`` is a letter L when ``d == 2``, else an anisotropic uniform box (so the rotation is identifiable).
    """
    check_positive_int(n, "n", minimum=3)
    check_positive_int(d, "d", minimum=2)
    check_in_range(scale, "scale", 0.0, 1e3, low_open=True)
    check_in_range(noise, "noise", 0.0, 1e3)
    check_in_range(warp, "warp", 0.0, 10.0)
    rng = rng_from(seed)
    shift = (np.arange(1, d + 1, dtype=float) if translation is None
             else _checked_vector(translation, "translation", d))
    rotation = rotation_2d(degrees) if d == 2 else random_rotation(d, seed=int(rng.integers(2**31)))
    x = _l_shape(n, rng) if d == 2 else rng.uniform(-1.5, 1.5, size=(n, d)) * np.linspace(1.0, 0.4, d)
    moved = scale * x @ rotation
    y = moved + warp * moved**3 + shift + rng.normal(scale=noise, size=(n, d))
    return ProcrustesPair(x, y, rotation, float(scale), shift)


def _l_shape(n: int, rng: np.random.Generator) -> np.ndarray:
    """``n`` points on a letter L (a long bar and a short leg, lightly jittered): any rotation shows."""
    leg = rng.random(n) < 0.35
    along = rng.uniform(-1.5, 1.5, size=n)
    points = np.where(leg[:, None], np.column_stack([np.full(n, -1.5), 0.5 * along + 0.15]),
                      np.column_stack([along, np.full(n, -0.6)]))
    return points + rng.normal(scale=0.05, size=(n, 2))


def _checked_vector(value: Sequence[float], name: str, d: int) -> np.ndarray:
    vector = np.asarray(value, dtype=float)
    if vector.shape != (d,) or not np.all(np.isfinite(vector)):
        raise ValueError(f"{name} must be a finite vector of length d={d}, got shape {vector.shape}")
    return vector


# ---------------------------------------------------------------------------------------------
# Chapter 03 — fusion: synthetic generators
# ---------------------------------------------------------------------------------------------


def make_interaction_views(n: int, *, dims: tuple[int, int] = (4, 4), seed: int = 0,
                           ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Two views whose label is a cross-modal interaction: y = 1 if x_v[0]·x_t[0] > 0, else 0.

    x_v ~ N(0, I_{d_v}), x_t ~ N(0, I_{d_t}) independent; every other coordinate is noise. Each view
    alone is independent of y (chance for any unimodal model), and so is any sum f(x_v) + g(x_t).
    Returns (x_v (n, d_v), x_t (n, d_t), y (n,) int64).
    """
    from ._checks import check_positive_int, rng_from

    check_positive_int(n, "n")
    if len(dims) != 2:
        raise ValueError(f"dims must be (d_v, d_t), got {dims!r}")
    d_v, d_t = (check_positive_int(d, "dims") for d in dims)
    rng = rng_from(seed)
    x_v = rng.standard_normal((n, d_v))
    x_t = rng.standard_normal((n, d_t))
    return x_v, x_t, (x_v[:, 0] * x_t[:, 0] > 0).astype(np.int64)


@dataclass(frozen=True)
class AlignedSequences:
    """Paired variable-length sequences, padded to the longest, with masks (True = real token).

    ``text`` (n, T, vocab) one-hot words; ``audio`` (n, A, vocab + 1): a rotated, noisy code of a word
    followed by a feature flag; ``match[i, j]`` is the audio frame holding text token j's word (−1 on
    padding); ``audio_words[i, f]`` the word of frame f (−1 on padding); ``labels[i]`` = 1 when most
    text words' matching frames carry the feature.
    """

    text: np.ndarray
    text_mask: np.ndarray
    audio: np.ndarray
    audio_mask: np.ndarray
    match: np.ndarray
    audio_words: np.ndarray
    labels: np.ndarray

    @property
    def text_lengths(self) -> np.ndarray:
        """Real tokens per text sequence."""
        return self.text_mask.sum(axis=1)

    def tensors(self) -> tuple:
        """(text, audio, text_mask, audio_mask, labels) as torch tensors, the inputs of the sequence
        models."""
        from .train import as_tensors

        return as_tensors(self.text, self.audio, self.text_mask, self.audio_mask, self.labels)

    def flattened(self) -> tuple:
        """(text, audio) padded sequences flattened to fixed-size vectors (n, T·vocab), (n, A·(vocab + 1)):
        the only way plain early fusion can take them."""
        from .train import as_tensors

        return as_tensors(self.text.reshape(len(self.labels), -1), self.audio.reshape(len(self.labels), -1))


def make_aligned_sequences(n: int, *, lengths: Sequence[int] = (1, 3, 5), vocab: int = 16,
                           noise: float = 0.1, seed: int = 0) -> AlignedSequences:
    """A sequence task whose label needs the alignment between modalities.

    Each example draws an odd text length n_t from ``lengths`` and 2·n_t distinct words: the text holds
    the first n_t (one-hot), the audio all 2·n_t in random order, each frame a fixed random rotation of
    its word's one-hot (plus N(0, noise²) noise) and a feature flag. The label y is 1 when a majority of
    the text words' matching frames carry the flag; the other n_t frames carry the complementary flags,
    so every audio sequence holds exactly n_t flags: flag counts, word sets and any other average over
    tokens are independent of y. Only a model that pairs each text token with its frame can solve it.
    """
    from ._checks import check_in_range, check_positive_int, rng_from

    check_positive_int(n, "n")
    lengths = [check_positive_int(length, "lengths") for length in lengths]
    if not lengths or any(length % 2 == 0 for length in lengths):
        raise ValueError(f"lengths must be a non-empty list of odd numbers (a majority needs one), "
                         f"got {lengths}")
    check_positive_int(vocab, "vocab", minimum=2 * max(lengths))
    check_in_range(noise, "noise", 0.0, 10.0)
    rng = rng_from(seed)
    rotation = np.linalg.qr(np.random.default_rng(12345).standard_normal((vocab, vocab)))[0]
    t_max, a_max = max(lengths), 2 * max(lengths)
    text = np.zeros((n, t_max, vocab))
    audio = np.zeros((n, a_max, vocab + 1))
    text_mask = np.zeros((n, t_max), dtype=bool)
    audio_mask = np.zeros((n, a_max), dtype=bool)
    match = np.full((n, t_max), -1, dtype=np.int64)
    audio_words = np.full((n, a_max), -1, dtype=np.int64)
    labels = rng.integers(0, 2, size=n)
    for i in range(n):
        n_t = int(rng.choice(lengths))
        words = rng.choice(vocab, size=2 * n_t, replace=False)
        n_on = (int(rng.integers((n_t + 1) // 2, n_t + 1)) if labels[i]
                else int(rng.integers(0, (n_t + 1) // 2)))
        flags_text_words = rng.permutation(np.arange(n_t) < n_on)
        flags = np.concatenate([flags_text_words, rng.permutation(np.arange(n_t) >= n_on)])
        order = rng.permutation(2 * n_t)  # frame f holds word words[order[f]]
        text[i, np.arange(n_t), words[:n_t]] = 1.0
        text_mask[i, :n_t] = True
        audio[i, :2 * n_t, :vocab] = rotation[words[order]] + noise * rng.standard_normal((2 * n_t, vocab))
        audio[i, :2 * n_t, vocab] = flags[order]
        audio_mask[i, :2 * n_t] = True
        match[i, :n_t] = np.argsort(order)[:n_t]
        audio_words[i, :2 * n_t] = words[order]
    return AlignedSequences(text, text_mask, audio, audio_mask, match, audio_words, labels.astype(np.int64))


@dataclass(frozen=True)
class ClassConditionalViews:
    """Two views independent given the class: y ~ prior, x_v | y ~ N(means_v[y], σ²I),
    x_t | y ~ N(means_t[y], σ²I)."""

    x_v: np.ndarray
    x_t: np.ndarray
    y: np.ndarray
    means_v: np.ndarray
    means_t: np.ndarray
    sigma: float
    prior: np.ndarray


def make_class_conditional_views(n: int, prior: Sequence[float], *, dim: int = 2, sigma: float = 1.0,
                                 seed: int = 0) -> ClassConditionalViews:
    """Samples of the generative model X_v ⊥ X_t | Y with class means drawn from N(0, I) (one set per view).

    Its exact Bayes posterior is known in closed form, so fused predictions can be compared with it.
    """
    from ._checks import check_in_range, check_positive_int, check_probabilities, rng_from

    check_positive_int(n, "n")
    check_positive_int(dim, "dim")
    check_in_range(sigma, "sigma", 0.0, 100.0, low_open=True)
    prior = check_probabilities(prior, "prior")
    if prior.ndim != 1 or len(prior) < 2:
        raise ValueError(f"prior must be a vector of at least 2 class probabilities, got shape {prior.shape}")
    rng = rng_from(seed)
    k = len(prior)
    means_v, means_t = rng.standard_normal((k, dim)), rng.standard_normal((k, dim))
    y = rng.choice(k, size=n, p=prior)
    x_v = means_v[y] + sigma * rng.standard_normal((n, dim))
    x_t = means_t[y] + sigma * rng.standard_normal((n, dim))
    return ClassConditionalViews(x_v, x_t, y.astype(np.int64), means_v, means_t, float(sigma), prior)


# ---------------------------------------------------------------------------------------------
# Chapter 04 — challenges: synthetic generators
# ---------------------------------------------------------------------------------------------


def _unit_rows(rng: np.random.Generator, rows: int, cols: int) -> np.ndarray:
    m = rng.standard_normal((rows, cols))
    return m / np.linalg.norm(m, axis=1, keepdims=True)


def make_dominance_data(n: int, seed: int | np.random.Generator = 0, *, n_classes: int = 4, dim: int = 8,
                        strong_separation: float = 5.0, weak_separation: float = 3.0,
                        strong_scale: float = 5.0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Two views of a K-class label where view v dominates (text: 训练动态与模态主导).

    Class k has unit-length means m_v[k], m_t[k] (fixed, the same for every seed); the views are
    x_v = strong_scale · (strong_separation · m_v[y] + ε_v) (an easy signal at a large scale) and
    x_t = weak_separation · m_t[y] + ε_t (a harder signal at unit scale), ε ~ N(0, I_dim).
    Returns (x_v (n, dim), x_t (n, dim), y (n,)).
    """
    from ._checks import check_in_range, check_positive_int, rng_from

    check_positive_int(n, "n")
    check_positive_int(n_classes, "n_classes", minimum=2)
    check_positive_int(dim, "dim")
    for name, value in (("strong_separation", strong_separation), ("weak_separation", weak_separation),
                        ("strong_scale", strong_scale)):
        check_in_range(value, name, 0.0, 1e6)
    geometry = np.random.default_rng(404)
    means_v, means_t = _unit_rows(geometry, n_classes, dim), _unit_rows(geometry, n_classes, dim)
    rng = rng_from(seed)
    y = rng.integers(0, n_classes, n)
    x_v = strong_scale * (strong_separation * means_v[y] + rng.standard_normal((n, dim)))
    x_t = weak_separation * means_t[y] + rng.standard_normal((n, dim))
    return x_v, x_t, y.astype(np.int64)


def make_conflicting_views(n: int, seed: int | np.random.Generator = 0, *, good_separation: float = 1.0,
                           poor_separation: float = 2.0, corruption: float = 0.3
                           ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A binary label seen by a good view and a poor, partly adversarial one (text: 负迁移).

    y uniform on {0, 1}, s = 2y − 1. x_v = good_separation · s + N(0, 1). The poor view flips the
    sign on a random ``corruption`` fraction of examples: x_t = ± poor_separation · s + N(0, 1), so a
    predictor trained on clean data is confidently wrong there. Returns (x_v (n,), x_t (n,), y (n,)).
    """
    from ._checks import check_in_range, check_positive_int, rng_from

    check_positive_int(n, "n")
    check_in_range(good_separation, "good_separation", 0.0, 100.0)
    check_in_range(poor_separation, "poor_separation", 0.0, 100.0)
    check_in_range(corruption, "corruption", 0.0, 1.0)
    rng = rng_from(seed)
    y = rng.integers(0, 2, n)
    s = 2.0 * y - 1.0
    flip = np.where(rng.random(n) < corruption, -1.0, 1.0)
    x_v = good_separation * s + rng.standard_normal(n)
    x_t = flip * poor_separation * s + rng.standard_normal(n)
    return x_v, x_t, y.astype(np.int64)


def make_latent_views(n: int, seed: int | np.random.Generator = 0, *, relation: str = "linear",
                      dim: int = 6, noise: float = 0.1, offset: float = 2.0
                      ) -> tuple[list[np.ndarray], np.ndarray]:
    """Two views of a 2-D latent z ~ N(0, I) with a 4-class label (text: 模态缺失).

    y = the orientation of z: angle(z) mod π cut into four bins of π/4 (so z and −z share a class).
    x_v = A_v z + offset + noise · ε (raw features are rarely centred: every coordinate is shifted by
    ``offset``). ``relation="linear"``: x_t = A_t z + offset + noise · ε, so (x_v, x_t) is jointly
    Gaussian and the conditional mean E[x_t | x_v] is exact. ``relation="nonlinear"``: x_t sees
    z through its doubled angle, x_t = A_t (z₁² − z₂², 2 z₁ z₂)/√2 + offset + noise · ε — it still tells the
    class, but it is uncorrelated with x_v, so a Gaussian model finds no relation between the views.
    A_v, A_t are fixed (dim × 2) matrices with orthonormal columns. Returns ([x_v, x_t], y).
    """
    from ._checks import check_choice, check_in_range, check_positive_int, rng_from

    check_positive_int(n, "n")
    check_positive_int(dim, "dim", minimum=2)
    check_in_range(noise, "noise", 0.0, 100.0)
    check_in_range(offset, "offset", -100.0, 100.0)
    check_choice(relation, "relation", ("linear", "nonlinear"))
    geometry = np.random.default_rng(2024)
    a_v = np.linalg.qr(geometry.standard_normal((dim, 2)))[0]
    a_t = np.linalg.qr(geometry.standard_normal((dim, 2)))[0]
    rng = rng_from(seed)
    z = rng.standard_normal((n, 2))
    y = (np.mod(np.arctan2(z[:, 1], z[:, 0]), np.pi) // (np.pi / 4)).astype(np.int64)
    seen_by_t = z if relation == "linear" else np.stack(
        [z[:, 0] ** 2 - z[:, 1] ** 2, 2 * z[:, 0] * z[:, 1]], axis=1) / np.sqrt(2)
    x_v = z @ a_v.T + offset + noise * rng.standard_normal((n, dim))
    x_t = seen_by_t @ a_t.T + offset + noise * rng.standard_normal((n, dim))
    return [x_v, x_t], np.minimum(y, 3)


def digit_views_pca(views: Sequence[str] = ("pix", "fou"), n_components: int = 12, *,
                    test_fraction: float = 0.3, seed: int = 0
                    ) -> tuple[list[np.ndarray], np.ndarray, list[np.ndarray], np.ndarray]:
    """Two (or more) UCI digit views, each reduced by PCA to ``n_components`` and standardised.

    The split is a seeded random permutation; PCA (``pca_project``, centred, not scaled), then the
    scores standardised (``standardise``), all fitted on the training part only (so the test part is
    centred only approximately). Returns (train_views, train_y, test_views, test_y).
    """
    from ._checks import check_in_range

    check_positive_int(n_components, "n_components")
    check_in_range(test_fraction, "test_fraction", 0.0, 1.0, low_open=True, high_open=True)
    check_positive_int(seed, "seed", minimum=0)
    data = load_multiple_features(views)
    y = data.targets["digit"].astype(np.int64)
    order = np.random.default_rng(seed).permutation(len(y))
    n_test = int(round(test_fraction * len(y)))
    test, train = order[:n_test], order[n_test:]
    train_views, test_views = [], []
    for name in data.views:
        x = data.views[name].astype(float)
        if n_components > x.shape[1]:
            raise ValueError(f"n_components must be at most {x.shape[1]} for view {name!r}")
        scores = pca_project([x], n_components, fit_rows=train, standardised=False)[0]
        tr, te = standardise(scores[train], scores[test])
        train_views.append(tr)
        test_views.append(te)
    return train_views, y[train], test_views, y[test]


# ---------------------------------------------------------------------------------------------
# Chapter 05 — applications: synthetic generators
# ---------------------------------------------------------------------------------------------

DIAGNOSIS_CLASSES: tuple[str, ...] = ("healthy", "mild", "severe")


@dataclass(frozen=True)
class Diagnosis:
    """A SIMULATED diagnosis data set (no patient is real): ``clinical`` (n, d_c) tabular measurements,
    ``imaging`` (n, d_i) image features with NaN rows where no image was taken, ``labels`` in
    ``DIAGNOSIS_CLASSES`` order, and ``imaged`` (n,) True where the imaging row is present."""

    clinical: np.ndarray
    imaging: np.ndarray
    labels: np.ndarray
    imaged: np.ndarray


def make_diagnosis(n: int, seed: int | np.random.Generator = 0, *,
                   missing_by_class: Sequence[float] = (0.4, 0.75, 0.1), shared: float = 1.2,
                   d_clinical: int = 6, d_imaging: int = 8) -> Diagnosis:
    """A simulated three-class diagnosis with informative missingness (imaging skipped for mild cases).

    A latent severity s = μ_y + shared·ε (ε ~ N(0, 1), the same for both modalities) drives both:
    clinical = a_c s + N(0, I), imaging = a_i s + N(0, I) (fixed unit directions a_c, a_i). Because ε is
    shared, the modalities are *dependent given the class* (a product of experts double-counts it).
    The imaging row of an example of class y is missing (NaN) with probability ``missing_by_class[y]``.
    """
    from ._checks import check_in_range, check_positive_int, rng_from

    n = check_positive_int(n, "n")
    if len(missing_by_class) != len(DIAGNOSIS_CLASSES):
        raise ValueError(f"missing_by_class must hold one probability per class "
                         f"({len(DIAGNOSIS_CLASSES)}), got {list(missing_by_class)}")
    missing = np.array([check_in_range(p, "missing_by_class", 0.0, 1.0) for p in missing_by_class])
    shared = check_in_range(shared, "shared", 0.0, 10.0)
    d_clinical = check_positive_int(d_clinical, "d_clinical")
    d_imaging = check_positive_int(d_imaging, "d_imaging")
    rng = rng_from(seed)
    fixed = np.random.default_rng(12345)  # the measurement directions: the same "hospital" for every seed
    a_c = fixed.standard_normal(d_clinical)
    a_i = fixed.standard_normal(d_imaging)
    a_c, a_i = a_c / np.linalg.norm(a_c), a_i / np.linalg.norm(a_i)
    labels = rng.integers(0, len(DIAGNOSIS_CLASSES), n)
    severity = np.array([0.0, 1.5, 3.0])[labels] + shared * rng.standard_normal(n)
    clinical = np.outer(severity, a_c) + rng.standard_normal((n, d_clinical)) + 1.0
    imaging = np.outer(severity, 1.5 * a_i) + rng.standard_normal((n, d_imaging)) + 2.0
    imaged = rng.random(n) >= missing[labels]
    imaging[~imaged] = np.nan
    return Diagnosis(clinical, imaging, labels.astype(np.int64), imaged)


def make_missing_views_task(n_train: int = 300, n_test: int = 300, seed: int | np.random.Generator = 0, *,
                            n_classes: int = 3, dims: Sequence[int] = (5, 8, 3), separation: float = 1.0,
                            missing: float = 0.3) -> tuple[list[np.ndarray], np.ndarray,
                                                           list[np.ndarray], np.ndarray]:
    """A public multi-view classification task with views missing at random (the capstone's small instance).

    Class y has a random mean in every view (entries N(0, separation²)), plus unit noise; each feature is then
    scaled by a random factor and shifted by a random offset (so raw zeros are far from the data). Every view
    of every example is missing (a NaN row) with probability ``missing``; each example keeps one view.
    Returns (train_views, train_labels, test_views, test_labels).
    """
    from ._checks import check_in_range, check_positive_int, rng_from

    n_train, n_test = check_positive_int(n_train, "n_train"), check_positive_int(n_test, "n_test")
    n_classes = check_positive_int(n_classes, "n_classes", minimum=2)
    dims = [check_positive_int(d, "dims") for d in dims]
    separation = check_in_range(separation, "separation", 0.0, 100.0)
    missing = check_in_range(missing, "missing", 0.0, 1.0, high_open=True)
    rng = rng_from(seed)
    n = n_train + n_test
    y = rng.integers(0, n_classes, n)
    present = rng.random((n, len(dims))) >= missing
    empty = np.flatnonzero(~present.any(axis=1))
    present[empty, rng.integers(0, len(dims), len(empty))] = True
    views = []
    for m, d in enumerate(dims):
        x = separation * rng.standard_normal((n_classes, d))[y] + rng.standard_normal((n, d))
        x = x * np.exp(rng.uniform(-1.0, 2.0, d)) + rng.uniform(-10.0, 10.0, d)
        x[~present[:, m]] = np.nan
        views.append(x)
    return [v[:n_train] for v in views], y[:n_train], [v[n_train:] for v in views], y[n_train:]
