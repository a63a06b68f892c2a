"""Representation and alignment (text: 核心挑战之一：表示与对齐), in the order of chapter 02.

1. Linear alignment — orthogonal Procrustes with translation, rotation and scale (C4), and a
   per-dimension polynomial fit that measures how much of the leftover is nonlinear.
2. Self-supervised deep alignment — the triplet loss (contrastive, C5) and InfoNCE (matching, C6)
   on small torch encoders trained through ``helpers.train.fit``.
3. Judging an alignment — cross-modal retrieval recall@k and a few-label linear probe.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping, Sequence

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from . import train
from ._checks import as_array, check_choice, check_in_range, check_positive_int, check_same_length, rng_from
from .data import pca_project, standardise  # noqa: F401  (chapter 02 calls alignment.pca_project)
from .principles import fit_logistic

# ---------------------------------------------------------------------------------------------
# 1. Linear alignment: orthogonal Procrustes
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ProcrustesFit:
    """The best map ``y ≈ scale · (x − mean_x) @ rotation + mean_y`` and how well it fits.

    ``residual`` is ‖ŷ − y‖_F on the data it was fitted to; ``relative_residual`` divides it by
    ‖y − mean_y‖_F (0: a perfect fit, 1: no better than predicting the mean).
    """

    rotation: np.ndarray
    scale: float
    mean_x: np.ndarray
    mean_y: np.ndarray
    residual: float
    relative_residual: float

    @property
    def translation(self) -> np.ndarray:
        """``t`` in ``y ≈ scale · x @ rotation + t``: ``mean_y − scale · mean_x @ rotation``."""
        return self.mean_y - self.scale * self.mean_x @ self.rotation

    def transform(self, x: np.ndarray) -> np.ndarray:
        """``x`` mapped into ``y``'s space: ``scale · (x − mean_x) @ rotation + mean_y``."""
        x = as_array(x, "x", ndim=2)
        if x.shape[1] != len(self.mean_x):
            raise ValueError(f"x must have {len(self.mean_x)} columns, got shape {x.shape}")
        return self.scale * (x - self.mean_x) @ self.rotation + self.mean_y


def procrustes(x: np.ndarray, y: np.ndarray, *, center: bool = True, scale: bool = True) -> ProcrustesFit:
    """Orthogonal Procrustes with translation and scale (text: 线性对齐：普氏分析).

    Minimises ‖s X̃ R − Ỹ‖_F over orthogonal R (RᵀR = I) and s > 0, with X̃, Ỹ the centred data:
    M = X̃ᵀỸ = UΣVᵀ (SVD) gives R = UVᵀ and s = tr Σ / ‖X̃‖²_F. R may be a reflection
    (det R = −1) when that fits better; ``center=False`` / ``scale=False`` drop the translation / scale.
    """
    x = as_array(x, "x", ndim=2)
    y = as_array(y, "y", ndim=2)
    check_same_length(x=x, y=y)
    if x.shape[1] != y.shape[1]:
        raise ValueError(f"x and y must have the same number of columns (a common dimension d), "
                         f"got x {x.shape} and y {y.shape}; reduce them first, e.g. with PCA")
    mean_x = x.mean(axis=0) if center else np.zeros(x.shape[1])
    mean_y = y.mean(axis=0) if center else np.zeros(y.shape[1])
    xc, yc = x - mean_x, y - mean_y
    if not np.any(xc):
        raise ValueError("x must not be constant: Procrustes needs spread to find a rotation")
    u, sigma, vt = np.linalg.svd(xc.T @ yc)
    rotation = u @ vt
    s = float(sigma.sum() / np.sum(xc**2)) if scale else 1.0
    residual = float(np.linalg.norm(s * xc @ rotation - yc))
    spread = float(np.linalg.norm(yc))
    return ProcrustesFit(rotation, s, mean_x, mean_y, residual, residual / spread if spread else 0.0)


def polynomial_refit(aligned: np.ndarray, y: np.ndarray, degree: int = 3) -> np.ndarray:
    """After alignment, fit each column of ``y`` by a polynomial of the same column of ``aligned``.

    ŷ_j = Σ_{k ≤ degree} c_{jk} aligned_j^k, least squares per dimension j. If this shrinks the
    Procrustes residual a lot, the two spaces are related by a nonlinear map (text: 线性对齐).
    """
    aligned = as_array(aligned, "aligned", ndim=2)
    y = as_array(y, "y", ndim=2)
    if aligned.shape != y.shape:
        raise ValueError(f"aligned and y must have the same shape, got {aligned.shape} and {y.shape}")
    check_positive_int(degree, "degree")
    fitted = np.empty_like(y)
    for j in range(y.shape[1]):
        coefficients = np.polynomial.polynomial.polyfit(aligned[:, j], y[:, j], degree)
        fitted[:, j] = np.polynomial.polynomial.polyval(aligned[:, j], coefficients)
    return fitted


def relative_residual(prediction: np.ndarray, y: np.ndarray) -> float:
    """‖prediction − y‖_F / ‖y − mean(y)‖_F: 0 for a perfect fit, 1 for predicting the mean."""
    prediction = as_array(prediction, "prediction", ndim=2)
    y = as_array(y, "y", ndim=2)
    if prediction.shape != y.shape:
        raise ValueError(f"prediction and y must have the same shape, got {prediction.shape} and {y.shape}")
    return float(np.linalg.norm(prediction - y) / np.linalg.norm(y - y.mean(axis=0)))


def rotation_angle(rotation: np.ndarray) -> float:
    """The angle in degrees of a 2×2 rotation acting on row vectors (inverse of ``data.rotation_2d``)."""
    rotation = as_array(rotation, "rotation", ndim=2)
    if rotation.shape != (2, 2):
        raise ValueError(f"rotation must be a 2×2 matrix, got shape {rotation.shape}")
    return float(np.degrees(np.arctan2(rotation[0, 1], rotation[0, 0])))


def procrustes_diagnostics(x: np.ndarray, y: np.ndarray, *, degree: int = 3,
                           seed: int = 0) -> dict[str, float]:
    """How linear is the relation between paired views x ↔ y? Relative residuals of

    ``procrustes`` (the best rotation + scale + shift), ``polynomial`` (then a per-dimension
    polynomial of ``degree``), ``shuffled`` (Procrustes after breaking the pairing: the no-relation
    baseline, ≈ 1), and ``recall@1`` of finding y_i from the aligned x_i by cosine similarity.
    """
    with train.single_thread():
        fit = procrustes(x, y)
        aligned = fit.transform(x)
        shuffled = procrustes(x, np.asarray(y)[rng_from(seed).permutation(len(y))])
        similarity = cosine_similarities(aligned - fit.mean_y, np.asarray(y, float) - fit.mean_y).numpy()
        return {"procrustes": fit.relative_residual,
                "polynomial": relative_residual(polynomial_refit(aligned, y, degree), y),
                "shuffled": shuffled.relative_residual,
                "recall@1": recall_at_k(similarity, 1)}


# ---------------------------------------------------------------------------------------------
# 2. Self-supervised deep alignment: triplet loss (contrastive) and InfoNCE (matching)
# ---------------------------------------------------------------------------------------------


def _check_embeddings(**tensors: torch.Tensor) -> None:
    """Every tensor is a (n, d) float tensor and all have the same shape."""
    for name, tensor in tensors.items():
        if not isinstance(tensor, torch.Tensor) or tensor.ndim != 2 or not tensor.is_floating_point():
            raise ValueError(f"{name} must be a float tensor of shape (n, d), got "
                             f"{getattr(tensor, 'shape', type(tensor).__name__)}")
    shapes = {name: tuple(t.shape) for name, t in tensors.items()}
    if len(set(shapes.values())) > 1:
        raise ValueError(f"embeddings must have the same shape (n, d): {shapes}")


def triplet_loss(anchor: torch.Tensor, positive: torch.Tensor, negative: torch.Tensor,
                 margin: float = 0.5) -> torch.Tensor:
    """Mean triplet loss (text: 自监督深度对齐 — contrastive methods):

        max(0, m + ‖a − p‖² − ‖a − n‖²)

    with squared Euclidean distances: zero once every negative is at least the margin farther
    (in squared distance) from its anchor than the positive is.
    """
    _check_embeddings(anchor=anchor, positive=positive, negative=negative)
    check_in_range(margin, "margin", 0.0, 1e6)
    d_pos = ((anchor - positive) ** 2).sum(dim=1)
    d_neg = ((anchor - negative) ** 2).sum(dim=1)
    return torch.clamp(margin + d_pos - d_neg, min=0.0).mean()


def triplet_gradients(anchor: np.ndarray, positive: np.ndarray, negative: np.ndarray,
                      margin: float = 0.5) -> dict[str, np.ndarray]:
    """Gradients of one triplet's loss with respect to a, p and n (autograd).

    While the loss is active they are ∂/∂a = 2(n − p), ∂/∂p = 2(p − a), ∂/∂n = 2(a − n):
    a descent step moves p towards a, n away from a, and a from n towards p.
    """
    points = [torch.tensor(as_array(v, name, ndim=1), dtype=torch.float64, requires_grad=True)
              for v, name in ((anchor, "anchor"), (positive, "positive"), (negative, "negative"))]
    loss = triplet_loss(*(p[None] for p in points), margin=margin)
    loss.backward()
    return {name: p.grad.numpy().copy() for name, p in zip(("anchor", "positive", "negative"), points)}


def cosine_similarities(a: torch.Tensor | np.ndarray, b: torch.Tensor | np.ndarray) -> torch.Tensor:
    """The (n, m) matrix S_ij = cos(a_i, b_j) = a_i·b_j / (‖a_i‖‖b_j‖)."""
    a = torch.as_tensor(a)
    b = torch.as_tensor(b, device=a.device)
    if a.ndim != 2 or b.ndim != 2 or a.shape[1] != b.shape[1]:
        raise ValueError(f"a and b must be (n, d) and (m, d) with the same d, got {tuple(a.shape)} "
                         f"and {tuple(b.shape)}")
    return F.normalize(a, dim=1) @ F.normalize(b, dim=1).T


def info_nce(za: torch.Tensor, zb: torch.Tensor, temperature: float = 0.1, *,
             symmetric: bool = False) -> torch.Tensor:
    """InfoNCE (text: 自监督深度对齐 — matching-based methods; Oord et al. 2018, CLIP).

    With S_ij = cos(za_i, zb_j), row i's true match is column i:

        L = −(1/n) Σ_i log( exp(S_ii/τ) / Σ_j exp(S_ij/τ) ),

    the cross-entropy of the logits S/τ with labels 0..n−1. ``symmetric=True`` averages it with the
    same loss over columns (b → a), as CLIP does.
    """
    _check_embeddings(za=za, zb=zb)
    check_in_range(temperature, "temperature", 0.0, 1e6, low_open=True)
    logits = cosine_similarities(za, zb) / temperature
    labels = torch.arange(len(za), device=za.device)
    loss = F.cross_entropy(logits, labels)
    if symmetric:
        loss = 0.5 * (loss + F.cross_entropy(logits.T, labels))
    return loss


def info_nce_loop(za: torch.Tensor, zb: torch.Tensor, temperature: float = 0.1) -> torch.Tensor:
    """InfoNCE written as its definition, one anchor at a time (slow; the benchmark's baseline).

    L = −(1/n) Σ_i [S_ii/τ − log Σ_j exp(S_ij/τ)], each S_ij a cosine computed by hand.
    """
    _check_embeddings(za=za, zb=zb)
    check_in_range(temperature, "temperature", 0.0, 1e6, low_open=True)
    total = za.new_zeros(())
    for i in range(len(za)):
        anchor = za[i] / za[i].norm()
        scores = torch.stack([anchor @ (zb[j] / zb[j].norm()) / temperature for j in range(len(zb))])
        total = total - (scores[i] - torch.logsumexp(scores, dim=0))
    return total / len(za)


def softmax_over_similarities(similarities: np.ndarray, temperature: float) -> np.ndarray:
    """softmax(s / τ) along the last axis: how sharply InfoNCE's match probabilities peak."""
    s = as_array(similarities, "similarities") / check_in_range(temperature, "temperature", 0.0, 1e6,
                                                                  low_open=True)
    s = s - s.max(axis=-1, keepdims=True)
    e = np.exp(s)
    return e / e.sum(axis=-1, keepdims=True)


class Encoder(nn.Module):
    """A small MLP encoder ``in_dim → hidden → dim`` whose outputs lie on the unit sphere."""

    def __init__(self, in_dim: int, dim: int = 8, hidden: int = 64) -> None:
        super().__init__()
        self.in_dim = check_positive_int(in_dim, "in_dim")
        check_positive_int(dim, "dim")
        check_positive_int(hidden, "hidden")
        self.net = nn.Sequential(nn.Linear(in_dim, hidden), nn.ReLU(), nn.Linear(hidden, dim))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        _check_features(x, self.in_dim, "x")
        return F.normalize(self.net(x), dim=1)


def _check_features(x: torch.Tensor, dim: int, name: str) -> None:
    """``x`` is an (n, dim) float tensor; ValueError naming ``name`` otherwise."""
    if not isinstance(x, torch.Tensor) or x.ndim != 2 or x.shape[1] != dim or not x.is_floating_point():
        raise ValueError(f"{name} must be a float tensor of shape (n, {dim}), got "
                         f"{getattr(x, 'shape', type(x).__name__)}")


class DualEncoder(nn.Module):
    """One encoder per modality into a shared ``dim``-dimensional space: ``(x, y) → (e_x, e_y)``."""

    def __init__(self, x_dim: int, y_dim: int, dim: int = 8, hidden: int = 64) -> None:
        super().__init__()
        self.encode_x = Encoder(check_positive_int(x_dim, "x_dim"), dim, hidden)
        self.encode_y = Encoder(check_positive_int(y_dim, "y_dim"), dim, hidden)

    def forward(self, x: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        _check_features(x, self.encode_x.in_dim, "x")
        _check_features(y, self.encode_y.in_dim, "y")
        return self.encode_x(x), self.encode_y(y)


def dual_encoder(x_dim: int, y_dim: int, *, dim: int = 8, hidden: int = 64, seed: int = 0) -> DualEncoder:
    """A freshly initialised ``DualEncoder``, built under torch seed ``seed`` (global RNG untouched)."""
    with train.seeded(seed):
        return DualEncoder(x_dim, y_dim, dim, hidden)


OBJECTIVES = ("triplet", "triplet-all", "infonce")


def triplet_loss_all_negatives(ex: torch.Tensor, ey: torch.Tensor, margin: float = 0.5) -> torch.Tensor:
    """Triplet loss with every other pair of the batch as a negative (the same n − 1 negatives per anchor
    that InfoNCE sees), averaged over the n (n − 1) triplets:

        (1 / n(n−1)) Σ_i Σ_{j≠i} max(0, m + ‖e_x,i − e_y,i‖² − ‖e_x,i − e_y,j‖²)
    """
    _check_embeddings(ex=ex, ey=ey)
    check_in_range(margin, "margin", 0.0, 1e6)
    if len(ex) < 2:
        raise ValueError(f"ex must hold at least two pairs (one negative each), got {len(ex)}")
    d = torch.cdist(ex, ey) ** 2
    hinge = torch.clamp(margin + d.diagonal()[:, None] - d, min=0.0)
    off = ~torch.eye(len(ex), dtype=torch.bool, device=ex.device)
    return hinge[off].mean()


def alignment_loss(model: DualEncoder, x: torch.Tensor, y: torch.Tensor, *, objective: str,
                   margin: float = 0.5, temperature: float = 0.1) -> torch.Tensor:
    """The loss of one minibatch of pairs (x_i, y_i) for ``objective``.

    ``"triplet"``: anchor e_x,i, positive e_y,i, negative e_y,i−1 (the batch is shuffled, so the
    neighbouring pair is a random unmatched one). ``"triplet-all"``: every other pair of the batch a
    negative (``triplet_loss_all_negatives``). ``"infonce"``: symmetric InfoNCE over the batch,
    every other pair in the batch a negative.
    """
    check_choice(objective, "objective", OBJECTIVES)
    ex, ey = model(x, y)
    if objective == "triplet":
        return triplet_loss(ex, ey, torch.roll(ey, shifts=1, dims=0), margin=margin)
    if objective == "triplet-all":
        return triplet_loss_all_negatives(ex, ey, margin=margin)
    return info_nce(ex, ey, temperature, symmetric=True)


def train_alignment(model: DualEncoder, x: np.ndarray, y: np.ndarray, *, objective: str,
                    margin: float = 0.5, temperature: float = 0.1, epochs: int = 20, lr: float = 3e-3,
                    batch_size: int = 128, seed: int = 0, progress: bool = True) -> dict[str, list[float]]:
    """Train ``model`` on the pairs (x_i, y_i) with ``objective`` through ``helpers.train.fit``.

    Self-supervised: the pairing is the only signal, no labels. Returns the history (loss per step).
    """
    check_choice(objective, "objective", OBJECTIVES)
    x = as_array(x, "x", ndim=2)
    y = as_array(y, "y", ndim=2)
    check_same_length(x=x, y=y)

    def loss_fn(m: DualEncoder, xb: torch.Tensor, yb: torch.Tensor) -> torch.Tensor:
        return alignment_loss(m, xb, yb, objective=objective, margin=margin, temperature=temperature)

    with train.single_thread():
        return train.fit(model, loss_fn, train.as_tensors(x, y), epochs=epochs, lr=lr,
                         batch_size=batch_size, seed=seed, progress=progress, desc=objective)


@torch.no_grad()
def embed(model: DualEncoder, x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Both modalities' embeddings (e_x, e_y) as NumPy arrays, the model in eval mode."""
    x = as_array(x, "x", ndim=2)
    y = as_array(y, "y", ndim=2)
    model.eval()
    target = train.model_device(model)
    ex, ey = model(*(t.to(target) for t in train.as_tensors(x, y)))
    return ex.cpu().numpy().astype(float), ey.cpu().numpy().astype(float)


def pair_distances(ex: np.ndarray, ey: np.ndarray, *, seed: int = 0) -> dict[str, np.ndarray]:
    """Squared distances ‖e_x,i − e_y,i‖² of matched pairs and ‖e_x,i − e_y,π(i)‖² of unmatched
    ones (π a random derangement: a seeded shift of a permutation, never i itself)."""
    ex = as_array(ex, "ex", ndim=2)
    ey = as_array(ey, "ey", ndim=2)
    n = check_same_length(ex=ex, ey=ey)
    order = rng_from(seed).permutation(n)
    other = np.empty(n, dtype=int)
    other[order] = np.roll(order, 1)
    return {"matched": ((ex - ey) ** 2).sum(axis=1), "unmatched": ((ex - ey[other]) ** 2).sum(axis=1)}


# ---------------------------------------------------------------------------------------------
# 3. Judging an alignment: retrieval recall@k and a few-label linear probe
# ---------------------------------------------------------------------------------------------


def recall_at_k(similarity: np.ndarray, k: int) -> float:
    """Cross-modal retrieval recall@k: the fraction of queries i whose true match (column i) ranks
    among the top k of row i of ``similarity`` (larger = more similar).

    Ties count against the true match: its rank is #{j : S_ij ≥ S_ii} (pessimistic), so a
    constant similarity matrix scores k/n only if k = n.
    """
    similarity = as_array(similarity, "similarity", ndim=2)
    if similarity.shape[0] != similarity.shape[1]:
        raise ValueError(f"similarity must be square (n queries × n candidates), got {similarity.shape}")
    check_positive_int(k, "k")
    rank = (similarity >= np.diag(similarity)[:, None]).sum(axis=1)
    return float(np.mean(rank <= k))


def few_label_probe(train_features: np.ndarray, train_labels: np.ndarray, test_features: np.ndarray,
                    test_labels: np.ndarray, *, per_class: int, repeats: int = 5, seed: int = 0) -> float:
    """Test accuracy of a linear probe (``helpers.principles.fit_logistic``, C = 1) fitted on only
    ``per_class`` labelled examples per class drawn from the training set; the mean over ``repeats``
    seeded draws.

    Features are standardised with the statistics of all training features (unlabelled data is free).
    """
    train_features = as_array(train_features, "train_features", ndim=2)
    test_features = as_array(test_features, "test_features", ndim=2)
    train_labels = as_array(train_labels, "train_labels", ndim=1, dtype=int)
    test_labels = as_array(test_labels, "test_labels", ndim=1, dtype=int)
    check_same_length(train_features=train_features, train_labels=train_labels)
    check_same_length(test_features=test_features, test_labels=test_labels)
    check_positive_int(per_class, "per_class")
    check_positive_int(repeats, "repeats")
    classes = np.unique(train_labels)
    if min(np.sum(train_labels == c) for c in classes) < per_class:
        raise ValueError(f"per_class={per_class} exceeds the smallest class in train_labels")
    train_z, test_z = standardise(train_features, test_features)
    rng = rng_from(seed)
    scores = []
    for _ in range(repeats):
        chosen = np.concatenate([rng.choice(np.flatnonzero(train_labels == c), per_class, replace=False)
                                 for c in classes])
        probe = fit_logistic(train_z[chosen], train_labels[chosen], C=1.0)
        scores.append(float(np.mean(probe.predict(test_z) == test_labels)))
    return float(np.mean(scores))


def encode_pairs(representation: "DualEncoder | ProcrustesFit | None", x: np.ndarray,
                 y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Paired features under a representation: ``None`` the raw views, a ``ProcrustesFit`` the
    linearly aligned x with raw y, a ``DualEncoder`` both embeddings."""
    if representation is None:
        return as_array(x, "x", ndim=2), as_array(y, "y", ndim=2)
    if isinstance(representation, ProcrustesFit):
        return representation.transform(x), as_array(y, "y", ndim=2)
    if isinstance(representation, DualEncoder):
        return embed(representation, x, y)
    raise ValueError(f"representation must be None, a ProcrustesFit or a DualEncoder, "
                     f"got {type(representation).__name__}")


def compare_representations(features: Mapping[str, tuple[tuple[np.ndarray, np.ndarray],
                                                         tuple[np.ndarray, np.ndarray]]],
                            train_labels: np.ndarray, test_labels: np.ndarray, *,
                            ks: Sequence[int] = (1, 5), per_class: Sequence[int] = (1, 5, 10),
                            repeats: int = 5, seed: int = 0) -> dict[str, dict[str, float]]:
    """For each named representation ``((train_x, train_y), (test_x, test_y))``: recall@k of
    retrieving y from x on the test pairs (cosine similarity), and the few-label probe accuracy
    of the x-view features. Returns ``{name: {"recall@1": …, "probe@5": …, …}}``."""
    def is_pair(value: object) -> bool:
        return isinstance(value, (tuple, list)) and len(value) == 2

    if not isinstance(features, Mapping) or not features or not all(
            is_pair(pairs) and all(map(is_pair, pairs)) for pairs in features.values()):
        raise ValueError("features must be a non-empty mapping "
                         "name -> ((train_x, train_y), (test_x, test_y))")
    table: dict[str, dict[str, float]] = {}
    with train.single_thread():
        for name, ((train_x, _train_y), (test_x, test_y)) in features.items():
            similarity = cosine_similarities(np.asarray(test_x, float), np.asarray(test_y, float)).numpy()
            table[name] = {f"recall@{k}": recall_at_k(similarity, k) for k in ks}
            for m in per_class:
                table[name][f"probe@{m}"] = few_label_probe(train_x, train_labels, test_x, test_labels,
                                                            per_class=m, repeats=repeats, seed=seed)
    return table


def table_text(table: Mapping[str, Mapping[str, float]], fmt: str = "{:>9.3f}") -> str:
    """A fixed-width text table of ``{row: {column: number}}`` (rows in order, columns of the first row)."""
    if not isinstance(table, Mapping) or not table or not all(isinstance(r, Mapping) for r in table.values()):
        raise ValueError("table must be a non-empty mapping row -> {column: number}")
    columns = list(next(iter(table.values())))
    width = max(len(name) for name in table) + 2
    widths = [max(len(fmt.format(0.0)), len(c)) + 2 for c in columns]  # a space between every two headers
    lines = [" " * width + "".join(f"{c:>{w}s}" for c, w in zip(columns, widths))]
    for name, row in table.items():
        lines.append(f"{name:<{width}s}" + "".join(f"{fmt.format(row[c]).strip():>{w}s}"
                                                    for c, w in zip(columns, widths)))
    return "\n".join(lines)


# ---------------------------------------------------------------------------------------------
# 4. Lessons that hold (issue #17): held-out checks, seeds, granularity and invariance
# ---------------------------------------------------------------------------------------------


def heldout_residuals(x: np.ndarray, y: np.ndarray, *, folds: int = 5, k: int = 10,
                      seed: int = 0) -> dict[str, float]:
    """Held-out relative residual ‖ŷ − y‖_F / ‖y − ȳ‖_F (pooled over ``folds`` cross-validation folds) of
    predicting y from x with Procrustes (rotation + scale + shift), a general linear map (least squares
    with intercept) and k-nearest-neighbour regression (nonlinear, no shape assumed).

    If the nonlinear model does not shrink the residual much below the linear ones, the leftover is not a
    nonlinearity a model could learn from these data: the views share little information.
    """
    from sklearn.linear_model import LinearRegression
    from sklearn.model_selection import KFold
    from sklearn.neighbors import KNeighborsRegressor

    x = as_array(x, "x", ndim=2)
    y = as_array(y, "y", ndim=2)
    n = check_same_length(x=x, y=y)
    check_positive_int(folds, "folds", minimum=2)
    check_positive_int(k, "k")
    if n < folds * (k + 1):
        raise ValueError(f"x must hold at least folds * (k + 1) = {folds * (k + 1)} rows, got {n}")
    predictions = {name: np.zeros_like(y) for name in ("Procrustes", "linear map", f"{k}-NN")}
    for fit_rows, held in KFold(folds, shuffle=True, random_state=seed).split(x):
        predictions["Procrustes"][held] = procrustes(x[fit_rows], y[fit_rows]).transform(x[held])
        predictions["linear map"][held] = LinearRegression().fit(x[fit_rows], y[fit_rows]).predict(x[held])
        predictions[f"{k}-NN"][held] = KNeighborsRegressor(k).fit(x[fit_rows], y[fit_rows]).predict(x[held])
    return {name: relative_residual(p, y) for name, p in predictions.items()}


def latent_recoverability(latent: np.ndarray, views: Mapping[str, np.ndarray], *, k: int = 5,
                          folds: int = 5, seed: int = 0) -> dict[str, float]:
    """Cross-validated R² = 1 − Σ(z − ẑ)² / Σ(z − z̄)² of predicting a latent coordinate ``latent`` (n,) from
    each view by k-nearest-neighbour regression: how much of the latent a view still carries."""
    from sklearn.model_selection import KFold
    from sklearn.neighbors import KNeighborsRegressor

    z = as_array(latent, "latent", ndim=1)
    if not isinstance(views, Mapping) or not views:
        raise ValueError("views must be a non-empty mapping name -> (n, d) array")
    out = {}
    for name, view in views.items():
        v = as_array(view, f"views[{name!r}]", ndim=2)
        check_same_length(latent=z, **{f"views[{name!r}]": v})
        prediction = np.zeros_like(z)
        for fit_rows, held in KFold(folds, shuffle=True, random_state=seed).split(v):
            prediction[held] = KNeighborsRegressor(k).fit(v[fit_rows], z[fit_rows]).predict(v[held])
        out[name] = float(1 - np.sum((z - prediction) ** 2) / np.sum((z - z.mean()) ** 2))
    return out


def true_pair_ranks(similarity: np.ndarray) -> np.ndarray:
    """Rank of the true match in each row of a square similarity matrix (1 = the row's largest; ties
    count against it, as in ``recall_at_k``): rank_i = #{j : S_ij ≥ S_ii}."""
    similarity = as_array(similarity, "similarity", ndim=2)
    if similarity.shape[0] != similarity.shape[1]:
        raise ValueError(f"similarity must be square (n queries × n candidates), got {similarity.shape}")
    return (similarity >= np.diag(similarity)[:, None]).sum(axis=1)


def batch_info_nce(model: DualEncoder, x: np.ndarray, y: np.ndarray, temperature: float) -> float:
    """Symmetric InfoNCE (``info_nce``) of one batch of pairs (x_i, y_i) through ``model``, without training:
    e.g. the loss of an untrained model, to compare with log n (a uniform softmax over n candidates)."""
    check_same_length(x=as_array(x, "x", ndim=2), y=as_array(y, "y", ndim=2))
    ex, ey = embed(model, x, y)
    return float(info_nce(torch.as_tensor(ex), torch.as_tensor(ey), temperature, symmetric=True))


def objectives_over_seeds(train_pairs: tuple[np.ndarray, np.ndarray],
                          test_pairs: tuple[np.ndarray, np.ndarray], train_labels: np.ndarray,
                          test_labels: np.ndarray, seeds: Sequence[int], *,
                          objectives: Mapping[str, str], epochs: int = 10, batch_size: int = 128,
                          per_class: int = 5, margin: float = 0.5,
                          temperature: float = 0.1) -> dict[str, dict[str, np.ndarray]]:
    """Train a fresh ``dual_encoder`` (seed s) per named objective (a value of OBJECTIVES) and seed, on the
    same batches, and score it on the test pairs: recall@1 of y from x among all test pairs, and the
    ``few_label_probe`` accuracy with ``per_class`` labels. Returns {metric: {name: (len(seeds),)}}."""
    x, y = (as_array(v, f"train_pairs[{i}]", ndim=2) for i, v in enumerate(train_pairs))
    tx, ty = (as_array(v, f"test_pairs[{i}]", ndim=2) for i, v in enumerate(test_pairs))
    if not isinstance(objectives, Mapping) or not objectives:
        raise ValueError("objectives must be a non-empty mapping name -> objective")
    if not seeds:
        raise ValueError("seeds must be a non-empty list of non-negative integers")
    out: dict[str, dict[str, np.ndarray]] = {"recall@1": {}, f"probe@{per_class}": {}}
    for name, objective in objectives.items():
        check_choice(objective, f"objectives[{name!r}]", OBJECTIVES)
        scores = np.zeros((2, len(seeds)))
        for i, s in enumerate(seeds):
            check_positive_int(s, "seeds", minimum=0)
            model = dual_encoder(x.shape[1], y.shape[1], dim=8, seed=s)
            train_alignment(model, x, y, objective=objective, margin=margin, temperature=temperature,
                            epochs=epochs, batch_size=batch_size, seed=s, progress=False)
            (ex, _), (tex, tey) = embed(model, x, y), embed(model, tx, ty)
            scores[0, i] = recall_at_k(cosine_similarities(tex, tey).numpy(), 1)
            scores[1, i] = few_label_probe(ex, train_labels, tex, test_labels, per_class=per_class, repeats=3,
                                           seed=s)
        out["recall@1"][name], out[f"probe@{per_class}"][name] = scores
    return out


def granularity_and_invariance(features: Mapping[str, tuple[tuple[np.ndarray, np.ndarray],
                                                             tuple[np.ndarray, np.ndarray]]],
                               train_labels: np.ndarray, test_labels: np.ndarray, *, per_class: int = 5,
                               repeats: int = 5, seed: int = 0) -> dict[str, dict[str, float]]:
    """Two granularities of "close" and one test of a modality-invariant space, per representation
    ``((train_x, train_y), (test_x, test_y))``:

    * ``instance@1`` — the nearest y (cosine) of test x_i is its own partner y_i (recall@1);
    * ``concept@1`` — the nearest y of x_i has the same class as x_i (same concept, any instance);
    * ``x->x probe`` / ``x->y probe`` — a ``few_label_probe`` fitted on x features, tested on x, or on the
      *other* modality's features y: in a modality-invariant space the two are close.
    """
    out = {}
    test_labels = as_array(test_labels, "test_labels", ndim=1, dtype=int)
    for name, ((train_x, _), (test_x, test_y)) in features.items():
        similarity = cosine_similarities(np.asarray(test_x, float), np.asarray(test_y, float)).numpy()
        nearest = similarity.argmax(axis=1)
        probe = {target: few_label_probe(train_x, train_labels, feats, test_labels, per_class=per_class,
                                         repeats=repeats, seed=seed)
                 for target, feats in (("x->x probe", test_x), ("x->y probe", test_y))}
        out[name] = {"instance@1": recall_at_k(similarity, 1),
                     "concept@1": float(np.mean(test_labels[nearest] == test_labels)), **probe}
    return out
