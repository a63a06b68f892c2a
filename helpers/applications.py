"""Applications on real data (text: 应用与跨学科连接): what chapter 05 needs beyond chapters 01–04.

The module reads like chapter 05:

1. **Small-data evaluation** (biology, nutrimouse: 40 mice): per-view logistic-regression experts,
   fused early (concatenation), late (mean of probabilities, a mixture of experts) or by a product of
   experts (``helpers.fusion.product_of_experts``, chained over the views), scored by repeated
   stratified k-fold cross-validation so that the *spread* over repeats is visible
   (``cross_validated_accuracies``), with a Wilson interval per accuracy (``wilson_interval``);
   canonical correlations between two views, in-sample and on held-out folds
   (``canonical_correlations``, ``held_out_canonical_correlation``), and the
   gene–lipid correlations ordered by the first canonical pair (``gene_lipid_map``), each lipid named
   by its family (``lipid_family``).
2. **Complementarity across many views** (the six-view digits): accuracy of each view alone, of
   every pair fused early, the gain of a pair over its better member (``complementarity``), and
   robustness when views go missing at random (``missing_views_curves``, reusing chapter 04's
   ``missing_mask``, ``MissingAwareFusion`` and ``train_missing_aware`` with ``drop="each"``), over
   data seeds (``missing_views_over_seeds``).
3. **A simulated diagnosis**: naive imputation vs a missingness indicator vs modality dropout when
   missingness carries information (``missingness_strategies``), and calibration of PoE vs MoE
   (``reliability_curve``, ``diagnosis_calibration``, over shared-noise levels and data seeds:
   ``calibration_over_seeds``).

Conventions: views are lists (or dicts) of (n, d_m) arrays; a missing view of an example is a row of
NaN (chapter 04's convention); models are chapter 01's logistic regression
(``helpers.principles.fit_logistic``, fast on small data) or chapter 04's torch models trained through
``helpers.train.fit``; views are standardised and reduced by ``helpers.data.standardise`` and
``helpers.data.pca_project``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import reduce
from typing import Mapping, Sequence

import numpy as np
from scipy.special import logsumexp

from . import single_thread
from ._checks import as_array, check_in_range, check_positive_int, check_same_length, rng_from
from .challenges import mark_missing, missing_mask, train_missing_aware
from .data import pca_project, standardise
from .fusion import expected_calibration_error, mixture_of_experts, product_of_experts
from .principles import LogisticModel, fit_logistic
from .train import as_tensors, predict

FUSED: tuple[str, ...] = ("early", "late", "poe")


# ---------------------------------------------------------------------------------------------
# 1. Small data: experts, fusion rules and cross-validation
# ---------------------------------------------------------------------------------------------


def _full_log_proba(model: LogisticModel, x: np.ndarray, n_classes: int) -> np.ndarray:
    """log p(y | x) over all ``n_classes`` (classes absent from the model's training get ≈ 0)."""
    out = np.full((len(x), n_classes), np.log(1e-12))
    out[:, model.classes] = np.log(np.maximum(model.predict_proba(x), 1e-12))
    return out - logsumexp(out, axis=1, keepdims=True)


def poe_many(log_probs: Sequence[np.ndarray], log_prior: np.ndarray) -> np.ndarray:
    """Product of M experts (text: 概率融合机制): chapter 03's two-expert rule applied M − 1 times,
    log q(y | x_1..x_M) = Σ_m log p(y | x_m) − (M − 1) log p(y) − logsumexp(…)."""
    if not len(log_probs):
        raise ValueError("log_probs must hold at least one expert's (n, K) log-probabilities")
    return reduce(lambda fused, expert: product_of_experts(fused, expert, log_prior), log_probs)


def _check_views(views: Mapping[str, np.ndarray] | Sequence[np.ndarray], name: str) -> dict[str, np.ndarray]:
    if isinstance(views, np.ndarray) or not len(views):
        raise ValueError(f"{name} must be a non-empty dict (or list) of (n, d) arrays, one per view")
    items = (views.items() if isinstance(views, Mapping)
             else ((f"view {i + 1}", v) for i, v in enumerate(views)))
    out = {key: as_array(v, f"{name}[{key!r}]", ndim=2) for key, v in items}
    check_same_length(**{str(k): v for k, v in out.items()})
    return out


def stratified_folds(labels: np.ndarray, n_splits: int, seed: int | np.random.Generator = 0) -> np.ndarray:
    """A fold index (n,) in 0 … n_splits − 1: each class is shuffled and dealt round the folds in turn,
    so every fold holds about the same share of every class."""
    labels = as_array(labels, "labels", ndim=1, dtype=np.int64)
    check_positive_int(n_splits, "n_splits", minimum=2)
    if n_splits > len(labels):
        raise ValueError(f"n_splits must be at most the number of examples ({len(labels)}), got {n_splits}")
    rng = rng_from(seed)
    fold = np.empty(len(labels), dtype=np.int64)
    start = 0
    for cls in np.unique(labels):
        members = rng.permutation(np.flatnonzero(labels == cls))
        fold[members] = (start + np.arange(len(members))) % n_splits
        start += len(members)
    return fold


def fused_probabilities(train_views: Mapping[str, np.ndarray], y_train: np.ndarray,
                        test_views: Mapping[str, np.ndarray], n_classes: int, *, C: float = 0.1
                        ) -> dict[str, np.ndarray]:
    """Test-set class probabilities of each view's expert and of the three fusions ``FUSED``:
    "early" (one expert on the standardised concatenation), "late" (mean of the view experts'
    probabilities) and "poe" (product of the view experts, prior divided out M − 1 times)."""
    train_views, test_views = _check_views(train_views, "train_views"), _check_views(test_views, "test_views")
    if set(train_views) != set(test_views):
        raise ValueError(f"test_views must have the views of train_views {sorted(train_views)}, "
                         f"got {sorted(test_views)}")
    y_train = as_array(y_train, "y_train", ndim=1, dtype=np.int64)
    check_same_length(y_train=y_train, **{f"train_views[{k!r}]": v for k, v in train_views.items()})
    check_positive_int(n_classes, "n_classes", minimum=int(y_train.max(initial=0)) + 1)
    scaled = {name: standardise(train_views[name], test_views[name]) for name in train_views}
    log_probs = {name: _full_log_proba(fit_logistic(tr, y_train, C=C), te, n_classes)
                 for name, (tr, te) in scaled.items()}
    prior = np.bincount(y_train, minlength=n_classes) / len(y_train)
    early = fit_logistic(np.hstack([tr for tr, _ in scaled.values()]), y_train, C=C)
    out = {name: np.exp(lp) for name, lp in log_probs.items()}
    out["early"] = np.exp(_full_log_proba(early, np.hstack([te for _, te in scaled.values()]), n_classes))
    out["late"] = np.mean([np.exp(lp) for lp in log_probs.values()], axis=0)
    out["poe"] = np.exp(poe_many(list(log_probs.values()), np.log(np.maximum(prior, 1e-12))))
    return out


def cross_validated_accuracies(views: Mapping[str, np.ndarray], labels: np.ndarray, *, n_splits: int = 5,
                               n_repeats: int = 10, C: float = 0.1, seed: int = 0) -> dict[str, np.ndarray]:
    """Accuracy of each view alone and of each fusion in ``FUSED``, by stratified ``n_splits``-fold
    cross-validation repeated ``n_repeats`` times with different fold assignments.

    Returns ``accuracies[method]``, one value per repeat (the spread says how much one split of a
    small data set can move the number). ``n_splits = n`` with ``n_repeats = 1`` is leave-one-out.
    Standardisation and every fit use the training folds only.
    """
    views = _check_views(views, "views")
    labels = as_array(labels, "labels", ndim=1, dtype=np.int64)
    check_same_length(labels=labels, **{str(k): v for k, v in views.items()})
    check_positive_int(n_repeats, "n_repeats")
    n_classes = int(labels.max()) + 1
    rng = rng_from(seed)
    with single_thread():
        return _repeat_cross_validation(views, labels, n_splits, n_repeats, C, n_classes, rng)


def _repeat_cross_validation(views: dict[str, np.ndarray], labels: np.ndarray, n_splits: int, n_repeats: int,
                             C: float, n_classes: int, rng: np.random.Generator) -> dict[str, np.ndarray]:
    results: dict[str, list[float]] = {}
    for _ in range(n_repeats):
        fold = stratified_folds(labels, n_splits, rng)
        correct: dict[str, np.ndarray] = {}
        for k in range(n_splits):
            test, train = fold == k, fold != k
            probs = fused_probabilities({n: v[train] for n, v in views.items()}, labels[train],
                                        {n: v[test] for n, v in views.items()}, n_classes, C=C)
            for method, p in probs.items():
                column = correct.setdefault(method, np.zeros(len(labels), dtype=bool))
                column[test] = p.argmax(1) == labels[test]
        for method, hits in correct.items():
            results.setdefault(method, []).append(float(hits.mean()))
    return {method: np.asarray(values) for method, values in results.items()}


def wilson_interval(accuracy: float | np.ndarray, n: int, *, z: float = 1.96
                    ) -> tuple[np.ndarray, np.ndarray]:
    """Wilson score interval for a proportion (an accuracy â measured on ``n`` independent examples):

    centre = (â + z²/2n) / (1 + z²/n),  half-width = z/(1 + z²/n) · √(â(1 − â)/n + z²/4n²).

    Unlike â ± z√(â(1 − â)/n) it does not collapse to zero width at â = 0 or 1: 40 of 40 right
    gives [0.912, 1] at z = 1.96, not certainty. Returns (low, high)."""
    a = as_array(accuracy, "accuracy")
    if np.any((a < 0) | (a > 1)):
        raise ValueError(f"accuracy must lie in [0, 1], got {accuracy!r}")
    n = check_positive_int(n, "n")
    z = check_in_range(z, "z", 0.0, 10.0, low_open=True)
    denominator = 1 + z ** 2 / n
    centre = (a + z ** 2 / (2 * n)) / denominator
    half = z / denominator * np.sqrt(a * (1 - a) / n + z ** 2 / (4 * n ** 2))
    return np.clip(centre - half, 0.0, 1.0), np.clip(centre + half, 0.0, 1.0)


# ---------------------------------------------------------------------------------------------
# 1b. Alignment between two views: canonical correlations and a gene–lipid map
# ---------------------------------------------------------------------------------------------


def canonical_correlations(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """All canonical correlations ρ_1 ≥ ρ_2 ≥ … of two views (CCA, 典型相关分析), in closed form:
    the singular values of Q_xᵀ Q_y, where Q_x, Q_y are orthonormal bases of the centred views."""
    x = as_array(x, "x", ndim=2)
    y = as_array(y, "y", ndim=2)
    check_same_length(x=x, y=y)
    if max(x.shape[1], y.shape[1]) >= len(x) - 1:
        raise ValueError(f"x and y need fewer columns than rows − 1 (got {x.shape[1]}, {y.shape[1]} columns, "
                         f"{len(x)} rows): with d ≥ n − 1 every canonical correlation is 1; "
                         "reduce them first (PCA)")
    qx = np.linalg.qr(x - x.mean(0))[0]
    qy = np.linalg.qr(y - y.mean(0))[0]
    return np.clip(np.linalg.svd(qx.T @ qy, compute_uv=False), 0.0, 1.0)


def held_out_canonical_correlation(x: np.ndarray, y: np.ndarray, *, n_components: int = 5,
                                   n_splits: int = 5, seed: int = 0) -> dict[str, float]:
    """First canonical correlation of two views after PCA to ``n_components`` each (scikit-learn CCA):
    "in-sample" (fitted and scored on all examples) and "held-out" (fitted on k − 1 folds, the
    canonical variates correlated on the left-out fold, collected over the folds)."""
    from sklearn.cross_decomposition import CCA

    x = as_array(x, "x", ndim=2)
    y = as_array(y, "y", ndim=2)
    n = check_same_length(x=x, y=y)
    fold = rng_from(seed).permutation(n) % check_positive_int(n_splits, "n_splits", minimum=2)
    u_out, v_out = np.zeros(n), np.zeros(n)
    with single_thread():
        px, py = pca_project([x, y], n_components)
        cca = CCA(n_components=1, max_iter=1000).fit(px, py)
        u, v = cca.transform(px, py)
        in_sample = abs(float(np.corrcoef(u[:, 0], v[:, 0])[0, 1]))
        for k in range(n_splits):
            test, train = fold == k, fold != k
            px_k, py_k = pca_project([x, y], n_components, fit_rows=train)
            tx, ty = (px_k[train], px_k[test]), (py_k[train], py_k[test])
            fitted = CCA(n_components=1, max_iter=1000).fit(tx[0], ty[0])
            u_k, v_k = fitted.transform(tx[1], ty[1])
            sign = np.sign(np.corrcoef(*(a[:, 0] for a in fitted.transform(tx[0], ty[0])))[0, 1])
            u_out[test], v_out[test] = u_k[:, 0], sign * v_k[:, 0]
    return {"in-sample": in_sample, "held-out": float(np.corrcoef(u_out, v_out)[0, 1])}


def lipid_family(name: str) -> str:
    """The family of a fatty acid named like nutrimouse's columns, "C<carbons>.<double bonds>[n.<k>]":
    0 double bonds → "saturated", 1 → "monounsaturated", 2 or more → "polyunsaturated"."""
    match = re.match(r"[Cc]\d+\.(\d+)", str(name))
    if match is None:
        raise ValueError(f"name must look like 'C18.2n.6' (carbons.double bonds), got {name!r}")
    bonds = int(match.group(1))
    return "saturated" if bonds == 0 else "monounsaturated" if bonds == 1 else "polyunsaturated"


@dataclass(frozen=True)
class GeneLipidMap:
    """Pearson correlations ``corr[i, j]`` between ``genes[i]`` and ``lipids[j]``, rows and columns
    ordered by their correlation with the first canonical variates; ``variates`` (n, 2) holds the first
    canonical pair (u on the gene side, v on the lipid side) and ``rho`` their correlation."""

    corr: np.ndarray
    genes: tuple[str, ...]
    lipids: tuple[str, ...]
    variates: np.ndarray
    rho: float


def _corr_matrix(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    za, zb = standardise(a)[0], standardise(b)[0]
    return za.T @ zb / len(a)


def gene_lipid_map(genes: np.ndarray, lipids: np.ndarray, gene_names: Sequence[str],
                   lipid_names: Sequence[str], *, n_components: int = 5, top: int = 15) -> GeneLipidMap:
    """Which genes move with which lipids: the ``top`` genes most correlated with the lipid-side first
    canonical variate (scikit-learn CCA on ``n_components`` principal components of each view), and
    their correlation with every lipid."""
    from sklearn.cross_decomposition import CCA

    genes = as_array(genes, "genes", ndim=2)
    lipids = as_array(lipids, "lipids", ndim=2)
    check_same_length(genes=genes, lipids=lipids)
    if len(gene_names) != genes.shape[1] or len(lipid_names) != lipids.shape[1]:
        raise ValueError(f"gene_names and lipid_names must name every column: {genes.shape[1]} and "
                         f"{lipids.shape[1]} names, got {len(gene_names)} and {len(lipid_names)}")
    top = check_positive_int(top, "top")
    with single_thread():
        px, py = pca_project([genes, lipids], n_components)
        u, v = (a[:, 0] for a in CCA(n_components=1, max_iter=1000).fit(px, py).transform(px, py))
    if np.corrcoef(u, v)[0, 1] < 0:
        v = -v
    gene_to_v = _corr_matrix(genes, v[:, None])[:, 0]
    chosen = np.argsort(-np.abs(gene_to_v))[:min(top, genes.shape[1])]
    chosen = chosen[np.argsort(-gene_to_v[chosen])]
    lipid_order = np.argsort(-_corr_matrix(lipids, v[:, None])[:, 0])
    corr = _corr_matrix(genes[:, chosen], lipids[:, lipid_order])
    return GeneLipidMap(corr, tuple(gene_names[i] for i in chosen),
                        tuple(lipid_names[j] for j in lipid_order),
                        np.column_stack([u, v]), float(np.corrcoef(u, v)[0, 1]))


# ---------------------------------------------------------------------------------------------
# 2. Complementarity across many views (the six-view digits)
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ViewSplit:
    """Views reduced by PCA (fitted on the training part) and standardised: ``train[m]``, ``test[m]``."""

    names: tuple[str, ...]
    train: list[np.ndarray]
    test: list[np.ndarray]
    y_train: np.ndarray
    y_test: np.ndarray


@single_thread()
def digit_split(*, n_components: int = 20, n_train: int = 1000, seed: int = 0) -> ViewSplit:
    """The six UCI digit views, each standardised and reduced to its top ``n_components`` principal
    components (all 6 for ``mor``), on a seeded random split of ``n_train`` training digits."""
    from .data import load_multiple_features

    check_positive_int(n_components, "n_components")
    check_positive_int(n_train, "n_train", minimum=20)
    data = load_multiple_features()
    y = data.targets["digit"].astype(np.int64)
    if n_train >= len(y):
        raise ValueError(f"n_train must leave test digits: below {len(y)}, got {n_train}")
    order = rng_from(seed).permutation(len(y))
    train, test = order[:n_train], order[n_train:]
    train_views, test_views = [], []
    for x in data.views.values():
        scores = pca_project([x], min(n_components, x.shape[1]), fit_rows=train)[0]
        tr, te = standardise(scores[train], scores[test])
        train_views.append(tr)
        test_views.append(te)
    return ViewSplit(tuple(data.views), train_views, test_views, y[train], y[test])


@dataclass(frozen=True)
class Complementarity:
    """``single[m]`` accuracy of view m alone; ``pair[i, j]`` of views i and j fused early (diagonal:
    the view alone); ``gain[i, j] = pair[i, j] − max(single[i], single[j])``; ``redundancy[i, j]`` the mean
    of the top canonical correlations between views i and j on training data; ``fused`` the six views
    fused early, by PoE and by MoE;
    ``log_probs[m]`` the test-set log-probabilities of view m's expert (reused by
    ``missing_views_curves``)."""

    names: tuple[str, ...]
    single: np.ndarray
    pair: np.ndarray
    gain: np.ndarray
    redundancy: np.ndarray
    fused: dict[str, float]
    log_probs: list[np.ndarray]


@single_thread()
def complementarity(split: ViewSplit, *, C: float = 1.0, n_correlations: int = 5) -> Complementarity:
    """Every view alone, every pair and all views fused (logistic regression on the concatenation),
    the gain of a pair over its better member, and how predictable each view is from another."""
    if not isinstance(split, ViewSplit):
        raise ValueError(f"split must be a ViewSplit (from digit_split), got {type(split).__name__}")
    check_positive_int(n_correlations, "n_correlations")
    m, y_tr, y_te = len(split.names), split.y_train, split.y_test
    n_classes = int(max(y_tr.max(), y_te.max())) + 1

    def score(ids: Sequence[int]) -> tuple[float, np.ndarray]:
        model = fit_logistic(np.hstack([split.train[i] for i in ids]), y_tr, C=C)
        x = np.hstack([split.test[i] for i in ids])
        return float(np.mean(model.predict(x) == y_te)), _full_log_proba(model, x, n_classes)

    pair, redundancy = np.zeros((m, m)), np.eye(m)
    log_probs = []
    for i in range(m):
        pair[i, i], lp = score([i])
        log_probs.append(lp)
        for j in range(i):
            pair[i, j] = pair[j, i] = score([j, i])[0]
            rho = canonical_correlations(split.train[i], split.train[j])[:n_correlations]
            redundancy[i, j] = redundancy[j, i] = float(rho.mean())
    single = np.diag(pair).copy()
    gain = pair - np.maximum.outer(single, single)
    prior = np.bincount(y_tr, minlength=n_classes) / len(y_tr)
    fused = {"early (all six)": score(range(m))[0],
             "PoE (all six)": float(np.mean(poe_many(log_probs, np.log(prior)).argmax(1) == y_te)),
             "MoE (all six)": float(np.mean(np.mean(np.exp(log_probs), axis=0).argmax(1) == y_te))}
    return Complementarity(split.names, single, pair, gain, redundancy, fused, log_probs)


def poe_present(log_probs: Sequence[np.ndarray], present: np.ndarray, log_prior: np.ndarray) -> np.ndarray:
    """Product of the experts whose view is present, per example: Σ_{m present} (log p_m − log p(y)) +
    log p(y), normalised. A missing view contributes nothing, so no imputation is needed."""
    if not len(log_probs):
        raise ValueError("log_probs must hold at least one expert's (n, K) log-probabilities")
    present = np.asarray(present, dtype=bool)
    if present.shape != (len(log_probs[0]), len(log_probs)):
        raise ValueError(f"present must have shape {(len(log_probs[0]), len(log_probs))}, "
                         f"got {present.shape}")
    log_prior = as_array(log_prior, "log_prior", ndim=1)
    joint = log_prior + sum(np.where(present[:, [m]], lp - log_prior, 0.0) for m, lp in enumerate(log_probs))
    return joint - logsumexp(joint, axis=1, keepdims=True)


MISSING_VIEW_METHODS: tuple[str, ...] = ("early fusion, zero-fill", "early fusion + modality dropout",
                                         "PoE of the present views")


@single_thread()
def missing_views_curves(split: ViewSplit, rates: Sequence[float] = (0.0, 0.2, 0.4, 0.6, 0.8), *,
                         dropout_rate: float = 0.6, hidden: int = 32, epochs: int = 10, C: float = 1.0,
                         seed: int = 0,
                         log_probs: Sequence[np.ndarray] | None = None) -> dict[str, np.ndarray]:
    """Test accuracy when each view goes missing independently with probability ``rate``
    (chapter 04's ``missing_mask(..., drop="each")``, the same pattern for every method), for
    ``MISSING_VIEW_METHODS``: chapter 04's ``MissingAwareFusion`` trained on complete views (a missing
    view → zero vector), the same with learned missing embeddings trained with modality dropout
    (``train_missing_aware(..., drop="each")``: every view dropped independently), and
    per-view logistic experts combined by a product over the views that are present (``log_probs``:
    their test log-probabilities when already computed, e.g. ``complementarity(...).log_probs``)."""
    if not isinstance(split, ViewSplit):
        raise ValueError(f"split must be a ViewSplit (from digit_split), got {type(split).__name__}")
    rates = [check_in_range(r, "rates", 0.0, 1.0) for r in rates]
    n_classes = int(split.y_train.max()) + 1
    common = dict(hidden=hidden, epochs=epochs, seed=seed)
    models = {MISSING_VIEW_METHODS[0]: train_missing_aware(split.train, split.y_train, fill="zero",
                                                           drop="each", **common),
              MISSING_VIEW_METHODS[1]: train_missing_aware(split.train, split.y_train, fill="learned",
                                                           dropout_rate=dropout_rate, drop="each", **common)}
    if log_probs is None:
        log_probs = [_full_log_proba(fit_logistic(x, split.y_train, C=C), t, n_classes)
                     for x, t in zip(split.train, split.test)]
    elif (len(log_probs) != len(split.test)
          or any(np.shape(lp) != (len(split.y_test), n_classes) for lp in log_probs)):
        raise ValueError(f"log_probs must hold {len(split.test)} arrays of shape "
                         f"{(len(split.y_test), n_classes)}")
    log_prior = np.log(np.bincount(split.y_train, minlength=n_classes) / len(split.y_train))
    curves: dict[str, list[float]] = {m: [] for m in MISSING_VIEW_METHODS}
    for i, rate in enumerate(rates):
        present = missing_mask(len(split.y_test), len(split.test), rate, seed=seed + 100 + i, drop="each")
        views = as_tensors(*mark_missing(split.test, present))
        for name, model in models.items():
            with single_thread():
                curves[name].append(float(np.mean(predict(model, *views).argmax(1).numpy() == split.y_test)))
        fused = poe_present(log_probs, present, log_prior)
        curves[MISSING_VIEW_METHODS[2]].append(float(np.mean(fused.argmax(1) == split.y_test)))
    return {m: np.asarray(v) for m, v in curves.items()}


def missing_views_over_seeds(seeds: Sequence[int], rates: Sequence[float] = (0.0, 0.2, 0.4, 0.6, 0.8), *,
                             n_components: int = 20, n_train: int = 1000, dropout_rate: float = 0.6,
                             hidden: int = 32, epochs: int = 10) -> dict[str, np.ndarray]:
    """``missing_views_curves`` repeated over data seeds: for each seed s a new train/test split
    (``digit_split(seed=s)``), new networks and new missing patterns (all seeded by s).
    Returns ``accuracy[method]`` of shape (len(seeds), len(rates))."""
    seeds = [check_positive_int(s, "seeds", minimum=0) for s in seeds]
    if not seeds:
        raise ValueError("seeds must hold at least one seed")
    runs = [missing_views_curves(digit_split(n_components=n_components, n_train=n_train, seed=s), rates,
                                 dropout_rate=dropout_rate, hidden=hidden, epochs=epochs, seed=s)
            for s in seeds]
    return {m: np.array([run[m] for run in runs]) for m in MISSING_VIEW_METHODS}


# ---------------------------------------------------------------------------------------------
# 3. A simulated diagnosis: informative missingness and calibration
# ---------------------------------------------------------------------------------------------


MISSINGNESS_METHODS: tuple[str, ...] = ("mean imputation", "missingness indicator", "modality dropout")


def _mean_impute(train: np.ndarray, *others: np.ndarray) -> list[np.ndarray]:
    mean = np.nan_to_num(np.nanmean(train, axis=0))
    return [np.where(np.isnan(x), mean, x) for x in (train, *others)]


def _check_diagnosis(**data_sets: object) -> None:
    for name, d in data_sets.items():
        if not all(hasattr(d, a) for a in ("clinical", "imaging", "labels", "imaged")):
            raise ValueError(f"{name} must be a helpers.data.Diagnosis, got {type(d).__name__}")


@single_thread()
def missingness_strategies(train: "object", tests: Mapping[str, "object"], *, C: float = 1.0,
                           dropout_rate: float = 0.3, hidden: int = 32, epochs: int = 10,
                           seed: int = 0) -> dict[str, dict[str, float]]:
    """Accuracy of three ways to handle the missing imaging row, on each test set in ``tests``
    (``helpers.data.Diagnosis`` objects, e.g. the same missingness policy and a changed one):

    * "mean imputation": NaN → the training mean, logistic regression on [clinical; imaging];
    * "missingness indicator": the same plus a 0/1 column "imaging missing";
    * "modality dropout": chapter 04's ``MissingAwareFusion`` with a learned missing embedding,
      trained on the data as they come plus modality dropout at ``dropout_rate``.
    Returns ``accuracy[test name][method]``."""
    _check_diagnosis(train=train, **tests)
    clinical = standardise(train.clinical, *(d.clinical for d in tests.values()))
    imaging = standardise(train.imaging, *(d.imaging for d in tests.values()))
    filled = _mean_impute(imaging[0], *imaging[1:])
    flags = [np.isnan(x).any(axis=1, keepdims=True).astype(float) for x in imaging]
    y = train.labels
    naive = fit_logistic(np.hstack([clinical[0], filled[0]]), y, C=C)
    indicator = fit_logistic(np.hstack([clinical[0], filled[0], flags[0]]), y, C=C)
    with single_thread():
        dropout = train_missing_aware([clinical[0], imaging[0]], y, fill="learned", dropout_rate=dropout_rate,
                                      hidden=hidden, epochs=epochs, seed=seed)
    out: dict[str, dict[str, float]] = {}
    for k, (name, d) in enumerate(tests.items(), start=1):
        with single_thread():
            logits = predict(dropout, *as_tensors(clinical[k], imaging[k])).numpy()
        out[name] = {
            "mean imputation": float(np.mean(naive.predict(np.hstack([clinical[k], filled[k]])) == d.labels)),
            "missingness indicator": float(np.mean(
                indicator.predict(np.hstack([clinical[k], filled[k], flags[k]])) == d.labels)),
            "modality dropout": float(np.mean(logits.argmax(1) == d.labels)),
        }
    return out


@dataclass(frozen=True)
class Reliability:
    """Per confidence bin: mean confidence, accuracy and count (empty bins hold NaN and 0); the ECE,
    and over all examples the mean top-class confidence and the accuracy (confidence above accuracy
    means over-confident)."""

    confidence: np.ndarray
    accuracy: np.ndarray
    count: np.ndarray
    ece: float
    mean_confidence: float
    overall_accuracy: float


def reliability_curve(probs: np.ndarray, labels: np.ndarray, n_bins: int = 10) -> Reliability:
    """The reliability diagram's points: top-class confidence binned in [0, 1] (equal widths), each
    bin's mean confidence and accuracy, and the ECE (``helpers.fusion.expected_calibration_error``)."""
    ece = expected_calibration_error(probs, labels, n_bins)
    probs, labels = np.asarray(probs, dtype=float), np.asarray(labels)
    confidence = probs.max(axis=1)
    correct = probs.argmax(axis=1) == labels
    bins = np.minimum((confidence * n_bins).astype(int), n_bins - 1)
    count = np.bincount(bins, minlength=n_bins)
    with np.errstate(invalid="ignore"):
        conf = np.bincount(bins, confidence, n_bins) / count
        acc = np.bincount(bins, correct.astype(float), n_bins) / count
    return Reliability(conf, acc, count, ece, float(confidence.mean()), float(correct.mean()))


@single_thread()
def diagnosis_calibration(train: "object", test: "object", *, C: float = 1.0, n_bins: int = 10
                          ) -> dict[str, Reliability]:
    """Calibration of the clinical expert, the imaging expert (trained on imaged cases), and their
    PoE and MoE, on the test cases that have both modalities. Returns ``curves[name]``."""
    _check_diagnosis(train=train, test=test)
    y = train.labels
    n_classes = int(y.max()) + 1
    clinical = standardise(train.clinical, test.clinical)
    imaging = standardise(train.imaging, test.imaging)
    seen, both = train.imaged, test.imaged
    if seen.sum() < 2 or both.sum() < 1:
        raise ValueError("train and test must each hold imaged cases")
    # both experts learn on the imaged cases, so they share one prior: the class mix among imaged cases
    lp_c = _full_log_proba(fit_logistic(clinical[0][seen], y[seen], C=C), clinical[1][both], n_classes)
    lp_i = _full_log_proba(fit_logistic(imaging[0][seen], y[seen], C=C), imaging[1][both], n_classes)
    prior = np.bincount(y[seen], minlength=n_classes) / seen.sum()
    probs = {"clinical": np.exp(lp_c), "imaging": np.exp(lp_i),
             "PoE": np.exp(product_of_experts(lp_c, lp_i, np.log(prior))),
             "MoE": mixture_of_experts(np.exp(lp_c), np.exp(lp_i), 0.5)}
    return {name: reliability_curve(p, test.labels[both], n_bins) for name, p in probs.items()}



CALIBRATED: tuple[str, ...] = ("clinical", "imaging", "PoE", "MoE")


@dataclass(frozen=True)
class CalibrationSweep:
    """``diagnosis_calibration`` over shared-noise levels and data seeds: for each predictor in
    ``CALIBRATED``, arrays of shape (len(shared), len(seeds)) of the ECE, the signed gap
    ``mean confidence − accuracy`` (> 0 over-confident, < 0 under-confident) and the accuracy."""

    shared: tuple[float, ...]
    seeds: tuple[int, ...]
    ece: dict[str, np.ndarray]
    gap: dict[str, np.ndarray]
    accuracy: dict[str, np.ndarray]


def calibration_over_seeds(shared: Sequence[float] = (0.0, 0.6, 1.2), seeds: Sequence[int] = range(5), *,
                           n: int = 1500, C: float = 1.0, n_bins: int = 10) -> CalibrationSweep:
    """PoE vs MoE calibration on fresh simulated clinics: for data seed s, train on
    ``make_diagnosis(n, seed=2s, shared=σ)`` and test on ``make_diagnosis(n, seed=2s + 1, shared=σ)``
    (seed 0 is the chapter's pair 0, 1). Gap = (1/n) Σ_i max_y q(y | x_i) − (1/n) Σ_i [argmax q = y_i]."""
    from .data import make_diagnosis

    levels = tuple(check_in_range(v, "shared", 0.0, 10.0) for v in shared)
    seeds = tuple(check_positive_int(s, "seeds", minimum=0) for s in seeds)
    if not levels or not seeds:
        raise ValueError("shared and seeds must each hold at least one value")
    shape = (len(levels), len(seeds))
    ece, gap, acc = ({m: np.zeros(shape) for m in CALIBRATED} for _ in range(3))
    for i, level in enumerate(levels):
        for j, s in enumerate(seeds):
            train = make_diagnosis(n, seed=2 * s, shared=level)
            test = make_diagnosis(n, seed=2 * s + 1, shared=level)
            curves = diagnosis_calibration(train, test, C=C, n_bins=n_bins)
            for m, curve in curves.items():
                ece[m][i, j] = curve.ece
                gap[m][i, j] = curve.mean_confidence - curve.overall_accuracy
                acc[m][i, j] = curve.overall_accuracy
    return CalibrationSweep(levels, seeds, ece, gap, acc)


def calibration_report(sweep: CalibrationSweep) -> str:
    """Two lines per shared-noise level of a ``CalibrationSweep``: PoE's and MoE's signed gap
    (mean confidence − accuracy) and ECE as mean [min, max] over the seeds, then in how many seeds
    each predictor had the highest accuracy and the largest ECE."""
    if not all(hasattr(sweep, f) for f in ("shared", "seeds", "ece", "gap", "accuracy")):
        raise ValueError("sweep must be a CalibrationSweep (from calibration_over_seeds), "
                         f"got {type(sweep).__name__}")
    names = list(sweep.ece)

    def span(values: np.ndarray, sign: str = "+") -> str:
        return f"{values.mean():{sign}.3f} [{values.min():{sign}.3f}, {values.max():{sign}.3f}]"

    def winners(table: dict[str, np.ndarray], i: int) -> str:
        best = np.argmax([table[m][i] for m in names], axis=0)
        return ", ".join(f"{m} {int(np.sum(best == k))}" for k, m in enumerate(names) if np.any(best == k))

    lines = []
    for i, level in enumerate(sweep.shared):
        lines.append(f"shared noise {level:.1f}: confidence − accuracy  PoE {span(sweep.gap['PoE'][i])}  "
                     f"MoE {span(sweep.gap['MoE'][i])} | ECE  PoE {span(sweep.ece['PoE'][i], '')}  "
                     f"MoE {span(sweep.ece['MoE'][i], '')}")
        lines.append(f"    of {len(sweep.seeds)} seeds — highest accuracy: {winners(sweep.accuracy, i)};  "
                     f"largest ECE: {winners(sweep.ece, i)}")
    return "\n".join(lines)
