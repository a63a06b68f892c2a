"""Chapter 01 — why several modalities help: complementarity and redundancy.

Text section: 多模态学习的基本原理：互补性与冗余性. The module follows the chapter:

1. complementarity — the XOR task Y = -X1*X2: exact risks of unimodal and interaction classifiers,
   and trained classifiers on a noisy continuous XOR;
2. expressive power — VC dimension by brute force, each labelling decided by an LP feasibility test;
3. redundancy — corroboration and robustness, exact information from joint tables, Fano's bound
   beside the Bayes error, for binary flip-noise views and for Gaussian views;
4. estimating I(Y; X) from samples with the variational bound I >= H(Y) - CE;
5. sample complexity — learning curves and the number of samples needed to reach an error.

Labels are +-1 in the exact (theory) functions and 0/1 in the trained ones, as in the chapter.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from typing import Callable, Mapping, Sequence

import numpy as np
from scipy.optimize import brentq, linprog, minimize
from scipy.special import expit, logsumexp, ndtr, softmax

from . import single_thread
from ._checks import as_array, check_in_range, check_positive_int, check_same_length, rng_from
from .data import make_gaussian_views


@dataclass(frozen=True)
class LogisticModel:
    """A fitted logistic regression over ``classes``. Binary: p(y = classes[1] | x) = σ(w·x + b) with
    ``weights`` (d,) and a float ``bias``; K > 2 classes: p(y = classes[k] | x) = softmax(x W + b)_k
    with ``weights`` (d, K) and ``bias`` (K,)."""

    weights: np.ndarray
    bias: float | np.ndarray
    classes: np.ndarray = field(default_factory=lambda: np.array([0, 1]))

    def predict_proba(self, x: np.ndarray) -> np.ndarray:
        """Class probabilities (n, K), columns in the order of ``classes``."""
        z = as_array(x, "x", ndim=2) @ self.weights + self.bias
        if self.weights.ndim == 1:
            p1 = expit(z)
            return np.column_stack([1.0 - p1, p1])
        return softmax(z, axis=1)

    def predict(self, x: np.ndarray) -> np.ndarray:
        """The most probable class of each row (binary: classes[1] where p ≥ 0.5)."""
        p = self.predict_proba(x)
        best = (p[:, 1] >= 0.5).astype(np.int64) if p.shape[1] == 2 else p.argmax(axis=1)
        return self.classes[best]


def _logistic_labels(y: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
    labels = as_array(y, "y", ndim=1)
    if len(labels) != n or not np.all(labels == np.round(labels)):
        raise ValueError(f"y must be ({n},) integer class labels, got shape {labels.shape}")
    classes, codes = np.unique(labels.astype(np.int64), return_inverse=True)
    if len(classes) < 2:
        raise ValueError("y must hold at least two classes to fit a classifier")
    return classes, codes


def fit_logistic(x: np.ndarray, y: np.ndarray, *, C: float = 1.0) -> LogisticModel:
    """Logistic regression by L-BFGS on sum_i [logsumexp(s_i) − s_i,y_i] + ‖W‖² / (2C), s_i = x_i W + b.

    Binary y: s_i = (0, w·x_i + b), i.e. sum_i log(1 + e^{z_i}) − y_i z_i + ‖w‖²/(2C); K > 2 classes:
    one column of W per class. The intercept is not penalised: the objective of scikit-learn's
    ``LogisticRegression(C=C)`` (lbfgs), solved to a tight tolerance, in a few lines of NumPy/SciPy.
    """
    features = as_array(x, "x", ndim=2)
    classes, codes = _logistic_labels(y, len(features))
    check_in_range(C, "C", 0.0, np.inf, low_open=True, high_open=True)
    n, d = features.shape
    k = 1 if len(classes) == 2 else len(classes)
    onehot = np.eye(len(classes))[codes]

    def loss_and_gradient(theta: np.ndarray) -> tuple[float, np.ndarray]:
        w, b = theta[:d * k].reshape(d, k), theta[d * k:]
        z = features @ w + b
        if k == 1:
            residual = expit(z) - onehot[:, 1:]
            loss = np.sum(np.logaddexp(0.0, z) - onehot[:, 1:] * z)
        else:
            residual = softmax(z, axis=1) - onehot
            loss = np.sum(logsumexp(z, axis=1)) - np.sum(onehot * z)
        loss += np.sum(w * w) / (2 * C)
        return float(loss), np.append((features.T @ residual + w / C).ravel(), residual.sum(axis=0))

    with single_thread():
        result = minimize(loss_and_gradient, np.zeros((d + 1) * k), jac=True, method="L-BFGS-B",
                          options={"maxiter": 10_000, "gtol": 1e-9, "ftol": 1e-15})
    w, b = result.x[:d * k].reshape(d, k), result.x[d * k:]
    if k == 1:
        return LogisticModel(weights=w[:, 0].copy(), bias=float(b[0]), classes=classes)
    return LogisticModel(weights=w.copy(), bias=b.copy(), classes=classes)


# ---------------------------------------------------------------------------------------------
# 1. Complementarity: the XOR task
# ---------------------------------------------------------------------------------------------

#: The four inputs (x1, x2) of {-1, +1}^2, in the order (-,-), (-,+), (+,-), (+,+).
XOR_POINTS: np.ndarray = np.array([[-1.0, -1.0], [-1.0, 1.0], [1.0, -1.0], [1.0, 1.0]])


def sign(t: np.ndarray | float) -> np.ndarray:
    """sign(t) with the course's tie rule: +1 where t >= 0, else -1 (so a classifier never outputs 0)."""
    return np.where(as_array(t, "t") >= 0, 1.0, -1.0)


def xor_labels(points: np.ndarray) -> np.ndarray:
    """The XOR label Y = -X1 * X2 of each row (x1, x2) of ``points`` (text: Y = -X^(1) X^(2))."""
    array = as_array(points, "points", ndim=2)
    if array.shape[1] != 2:
        raise ValueError(f"points must have shape (n, 2), got {array.shape}")
    return -array[:, 0] * array[:, 1]


def unimodal_risk(a: np.ndarray | float, b: np.ndarray | float, *, points: np.ndarray = XOR_POINTS,
                  labels: np.ndarray | None = None, weights: np.ndarray | None = None) -> np.ndarray:
    """Exact risk P(sign(a X1 + b) != Y) of the view-1 classifier, for every (a, b) broadcast together.

    The inputs are the rows of ``points`` with probabilities ``weights`` (default uniform) and labels
    ``labels`` (default the XOR labels). Text: H_1 = {sign(a X^(1) + b)}.
    """
    x = as_array(points, "points", ndim=2)
    y = xor_labels(x) if labels is None else as_array(labels, "labels", ndim=1)
    p = np.full(len(x), 1.0 / len(x)) if weights is None else as_array(weights, "weights", ndim=1)
    check_same_length(points=x, labels=y, weights=p)
    if np.any(p < 0) or not np.isclose(p.sum(), 1.0):
        raise ValueError("weights must be non-negative probabilities summing to 1")
    a_arr, b_arr = np.broadcast_arrays(as_array(a, "a"), as_array(b, "b"))
    scores = a_arr[..., None] * x[:, 0] + b_arr[..., None]
    return ((sign(scores) != y) * p).sum(axis=-1)


def unimodal_risk_grid(a_values: np.ndarray, b_values: np.ndarray) -> np.ndarray:
    """Risk of sign(a X1 + b) on the XOR task over a grid: entry [i, j] is for b_values[i], a_values[j]."""
    a = as_array(a_values, "a_values", ndim=1)
    b = as_array(b_values, "b_values", ndim=1)
    return unimodal_risk(a[None, :], b[:, None])


def interaction_features(points: np.ndarray) -> np.ndarray:
    """The features (1, x1, x2, x1*x2) of H_int for each row (x1, x2) of ``points``: shape (n, 4)."""
    x = as_array(points, "points", ndim=2)
    if x.shape[1] != 2:
        raise ValueError(f"points must have shape (n, 2), got {x.shape}")
    return np.column_stack([np.ones(len(x)), x[:, 0], x[:, 1], x[:, 0] * x[:, 1]])


def interaction_risk(w: Sequence[float], *, points: np.ndarray = XOR_POINTS,
                     labels: np.ndarray | None = None) -> float:
    """Exact risk of sign(w0 + w1 x1 + w2 x2 + w3 x1 x2) under the uniform distribution on ``points``."""
    weights = as_array(w, "w", ndim=1)
    if weights.shape != (4,):
        raise ValueError(f"w must be (w0, w1, w2, w3), got shape {weights.shape}")
    x = as_array(points, "points", ndim=2)
    y = xor_labels(x) if labels is None else as_array(labels, "labels", ndim=1)
    check_same_length(points=x, labels=y)
    return float(np.mean(sign(interaction_features(x) @ weights) != y))


@dataclass(frozen=True)
class XorFit:
    """Classifiers trained on a noisy XOR: ``predict[name](X)`` gives P(Y=1) for rows (x1, x2);
    ``accuracy[name]`` is the held-out accuracy."""

    predict: dict[str, Callable[[np.ndarray], np.ndarray]]
    accuracy: dict[str, float]


XOR_MODELS: tuple[str, ...] = ("view 1 only", "concatenation", "interaction", "MLP")


def _xor_mlp(train: np.ndarray, y: np.ndarray, seed: int, epochs: int) -> Callable[[np.ndarray], np.ndarray]:
    """A 2-16-2 tanh MLP trained with helpers.train.fit; returns its P(Y=1) function."""
    import torch

    from .train import as_tensors, fit, predict, seeded

    with seeded(seed):
        model = torch.nn.Sequential(torch.nn.Linear(2, 16), torch.nn.Tanh(), torch.nn.Linear(16, 2))
    fit(model, lambda m, xb, yb: torch.nn.functional.cross_entropy(m(xb), yb), as_tensors(train, y),
        epochs=epochs, lr=0.05, batch_size=100, seed=seed, progress=False)

    def probability(x: np.ndarray) -> np.ndarray:
        logits = predict(model, *as_tensors(np.asarray(x, dtype=float)))
        return torch.softmax(logits, dim=1)[:, 1].numpy().astype(float)

    return probability


def _xor_split(data: tuple[np.ndarray, np.ndarray, np.ndarray], name: str) -> tuple[np.ndarray, ...]:
    """(x1, x2, y): x1, x2 of shape (n,) or (n, 1), y (n,), one length n; ValueError naming ``name``."""
    if not isinstance(data, (tuple, list)) or len(data) != 3:
        raise ValueError(f"{name} must be a tuple (x1, x2, y) of three (n,) arrays")
    x1, x2 = (as_array(v, f"{name}[{i}]") for i, v in enumerate(data[:2]))
    for i, x in enumerate((x1, x2)):
        if x.ndim not in (1, 2) or x.size != len(x):
            raise ValueError(f"{name}[{i}] must have shape (n,) or (n, 1), got {x.shape}")
    y = as_array(data[2], f"{name}[2]", ndim=1, dtype=np.asarray(data[2]).dtype)
    check_same_length(**{f"{name}[0] (x1)": x1, f"{name}[1] (x2)": x2, f"{name}[2] (y)": y})
    return x1, x2, y


def fit_xor_models(train: tuple[np.ndarray, np.ndarray, np.ndarray],
                   test: tuple[np.ndarray, np.ndarray, np.ndarray],
                   *, seed: int = 0, mlp_epochs: int = 40, mlp: bool = True) -> XorFit:
    """Train the four classifiers of the chapter on (X1, X2, y) and score them on ``test``.

    * view 1 only — logistic regression (``fit_logistic``) on x1;
    * concatenation — logistic regression on (x1, x2), no interaction term;
    * interaction — logistic regression on (x1, x2, x1*x2) (the hypothesis class H_int);
    * MLP — a small network on (x1, x2), trained with ``helpers.train.fit`` (left out when ``mlp`` is
      False, which makes a fit over many seeds fast).
    """
    check_positive_int(seed, "seed", minimum=0)
    (a1, a2, ya), (b1, b2, yb) = (_xor_split(train, "train"), _xor_split(test, "test"))
    x_train, x_test = np.column_stack([a1, a2]), np.column_stack([b1, b2])
    feature_maps: dict[str, Callable[[np.ndarray], np.ndarray]] = {
        "view 1 only": lambda x: x[:, :1],
        "concatenation": lambda x: x,
        "interaction": lambda x: np.column_stack([x, x[:, 0] * x[:, 1]]),
    }
    predict: dict[str, Callable[[np.ndarray], np.ndarray]] = {}
    for name, phi in feature_maps.items():
        model = fit_logistic(phi(x_train), ya, C=100.0)
        predict[name] = lambda x, model=model, phi=phi: model.predict_proba(phi(np.asarray(x, float)))[:, 1]
    if mlp:
        predict["MLP"] = _xor_mlp(x_train, ya, seed, mlp_epochs)
    accuracy = {name: float(np.mean((predict[name](x_test) >= 0.5) == yb)) for name in XOR_MODELS
                if name in predict}
    return XorFit(predict=predict, accuracy=accuracy)


# ---------------------------------------------------------------------------------------------
# 2. Expressive power: VC dimension by brute force
# ---------------------------------------------------------------------------------------------


def is_realisable(features: np.ndarray, labels: np.ndarray) -> bool:
    """Whether some sign(w . phi + b) gives every row of ``features`` its +-1 label (exact LP test).

    Strict separation of finitely many points is equivalent (by rescaling) to feasibility of
    y_i (w . phi_i + b) >= 1 for all i, a linear program with a zero objective.
    """
    phi = as_array(features, "features", ndim=2)
    y = as_array(labels, "labels", ndim=1)
    check_same_length(features=phi, labels=y)
    if not np.all(np.isin(y, (-1.0, 1.0))):
        raise ValueError("labels must be +1 or -1")
    a_ub = -y[:, None] * np.column_stack([phi, np.ones(len(phi))])
    result = linprog(np.zeros(phi.shape[1] + 1), A_ub=a_ub, b_ub=-np.ones(len(phi)),
                     bounds=[(None, None)] * (phi.shape[1] + 1), method="highs")
    return bool(result.status == 0)


def all_labellings(n: int) -> np.ndarray:
    """Every +-1 labelling of n points: shape (2**n, n), in binary order (all -1 first)."""
    check_positive_int(n, "n")
    if n > 16:
        raise ValueError(f"n must be at most 16 (2**n labellings), got {n}")
    return np.array(list(itertools.product((-1.0, 1.0), repeat=n)))


def realisable_labellings(features: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(labellings (2**n, n), realisable (2**n,) bool) for the points in the rows of ``features``."""
    phi = as_array(features, "features", ndim=2)
    labellings = all_labellings(len(phi))
    return labellings, np.array([is_realisable(phi, labels) for labels in labellings])


def shatters(features: np.ndarray) -> bool:
    """Whether linear thresholds on these features realise all 2**n labellings of the n points."""
    return bool(realisable_labellings(features)[1].all())


def vc_dimension(pool: np.ndarray) -> int:
    """The largest k such that some k of the candidate points (rows of ``pool``, already mapped to
    features) are shattered by sign(w . phi + b): the VC dimension restricted to the pool."""
    phi = as_array(pool, "pool", ndim=2)
    best = 0
    for k in range(1, len(phi) + 1):
        if not any(shatters(phi[list(subset)]) for subset in itertools.combinations(range(len(phi)), k)):
            break  # no k-subset shattered: no larger subset can be (its k-subsets would be)
        best = k
    return best


# ---------------------------------------------------------------------------------------------
# 3. Redundancy: information from joint tables, Fano's bound, Bayes error
# ---------------------------------------------------------------------------------------------


def _check_table(joint: np.ndarray, name: str = "joint") -> np.ndarray:
    table = as_array(joint, name)
    if table.ndim == 0 or table.size == 0:
        raise ValueError(f"{name} must be a non-empty probability table, got shape {table.shape}")
    if np.any(table < 0) or not np.isclose(table.sum(), 1.0, atol=1e-9):
        raise ValueError(f"{name} must hold non-negative probabilities summing to 1 (sum {table.sum():.6g})")
    return table


def _axes(axes: int | Sequence[int], ndim: int, name: str) -> tuple[int, ...]:
    chosen = (axes,) if isinstance(axes, (int, np.integer)) else tuple(axes)
    if any(not -ndim <= a < ndim for a in chosen):
        raise ValueError(f"{name} must be axes of a {ndim}-dimensional table, got {chosen}")
    normalised = tuple(int(a) % ndim for a in chosen)
    if len(set(normalised)) != len(normalised):
        raise ValueError(f"{name} repeats an axis: {chosen}")
    return normalised


def entropy(p: np.ndarray) -> float:
    """Shannon entropy H = -sum p log2 p in bits of a probability table of any shape (0 log 0 = 0)."""
    table = _check_table(p, "p").ravel()
    nonzero = table[table > 0]
    return float(-(nonzero * np.log2(nonzero)).sum())


def marginal(joint: np.ndarray, axes: int | Sequence[int]) -> np.ndarray:
    """The marginal table of the variables on ``axes`` (the others summed out), in the given order."""
    table = _check_table(joint)
    keep = _axes(axes, table.ndim, "axes")
    drop = tuple(a for a in range(table.ndim) if a not in keep)
    summed = table.sum(axis=drop)
    order = np.argsort(np.argsort(keep))  # positions of kept axes after summing, sorted ascending
    return np.transpose(summed, order) if len(keep) > 1 else summed


def mutual_information(joint: np.ndarray, a: int | Sequence[int], b: int | Sequence[int],
                       given: int | Sequence[int] = ()) -> float:
    """I(A; B | C) in bits from a joint table; A, B, C are groups of axes (text: 互信息 I(Y;X)).

    I(A; B | C) = H(A, C) + H(B, C) - H(A, B, C) - H(C); with C empty, I(A; B) = H(A) + H(B) - H(A, B).
    """
    table = _check_table(joint)
    ax, bx, cx = (_axes(g, table.ndim, n) for g, n in ((a, "a"), (b, "b"), (given, "given")))
    if set(ax) & set(bx) or set(ax) & set(cx) or set(bx) & set(cx):
        raise ValueError(f"a, b and given must be disjoint groups of axes, got {ax}, {bx}, {cx}")

    def h(axes: tuple[int, ...]) -> float:
        return entropy(marginal(table, axes)) if axes else 0.0

    return max(0.0, h(ax + cx) + h(bx + cx) - h(ax + bx + cx) - h(cx))


def bayes_error(joint: np.ndarray, y_axis: int = 0, x_axes: int | Sequence[int] | None = None) -> float:
    """Smallest possible 0-1 error predicting Y from X: 1 - sum_x max_y p(y, x).

    ``x_axes`` are the observed variables (default: every axis but ``y_axis``; empty = predict from nothing).
    """
    table = _check_table(joint)
    (y,) = _axes(y_axis, table.ndim, "y_axis")
    xs = (tuple(a for a in range(table.ndim) if a != y) if x_axes is None
          else _axes(x_axes, table.ndim, "x_axes"))
    if y in xs:
        raise ValueError("x_axes must not contain y_axis")
    pair = marginal(table, (y, *xs))
    return float(1.0 - pair.reshape(pair.shape[0], -1).max(axis=0).sum())


def flip_views_joint(flips: Sequence[float], prior: float = 0.5) -> np.ndarray:
    """p(y, x_1, ..., x_k) for a binary label seen by k binary views, each flipped independently.

    Axis 0 is Y and axis v is view v, index 0 for -1 and 1 for +1; P(Y=+1) = ``prior`` and
    P(X_v != Y | Y) = flips[v]. Shape (2,) * (k + 1).
    """
    eps = as_array(flips, "flips", ndim=1)
    if len(eps) == 0 or np.any(eps < 0) or np.any(eps > 1):
        raise ValueError(f"flips must be a non-empty list of probabilities in [0, 1], got {list(eps)}")
    check_in_range(prior, "prior", 0.0, 1.0)
    table = np.array([1.0 - prior, prior])
    for e in eps:
        channel = np.array([[1.0 - e, e], [e, 1.0 - e]])  # channel[y, x]
        table = table[..., None] * channel.reshape((2,) + (1,) * (table.ndim - 1) + (2,))
    return table


def binary_entropy(p: np.ndarray | float) -> np.ndarray:
    """h(p) = -p log2 p - (1-p) log2 (1-p) in bits, elementwise, with h(0) = h(1) = 0."""
    q = as_array(p, "p")
    if np.any(q < 0) or np.any(q > 1):
        raise ValueError("p must lie in [0, 1]")
    with np.errstate(divide="ignore", invalid="ignore"):
        terms = -q * np.log2(q) - (1 - q) * np.log2(1 - q)
    return np.nan_to_num(terms, nan=0.0)


def fano_lower_bound(conditional_entropy: float, n_classes: int) -> float:
    """Fano's lower bound on the error of any predictor of a K-class Y from X (text: 法诺不等式).

    Fano: H(Y|X) <= h(P_e) + P_e log2(K - 1). The right side increases on [0, 1 - 1/K], so the
    bound is the P_e there where it equals H(Y|X) (found by root finding), or 0 when H(Y|X) = 0.
    """
    k = check_positive_int(n_classes, "n_classes", minimum=2)
    h_cond = check_in_range(conditional_entropy, "conditional_entropy", 0.0, np.log2(k) + 1e-9)
    top = 1.0 - 1.0 / k

    def fano_rhs(pe: float) -> float:
        return float(binary_entropy(pe)) + pe * np.log2(k - 1) - h_cond

    if h_cond <= 0:
        return 0.0
    if fano_rhs(top) <= 0:
        return top
    return float(brentq(fano_rhs, 0.0, top, xtol=1e-12))


def gaussian_views_snr(sigmas: Sequence[float]) -> float:
    """Combined signal-to-noise s = sqrt(sum_v 1 / sigma_v^2) of Gaussian views X_v = +-mu + sigma_v N(0, I)
    with |mu| = 1: the views together are as informative as one view with noise 1 / s."""
    scales = as_array(sigmas, "sigmas", ndim=1)
    if len(scales) == 0 or np.any(scales <= 0):
        raise ValueError(f"sigmas must be a non-empty list of positive noise levels, got {list(scales)}")
    return float(np.sqrt(np.sum(1.0 / scales**2)))


def gaussian_views_bayes_error(sigmas: Sequence[float]) -> float:
    """Bayes error Phi(-s) of the balanced Gaussian views of ``helpers.data.make_gaussian_views``."""
    return float(ndtr(-gaussian_views_snr(sigmas)))


def gaussian_views_information(sigmas: Sequence[float]) -> float:
    """Exact I(Y; X_1, ..., X_k) in bits for the balanced Gaussian views (by quadrature).

    The statistic T = sum_v mu . X_v / sigma_v^2, scaled, is N(+-s, 1) with log-likelihood ratio 2 s T,
    so I = 1 - E_{T ~ N(s, 1)} h(sigmoid(2 s T)).
    """
    s = gaussian_views_snr(sigmas)
    t = np.linspace(s - 12.0, s + 12.0, 8001)
    density = np.exp(-0.5 * (t - s) ** 2) / np.sqrt(2 * np.pi)
    return float(1.0 - np.trapezoid(density * binary_entropy(expit(2 * s * t)), t))


@dataclass(frozen=True)
class ViewsRow:
    """What a set of views tells about Y: information (bits), Fano's bound and the Bayes error."""

    views: str
    information: float
    fano_bound: float
    bayes_error: float


def flip_views_summary(flips: Sequence[float], prior: float = 0.5) -> list[ViewsRow]:
    """One row per single view and one for all views together, for binary flip-noise views."""
    joint = flip_views_joint(flips, prior)
    h_y = entropy(marginal(joint, 0))
    k = joint.ndim - 1
    groups = ([((v,), f"X{v}") for v in range(1, k + 1)]
              + [(tuple(range(1, k + 1)), "all" if k > 2 else "both")])
    rows = []
    for axes, name in groups:
        info = mutual_information(joint, 0, axes)
        rows.append(ViewsRow(name, info, fano_lower_bound(max(h_y - info, 0.0), 2),
                             bayes_error(joint, 0, axes)))
    return rows


def gaussian_views_summary(sigmas: Sequence[float]) -> list[ViewsRow]:
    """As ``flip_views_summary``, for the balanced Gaussian views with noise levels ``sigmas``."""
    scales = list(as_array(sigmas, "sigmas", ndim=1))
    groups = ([([s], f"X{v}") for v, s in enumerate(scales, start=1)]
              + [(scales, "all" if len(scales) > 2 else "both")])
    rows = []
    for group, name in groups:
        info = gaussian_views_information(group)
        rows.append(ViewsRow(name, info, fano_lower_bound(max(1.0 - info, 0.0), 2),
                             gaussian_views_bayes_error(group)))
    return rows


def format_rows(rows: Sequence[ViewsRow]) -> str:
    """A plain-text table of ``ViewsRow``s, one line per set of views."""
    fields = ("views", "information", "fano_bound", "bayes_error")
    if not isinstance(rows, Sequence) or not all(hasattr(r, f) for r in rows for f in fields):
        raise ValueError("rows must be a list of ViewsRow "
                         "(from flip_views_summary or gaussian_views_summary)")
    lines = [f"{'views':>6} | {'I(Y;X) bits':>11} | {'Fano bound':>10} | {'Bayes error':>11}"]
    lines += [f"{r.views:>6} | {r.information:11.3f} | {r.fano_bound:10.3f} | {r.bayes_error:11.3f}"
              for r in rows]
    return "\n".join(lines)


# ---------------------------------------------------------------------------------------------
# 3b. Redundancy in trained models: corroboration and robustness
# ---------------------------------------------------------------------------------------------


def redundancy_scores(train_views: Sequence[np.ndarray], y_train: np.ndarray,
                      test_views: Sequence[np.ndarray], y_test: np.ndarray, *, seed: int = 0
                      ) -> dict[str, dict[str, float]]:
    """Accuracy and mean probability of the true class for two redundant views (text: 冗余性):

    single-view models, the two-view model, and the two-view model at test time with view 2
    dropped (replaced by its training mean) or corrupted (replaced by noise of the same spread,
    independent of Y). Returns {"accuracy": {...}, "confidence": {...}}.
    """
    if len(train_views) != 2 or len(test_views) != 2:
        raise ValueError("train_views and test_views must each hold exactly two views")
    y_tr = as_array(y_train, "y_train", ndim=1, dtype=np.int64)
    y_te = as_array(y_test, "y_test", ndim=1, dtype=np.int64)
    tr = [as_array(v, f"train_views[{i}]", ndim=2) for i, v in enumerate(train_views)]
    te = [as_array(v, f"test_views[{i}]", ndim=2) for i, v in enumerate(test_views)]
    check_same_length(train_view_1=tr[0], train_view_2=tr[1], y_train=y_tr)
    check_same_length(test_view_1=te[0], test_view_2=te[1], y_test=y_te)
    rng = rng_from(seed)
    both = fit_logistic(np.hstack(tr), y_tr)
    dropped = np.broadcast_to(tr[1].mean(axis=0), te[1].shape)
    corrupted = tr[1].mean(axis=0) + tr[1].std(axis=0) * rng.standard_normal(te[1].shape)
    cases = {
        "view 1 only": (fit_logistic(tr[0], y_tr), te[0]),
        "view 2 only": (fit_logistic(tr[1], y_tr), te[1]),
        "both": (both, np.hstack(te)),
        "both, view 2 dropped": (both, np.hstack([te[0], dropped])),
        "both, view 2 corrupted": (both, np.hstack([te[0], corrupted])),
    }
    scores: dict[str, dict[str, float]] = {"accuracy": {}, "confidence": {}}
    for name, (model, x) in cases.items():
        p_true = model.predict_proba(x)[np.arange(len(y_te)), y_te]
        scores["accuracy"][name] = float(np.mean(model.predict(x) == y_te))
        scores["confidence"][name] = float(np.mean(p_true))
    return scores


# ---------------------------------------------------------------------------------------------
# 4. Estimating I(Y; X) from samples: the variational bound
# ---------------------------------------------------------------------------------------------


def cross_entropy_bits(probabilities: np.ndarray, labels: np.ndarray) -> float:
    """Mean -log2 q(y_i | x_i) of predicted class probabilities (n, K) at integer labels (n,)."""
    q = as_array(probabilities, "probabilities", ndim=2)
    y = as_array(labels, "labels", ndim=1, dtype=np.int64)
    check_same_length(probabilities=q, labels=y)
    if np.any(y < 0) or np.any(y >= q.shape[1]):
        raise ValueError(f"labels must lie in 0..{q.shape[1] - 1}")
    return float(-np.mean(np.log2(np.clip(q[np.arange(len(y)), y], 1e-300, None))))


def variational_information(x_train: np.ndarray, y_train: np.ndarray, x_test: np.ndarray,
                            y_test: np.ndarray) -> float:
    """Lower estimate of I(Y; X) in bits: H(Y) - CE, with CE the held-out cross-entropy of a logistic
    regression trained on (x_train, y_train) and H(Y) from the training label frequencies.

    For any classifier q, CE = H(Y|X) + E KL(p(.|X) || q(.|X)) >= H(Y|X), so H(Y) - CE <= I(Y; X)
    (up to sampling error): the better the classifier, the tighter the bound.
    """
    xtr, xte = as_array(x_train, "x_train", ndim=2), as_array(x_test, "x_test", ndim=2)
    ytr = as_array(y_train, "y_train", ndim=1, dtype=np.int64)
    yte = as_array(y_test, "y_test", ndim=1, dtype=np.int64)
    check_same_length(x_train=xtr, y_train=ytr)
    check_same_length(x_test=xte, y_test=yte)
    model = fit_logistic(xtr, ytr)
    prior = np.bincount(ytr, minlength=2) / len(ytr)
    return entropy(prior) - cross_entropy_bits(model.predict_proba(xte), yte)


# ---------------------------------------------------------------------------------------------
# 5. Sample complexity: learning curves
# ---------------------------------------------------------------------------------------------


def learning_curves(sigmas: Sequence[float], view_sets: Mapping[str, Sequence[int]], sizes: Sequence[int], *,
                    repeats: int = 10, dim: int = 1, n_test: int = 4000,
                    seed: int = 0) -> dict[str, np.ndarray]:
    """Held-out error of logistic regression trained on n samples of the Gaussian views, for each n in
    ``sizes`` and each named set of views (indices into ``sigmas``), repeated ``repeats`` times.

    Returns {name: errors of shape (repeats, len(sizes))}. Every repetition draws a fresh training set
    from ``helpers.data.make_gaussian_views``; all share one test set.
    """
    check_positive_int(repeats, "repeats")
    ns = [check_positive_int(int(n), "sizes", minimum=2) for n in sizes]
    rng = rng_from(seed)
    test_views, y_test = make_gaussian_views(n_test, sigmas, dim=dim, seed=rng)
    for name, views in view_sets.items():
        if not views or any(not 0 <= v < len(test_views) for v in views):
            raise ValueError(f"view_sets[{name!r}] must list view indices in 0..{len(test_views) - 1}")
    errors = {name: np.zeros((repeats, len(ns))) for name in view_sets}
    for r, (j, n) in itertools.product(range(repeats), enumerate(ns)):
        train_views, y_train = make_gaussian_views(n, sigmas, dim=dim, seed=rng)
        for name, views in view_sets.items():
            x_train = np.hstack([train_views[v] for v in views])
            x_test = np.hstack([test_views[v] for v in views])
            if len(np.unique(y_train)) < 2:  # one class only: predict it
                prediction = np.full(len(y_test), y_train[0])
            else:
                prediction = fit_logistic(x_train, y_train).predict(x_test)
            errors[name][r, j] = np.mean(prediction != y_test)
    return errors


def samples_needed(sizes: Sequence[int], mean_errors: np.ndarray, target: float) -> float:
    """Training-set size at which the mean error curve first reaches ``target``: linear interpolation in
    log2(n) between the two sizes that bracket it; the first size if it starts below; inf if never reached."""
    n = as_array(sizes, "sizes", ndim=1)
    e = as_array(mean_errors, "mean_errors", ndim=1)
    check_same_length(sizes=n, mean_errors=e)
    check_in_range(target, "target", 0.0, 1.0)
    if np.any(np.diff(n) <= 0) or np.any(n <= 0):
        raise ValueError("sizes must be positive and increasing")
    below = np.flatnonzero(e <= target)
    if len(below) == 0:
        return float("inf")
    j = int(below[0])
    if j == 0:
        return float(n[0])
    lo, hi = np.log2(n[j - 1]), np.log2(n[j])
    frac = (e[j - 1] - target) / (e[j - 1] - e[j])
    return float(2 ** (lo + frac * (hi - lo)))


# ---------------------------------------------------------------------------------------------
# 6. Lessons that hold on other seeds (issue #17): results over seeds, conditions, mechanisms
# ---------------------------------------------------------------------------------------------


def _check_seeds(seeds: Sequence[int]) -> list[int]:
    """A non-empty list of distinct non-negative integer seeds; ValueError naming ``seeds``."""
    if isinstance(seeds, (str, bytes)) or not isinstance(seeds, Sequence) or len(seeds) == 0:
        raise ValueError(f"seeds must be a non-empty list of non-negative integers, got {seeds!r}")
    out = [check_positive_int(s, "seeds", minimum=0) for s in seeds]
    if len(set(out)) != len(out):
        raise ValueError(f"seeds must be distinct, got {list(seeds)}")
    return out


def xor_linear_accuracies(noise: float, seeds: Sequence[int], *, n_train: int = 400,
                          n_test: int = 1000) -> dict[str, np.ndarray]:
    """Held-out accuracy of the three logistic models of ``fit_xor_models`` (view 1 only, concatenation,
    interaction) on the noisy XOR, one training set (seed s) and one test set (seed s + 1000) per seed.

    Returns {model: accuracies (len(seeds),)}. A line through the XOR pattern has no preferred tilt, so
    the concatenation model's line is set by the chance imbalance of its training sample.
    """
    from .data import make_noisy_xor

    seeds = _check_seeds(seeds)
    out: dict[str, list[float]] = {}
    for s in seeds:
        train, test = make_noisy_xor(n_train, noise, seed=s), make_noisy_xor(n_test, noise, seed=s + 1000)
        fit = fit_xor_models(train, test, seed=s, mlp=False)
        for name, acc in fit.accuracy.items():
            out.setdefault(name, []).append(acc)
    return {name: np.array(values) for name, values in out.items()}


def xor_variational_information(train: tuple[np.ndarray, np.ndarray, np.ndarray],
                                test: tuple[np.ndarray, np.ndarray, np.ndarray]) -> dict[str, float]:
    """Variational estimate H(Y) - CE (bits, ``variational_information``) of I(Y; X1, X2) on the noisy XOR
    with two model families: logistic regression on (x1, x2) ("concatenation") and on (x1, x2, x1 x2)
    ("interaction"). Both see the same two views; the bound is only as good as the model family."""
    (a1, a2, ya), (b1, b2, yb) = (_xor_split(train, "train"), _xor_split(test, "test"))
    x_train, x_test = np.column_stack([a1, a2]), np.column_stack([b1, b2])

    def with_product(x: np.ndarray) -> np.ndarray:
        return np.column_stack([x, x[:, 0] * x[:, 1]])

    return {"concatenation": variational_information(x_train, ya, x_test, yb),
            "interaction": variational_information(with_product(x_train), ya, with_product(x_test), yb)}


def flip_views_outvoted(flips: Sequence[float]) -> bool:
    """Whether several binary flip views have a Bayes error strictly below the best single view's.

    With a uniform prior the Bayes rule is the sign of sum_v w_v s_v, w_v = |log((1 - eps_v) / eps_v)|
    (s_v = +-1 the reported labels). It differs from "follow the best view b" only when the other views
    outweigh it: the error drops below min eps_v  iff  sum_{v != b} w_v > w_b. Two views never satisfy
    this (w_other <= w_b); three views do only if the two weaker ones together outweigh the best.
    """
    eps = as_array(flips, "flips", ndim=1)
    if len(eps) == 0 or np.any((eps < 0) | (eps > 1)):
        raise ValueError(f"flips must be a non-empty list of probabilities in [0, 1], got {list(eps)}")
    with np.errstate(divide="ignore"):
        weights = np.abs(np.log1p(-eps) - np.log(eps))
        weights = np.where((eps == 0) | (eps == 1), np.inf, weights)
    best = int(np.argmax(weights))
    if np.isinf(weights[best]):
        return False
    return bool(np.sum(np.delete(weights, best)) > weights[best] * (1 + 1e-12))


def variational_information_over_seeds(sigmas: Sequence[float], view_sets: Mapping[str, Sequence[int]],
                                       seeds: Sequence[int], *, n_fit: int = 2000, n_held: int = 20000,
                                       dim: int = 10) -> dict[str, np.ndarray]:
    """``variational_information`` (H(Y) - CE, bits) of each named set of Gaussian views, repeated with a
    fresh fitting set (seed s) and held-out set (seed s + 1000) per seed. Returns {name: (len(seeds),)}.

    Its mean sits below the exact I(Y; X): CE >= H(Y|X) for a model fitted on finitely many samples
    (its weights are off by sampling error, which only adds KL), a systematic bias, not noise.
    """
    seeds = _check_seeds(seeds)
    check_positive_int(n_fit, "n_fit", minimum=10)
    check_positive_int(n_held, "n_held", minimum=10)
    out = {name: np.zeros(len(seeds)) for name in view_sets}
    for i, s in enumerate(seeds):
        fit_views, y_fit = make_gaussian_views(n_fit, sigmas, dim=dim, seed=s)
        held_views, y_held = make_gaussian_views(n_held, sigmas, dim=dim, seed=s + 1000)
        for name, views in view_sets.items():
            if not views or any(not 0 <= v < len(fit_views) for v in views):
                raise ValueError(f"view_sets[{name!r}] must list view indices in 0..{len(fit_views) - 1}")
            out[name][i] = variational_information(np.hstack([fit_views[v] for v in views]), y_fit,
                                                   np.hstack([held_views[v] for v in views]), y_held)
    return out


def samples_for_targets(sizes: Sequence[int], errors: Mapping[str, np.ndarray],
                        targets: Mapping[str, float]) -> dict[str, dict[str, float]]:
    """``samples_needed`` on each model's mean learning curve for each named target error:
    {target name: {model: n}} (inf when the curve never reaches it within ``sizes``)."""
    if not isinstance(errors, Mapping) or not errors:
        raise ValueError("errors must be a non-empty mapping name -> (repeats, len(sizes)) array")
    if not isinstance(targets, Mapping) or not targets:
        raise ValueError("targets must be a non-empty mapping name -> target error")
    return {t: {name: samples_needed(sizes, np.asarray(errs).mean(axis=0), float(target))
                for name, errs in errors.items()} for t, target in targets.items()}


def excess_errors(errors: Mapping[str, np.ndarray], floors: Mapping[str, float]) -> dict[str, np.ndarray]:
    """Mean held-out error minus the Bayes error, per model and training-set size:
    excess(n) = mean_r err_r(n) - P_e*. It measures how fast a model *learns*, apart from where it ends."""
    if not isinstance(errors, Mapping) or not errors:
        raise ValueError("errors must be a non-empty mapping name -> (repeats, len(sizes)) array")
    missing = [name for name in errors if name not in floors]
    if missing:
        raise ValueError(f"floors must hold a Bayes error for every model, missing {missing}")
    return {name: np.asarray(errs, float).mean(axis=0) - float(floors[name]) for name, errs in errors.items()}
