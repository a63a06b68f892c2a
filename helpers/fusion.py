"""Fusion: where and how two modalities are combined (text: 核心挑战之二：融合).

The module reads like chapter 03:

1. **Architectures** (融合架构): ``EarlyFusion`` (concatenate, then one MLP), ``LateFusion`` (one
   model per modality, outputs combined), ``PooledEarlyFusion`` (sequences averaged to vectors,
   then early fusion) and ``CrossAttentionFusion`` (one modality's tokens query the other's), with
   their parameter counts and multiply-add counts computed from the layer sizes.
2. **Probabilistic fusion** (概率融合机制): ``product_of_experts`` in logit form with the log-prior
   correction, the Gaussian product (precisions add), ``mixture_of_experts``, and the metrics that
   tell them apart: ``entropy``, ``negative_log_likelihood``, ``expected_calibration_error``.
3. Small experiment helpers the chapter calls: training loops over ``helpers.train.fit``, the exact
   Bayes posterior of Gaussian class-conditional data, and the corruption of one expert.

Conventions: numpy for the probability math (last axis = classes), torch ``nn.Module`` for learned
models; masks are boolean with ``True`` marking a real (non-padding) token.
"""

from __future__ import annotations

import math
from typing import Callable, Mapping, Sequence

import numpy as np
import torch
from scipy.special import logsumexp
from torch import nn

from ._checks import (
    as_array,
    check_choice,
    check_in_range,
    check_positive_int,
    check_probabilities,
    check_same_length,
    check_same_shape,
    rng_from,
)

COMBINE_RULES: tuple[str, ...] = ("logit_sum", "prob_mean")

# ---------------------------------------------------------------------------------------------
# 1. Architectures (融合架构)
# ---------------------------------------------------------------------------------------------


def _check_layer_sizes(in_dim: int, hidden: int, out_dim: int) -> None:
    for value, name in ((in_dim, "in_dim"), (hidden, "hidden"), (out_dim, "out_dim")):
        check_positive_int(value, name)


def mlp(in_dim: int, hidden: int, out_dim: int) -> nn.Sequential:
    """A one-hidden-layer perceptron: Linear(in_dim, hidden) → ReLU → Linear(hidden, out_dim)."""
    _check_layer_sizes(in_dim, hidden, out_dim)
    return nn.Sequential(nn.Linear(in_dim, hidden), nn.ReLU(), nn.Linear(hidden, out_dim))


def mlp_parameter_count(in_dim: int, hidden: int, out_dim: int) -> int:
    """Weights and biases of ``mlp(in_dim, hidden, out_dim)``: (in_dim + 1)·hidden + (hidden + 1)·out_dim."""
    _check_layer_sizes(in_dim, hidden, out_dim)
    return (in_dim + 1) * hidden + (hidden + 1) * out_dim


def mlp_multiply_adds(in_dim: int, hidden: int, out_dim: int) -> int:
    """Multiply-adds of one forward pass of ``mlp`` for one example: in_dim·hidden + hidden·out_dim."""
    _check_layer_sizes(in_dim, hidden, out_dim)
    return in_dim * hidden + hidden * out_dim


def count_parameters(model: nn.Module) -> int:
    """The number of trainable scalars of ``model`` (sum of ``p.numel()``)."""
    if not isinstance(model, nn.Module):
        raise ValueError(f"model must be a torch.nn.Module, got {type(model).__name__}")
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


def _check_dims(input_dims: Sequence[int], name: str = "input_dims") -> tuple[int, ...]:
    if isinstance(input_dims, (str, bytes)) or not isinstance(input_dims, Sequence) or len(input_dims) < 1:
        raise ValueError(f"{name} must be a non-empty sequence of feature sizes, got {input_dims!r}")
    return tuple(check_positive_int(d, f"{name}[{i}]") for i, d in enumerate(input_dims))


def _check_inputs(xs: tuple[torch.Tensor, ...], dims: tuple[int, ...]) -> None:
    """One (n, d_m) tensor per modality, with equal n."""
    if len(xs) != len(dims):
        raise ValueError(f"xs must hold {len(dims)} modality tensors (one per entry of input_dims), "
                         f"got {len(xs)}")
    for i, (x, d) in enumerate(zip(xs, dims)):
        if not isinstance(x, torch.Tensor) or x.ndim != 2 or x.shape[1] != d:
            shape = tuple(x.shape) if isinstance(x, torch.Tensor) else type(x).__name__
            raise ValueError(f"xs[{i}] must be a tensor of shape (n, {d}), got {shape}")
    check_same_length(**{f"xs[{i}]": x for i, x in enumerate(xs)})


class EarlyFusion(nn.Module):
    """Early (feature-level) fusion, 早期融合: concatenate the modalities, then one MLP.

    logits = MLP([x^(1); x^(2); …]) — every hidden unit sees every modality, so cross-modal
    interactions can be learned from the first layer on; the input must be one fixed-size vector.
    """

    def __init__(self, input_dims: Sequence[int], hidden: int, n_classes: int) -> None:
        super().__init__()
        self.input_dims = _check_dims(input_dims)
        self.hidden = check_positive_int(hidden, "hidden")
        self.n_classes = check_positive_int(n_classes, "n_classes", minimum=2)
        self.net = mlp(sum(self.input_dims), hidden, n_classes)

    def forward(self, *xs: torch.Tensor) -> torch.Tensor:
        """Logits (n, n_classes) from one (n, d_m) tensor per modality."""
        _check_inputs(xs, self.input_dims)
        return self.net(torch.cat(xs, dim=1))

    def expected_parameter_count(self) -> int:
        """Parameters from the layer sizes: an MLP on sum(d_m) inputs."""
        return mlp_parameter_count(sum(self.input_dims), self.hidden, self.n_classes)

    def multiply_adds(self) -> int:
        """Multiply-adds per example: sum(d_m)·hidden + hidden·n_classes (linear in the input size)."""
        return mlp_multiply_adds(sum(self.input_dims), self.hidden, self.n_classes)


class LateFusion(nn.Module):
    """Late (decision-level) fusion, 晚期融合: one MLP per modality, their outputs combined.

    ``combine="logit_sum"``: fused score = Σ_m logits_m (a product of experts under a uniform prior);
    ``combine="prob_mean"``: fused score = log( (1/M) Σ_m softmax(logits_m) ) (a mixture of experts).
    Either is a log-score usable with cross-entropy. The fused score is a sum (or mean) of per-modality
    terms, so no interaction between modalities can be represented.
    """

    def __init__(self, input_dims: Sequence[int], hidden: int, n_classes: int,
                 combine: str = "logit_sum") -> None:
        super().__init__()
        self.input_dims = _check_dims(input_dims)
        self.hidden = check_positive_int(hidden, "hidden")
        self.n_classes = check_positive_int(n_classes, "n_classes", minimum=2)
        self.combine = check_choice(combine, "combine", COMBINE_RULES)
        self.branches = nn.ModuleList(mlp(d, hidden, n_classes) for d in self.input_dims)

    def unimodal_logits(self, *xs: torch.Tensor) -> list[torch.Tensor]:
        """Each branch's logits (n, n_classes), in the order of ``input_dims``."""
        _check_inputs(xs, self.input_dims)
        return [branch(x) for branch, x in zip(self.branches, xs)]

    def forward(self, *xs: torch.Tensor) -> torch.Tensor:
        """Fused log-scores (n, n_classes) by the ``combine`` rule."""
        check_choice(self.combine, "combine", COMBINE_RULES)
        logits = torch.stack(self.unimodal_logits(*xs))  # (M, n, K)
        if self.combine == "logit_sum":
            return logits.sum(dim=0)
        return torch.logsumexp(torch.log_softmax(logits, dim=-1), dim=0) - math.log(len(self.branches))

    def expected_parameter_count(self) -> int:
        """Parameters from the layer sizes: one MLP per modality."""
        return sum(mlp_parameter_count(d, self.hidden, self.n_classes) for d in self.input_dims)

    def multiply_adds(self) -> int:
        """Multiply-adds per example: the branches' MLPs (the combination itself is O(M·K) additions)."""
        return sum(mlp_multiply_adds(d, self.hidden, self.n_classes) for d in self.input_dims)


def _check_sequence(x: torch.Tensor, mask: torch.Tensor | None, dim: int, name: str) -> torch.Tensor:
    """``x`` (n, L, dim) and a boolean ``mask`` (n, L) with at least one real token per row."""
    if not isinstance(x, torch.Tensor) or x.ndim != 3 or x.shape[2] != dim:
        shape = tuple(x.shape) if isinstance(x, torch.Tensor) else type(x).__name__
        raise ValueError(f"{name} must be a tensor of shape (n, length, {dim}), got {shape}")
    if mask is None:
        return torch.ones(x.shape[:2], dtype=torch.bool, device=x.device)
    if not isinstance(mask, torch.Tensor) or tuple(mask.shape) != tuple(x.shape[:2]):
        shape = tuple(mask.shape) if isinstance(mask, torch.Tensor) else type(mask).__name__
        raise ValueError(f"{name}_mask must be a tensor of shape {tuple(x.shape[:2])}, got {shape}")
    mask = mask.bool()
    if not bool(mask.any(dim=1).all()):
        raise ValueError(f"{name}_mask must mark at least one real token in every row")
    return mask


def masked_mean(x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Mean over the real tokens: Σ_j mask_j x_j / Σ_j mask_j, for x (n, L, d) and mask (n, L) → (n, d)."""
    if not isinstance(x, torch.Tensor) or x.ndim != 3:
        raise ValueError(f"x must be an (n, L, d) tensor, got {getattr(x, 'shape', type(x).__name__)}")
    if not isinstance(mask, torch.Tensor) or tuple(mask.shape) != tuple(x.shape[:2]):
        raise ValueError(f"mask must be an (n, L) = {tuple(x.shape[:2])} tensor like x's first two "
                         f"dimensions, got {getattr(mask, 'shape', type(mask).__name__)}")
    weights = mask.to(x.dtype).unsqueeze(-1)
    return (x * weights).sum(dim=1) / weights.sum(dim=1)


class PooledEarlyFusion(nn.Module):
    """Early fusion of two sequences after averaging each over its real tokens.

    logits = MLP([mean_i x_t,i ; mean_j x_a,j]) — lengths may vary, but which token met which is lost.
    """

    def __init__(self, query_dim: int, context_dim: int, hidden: int, n_classes: int) -> None:
        super().__init__()
        self.query_dim = check_positive_int(query_dim, "query_dim")
        self.context_dim = check_positive_int(context_dim, "context_dim")
        self.fusion = EarlyFusion((query_dim, context_dim), hidden, n_classes)

    def forward(self, queries: torch.Tensor, context: torch.Tensor, query_mask: torch.Tensor | None = None,
                context_mask: torch.Tensor | None = None) -> torch.Tensor:
        """Logits (n, n_classes) from (n, n_t, d_t) and (n, n_a, d_a) sequences and their masks."""
        query_mask = _check_sequence(queries, query_mask, self.query_dim, "queries")
        context_mask = _check_sequence(context, context_mask, self.context_dim, "context")
        return self.fusion(masked_mean(queries, query_mask), masked_mean(context, context_mask))

    def expected_parameter_count(self) -> int:
        """Parameters from the layer sizes: an MLP on d_t + d_a inputs."""
        return self.fusion.expected_parameter_count()

    def multiply_adds(self, n_query: int, n_context: int) -> int:
        """Multiply-adds per example: the pooling sums (n_t·d_t + n_a·d_a, linear) plus the MLP."""
        check_positive_int(n_query, "n_query")
        check_positive_int(n_context, "n_context")
        return n_query * self.query_dim + n_context * self.context_dim + self.fusion.multiply_adds()


def scaled_dot_product_attention(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor,
                                 key_mask: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """Attention written out: A = softmax(Q Kᵀ / √d_k) over the real keys, output A V.

    ``q`` (..., n_q, d_k), ``k`` (..., n_k, d_k), ``v`` (..., n_k, d_v); ``key_mask`` (..., n_k), broadcast
    against k's leading axes, is True for real keys: padded keys get score −∞, hence weight exactly 0.
    Returns (output (..., n_q, d_v), weights (..., n_q, n_k)).
    """
    if not all(isinstance(t, torch.Tensor) for t in (q, k, v)):
        raise ValueError(f"q, k and v must be torch tensors, got "
                         f"{', '.join(type(t).__name__ for t in (q, k, v))}")
    if q.ndim < 2 or k.ndim != q.ndim or v.ndim != q.ndim or q.shape[-1] != k.shape[-1] \
            or k.shape[-2] != v.shape[-2]:
        raise ValueError(f"q (..., n_q, d_k), k (..., n_k, d_k) and v (..., n_k, d_v) do not fit: "
                         f"got {tuple(q.shape)}, {tuple(k.shape)}, {tuple(v.shape)}")
    scores = q @ k.transpose(-2, -1) / math.sqrt(q.shape[-1])
    if key_mask is not None:
        try:
            torch.broadcast_shapes(tuple(key_mask.shape), tuple(k.shape[:-1]))
        except RuntimeError:
            raise ValueError(f"key_mask must have shape {tuple(k.shape[:-1])}, "
                             f"got {tuple(key_mask.shape)}") from None
        scores = scores.masked_fill(~key_mask.bool().unsqueeze(-2), float("-inf"))
    weights = torch.softmax(scores, dim=-1)
    return weights @ v, weights


class CrossAttentionFusion(nn.Module):
    """Hybrid fusion by cross-attention, 交叉注意力: the query modality's tokens attend to the context's.

    For each head h: Q = X_q W_Q, K = X_c W_K, V = X_c W_V, A = softmax(Q Kᵀ / √d_head) (padded context
    tokens masked out), H = concat_h(A V) W_O. Then H is averaged over the real query tokens and an
    MLP gives the logits. The attention block equals ``torch.nn.MultiheadAttention`` with the same
    weights (kdim = vdim = context_dim); its cost has an n_q·n_c term (every query meets every key).
    """

    def __init__(self, query_dim: int, context_dim: int, d_model: int, n_classes: int, *,
                 n_heads: int = 1, hidden: int = 32) -> None:
        super().__init__()
        self.query_dim = check_positive_int(query_dim, "query_dim")
        self.context_dim = check_positive_int(context_dim, "context_dim")
        self.d_model = check_positive_int(d_model, "d_model")
        self.n_heads = check_positive_int(n_heads, "n_heads")
        if d_model % n_heads:
            raise ValueError(f"d_model ({d_model}) must be divisible by n_heads ({n_heads})")
        self.hidden = check_positive_int(hidden, "hidden")
        self.n_classes = check_positive_int(n_classes, "n_classes", minimum=2)
        self.q_proj = nn.Linear(query_dim, d_model)
        self.k_proj = nn.Linear(context_dim, d_model)
        self.v_proj = nn.Linear(context_dim, d_model)
        self.out_proj = nn.Linear(d_model, d_model)
        self.head = mlp(d_model, hidden, n_classes)

    def _split_heads(self, x: torch.Tensor) -> torch.Tensor:
        n, length, _ = x.shape
        return x.view(n, length, self.n_heads, self.d_model // self.n_heads).transpose(1, 2)

    def attend(self, queries: torch.Tensor, context: torch.Tensor,
               context_mask: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """The attention block: outputs (n, n_q, d_model) and weights (n, n_heads, n_q, n_c)."""
        _check_sequence(queries, None, self.query_dim, "queries")
        context_mask = _check_sequence(context, context_mask, self.context_dim, "context")
        if len(queries) != len(context):
            raise ValueError(f"queries and context must hold the same examples: "
                             f"{len(queries)} vs {len(context)}")
        q = self._split_heads(self.q_proj(queries))
        k = self._split_heads(self.k_proj(context))
        v = self._split_heads(self.v_proj(context))
        out, weights = scaled_dot_product_attention(q, k, v, context_mask.unsqueeze(1))
        n, _, n_q, _ = out.shape
        return self.out_proj(out.transpose(1, 2).reshape(n, n_q, self.d_model)), weights

    def forward(self, queries: torch.Tensor, context: torch.Tensor, query_mask: torch.Tensor | None = None,
                context_mask: torch.Tensor | None = None) -> torch.Tensor:
        """Logits (n, n_classes) from (n, n_q, d_q) queries and (n, n_c, d_c) context, with masks."""
        query_mask = _check_sequence(queries, query_mask, self.query_dim, "queries")
        attended, _ = self.attend(queries, context, context_mask)
        return self.head(masked_mean(attended, query_mask))

    def expected_parameter_count(self) -> int:
        """Parameters from the layer sizes: four projections (weights + biases) and the MLP head."""
        d = self.d_model
        return ((self.query_dim + 1) * d + 2 * (self.context_dim + 1) * d + (d + 1) * d
                + mlp_parameter_count(d, self.hidden, self.n_classes))

    def multiply_adds(self, n_query: int, n_context: int) -> int:
        """Multiply-adds per example: projections n_q·d_q·d + 2·n_c·d_c·d, scores and weighted sum
        2·n_q·n_c·d (the product term), output projection n_q·d², the MLP head."""
        check_positive_int(n_query, "n_query")
        check_positive_int(n_context, "n_context")
        d = self.d_model
        return (n_query * self.query_dim * d + 2 * n_context * self.context_dim * d
                + 2 * n_query * n_context * d + n_query * d * d
                + mlp_multiply_adds(d, self.hidden, self.n_classes))


# ---------------------------------------------------------------------------------------------
# 2. Probabilistic fusion (概率融合机制): product and mixture of experts, and their metrics
# ---------------------------------------------------------------------------------------------


def _check_last_dim(array: np.ndarray, size: int, name: str) -> None:
    if array.ndim < 1 or array.shape[-1] != size:
        raise ValueError(f"{name} must have {size} entries along its last axis (one per class), "
                         f"got shape {array.shape}")


def product_of_experts(logits_v: np.ndarray, logits_t: np.ndarray, log_prior: np.ndarray) -> np.ndarray:
    """Fused class log-probabilities of two experts assumed independent given the class (text: 概率融合机制).

    With X_v ⊥ X_t | Y, Bayes' rule gives p(y | x_v, x_t) ∝ p(y | x_v) p(y | x_t) / p(y), so
    log q(y | x_v, x_t) = logit_v(y) + logit_t(y) − log p(y) − logsumexp_y(…).
    Logits may be any unnormalised log-probabilities (a per-row constant cancels).
    """
    logits_v = as_array(logits_v, "logits_v")
    logits_t = as_array(logits_t, "logits_t")
    check_same_shape(logits_v=logits_v, logits_t=logits_t)
    log_prior = as_array(log_prior, "log_prior", ndim=1)
    _check_last_dim(logits_v, len(log_prior), "logits_v")
    joint = logits_v + logits_t - log_prior
    return joint - logsumexp(joint, axis=-1, keepdims=True)


def mixture_of_experts(probs_v: np.ndarray, probs_t: np.ndarray, weight: float) -> np.ndarray:
    """Fused class probabilities as a weighted average (text: 专家混合):
    q(y | x_v, x_t) = w·p(y | x_v) + (1 − w)·p(y | x_t)."""
    probs_v = check_probabilities(probs_v, "probs_v")
    probs_t = check_probabilities(probs_t, "probs_t")
    check_same_shape(probs_v=probs_v, probs_t=probs_t)
    w = check_in_range(weight, "weight", 0.0, 1.0)
    return w * probs_v + (1.0 - w) * probs_t


def gaussian_product(means: np.ndarray, variances: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Product of K Gaussian experts N(μ_k, σ_k²), renormalised: precisions add.

    1/σ² = Σ_k 1/σ_k², μ = σ² Σ_k μ_k/σ_k² — so σ² is below every σ_k². Experts along axis 0.
    """
    means = as_array(means, "means")
    variances = as_array(variances, "variances")
    check_same_shape(means=means, variances=variances)
    if means.ndim < 1 or len(means) < 1:
        raise ValueError("means and variances must hold one entry per expert along axis 0")
    if np.any(variances <= 0):
        raise ValueError("variances must be positive")
    precision = np.sum(1.0 / variances, axis=0)
    variance = 1.0 / precision
    return variance * np.sum(means / variances, axis=0), variance


def gaussian_mixture_moments(means: np.ndarray, variances: np.ndarray,
                             weights: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean and variance of the mixture Σ_k w_k N(μ_k, σ_k²) (law of total variance):
    μ = Σ_k w_k μ_k, σ² = Σ_k w_k (σ_k² + μ_k²) − μ² — never below the weighted mean of the σ_k²."""
    means = as_array(means, "means")
    variances = as_array(variances, "variances")
    check_same_shape(means=means, variances=variances)
    weights = check_probabilities(weights, "weights", axis=0)
    if weights.ndim != 1 or len(weights) != len(means):
        raise ValueError(f"weights must hold one entry per expert ({len(means)}), got shape {weights.shape}")
    if np.any(variances <= 0):
        raise ValueError("variances must be positive")
    w = weights.reshape((-1,) + (1,) * (means.ndim - 1))
    mean = np.sum(w * means, axis=0)
    return mean, np.sum(w * (variances + means**2), axis=0) - mean**2


def entropy(probs: np.ndarray) -> np.ndarray:
    """Shannon entropy in nats along the last axis: H(p) = −Σ_y p(y) log p(y) (0·log 0 = 0)."""
    probs = check_probabilities(probs, "probs")
    safe = np.where(probs > 0, probs, 1.0)
    return -np.sum(probs * np.log(safe), axis=-1)


def _check_labels(probs: np.ndarray, labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    probs = check_probabilities(probs, "probs")
    if probs.ndim != 2:
        raise ValueError(f"probs must have shape (n, n_classes), got {probs.shape}")
    labels = as_array(labels, "labels", ndim=1, dtype=np.int64)
    check_same_length(probs=probs, labels=labels)
    if np.any(labels < 0) or np.any(labels >= probs.shape[1]):
        raise ValueError(f"labels must lie in 0 … {probs.shape[1] - 1}")
    return probs, labels


def negative_log_likelihood(probs: np.ndarray, labels: np.ndarray, *, floor: float = 1e-12) -> float:
    """Mean negative log-likelihood −(1/n) Σ_i log max(p_i(y_i), floor), in nats."""
    probs, labels = _check_labels(probs, labels)
    return float(-np.mean(np.log(np.maximum(probs[np.arange(len(labels)), labels], floor))))


def accuracy_of(probs: np.ndarray, labels: np.ndarray) -> float:
    """Fraction of rows whose most probable class is the label."""
    probs, labels = _check_labels(probs, labels)
    return float(np.mean(probs.argmax(axis=1) == labels))


def expected_calibration_error(probs: np.ndarray, labels: np.ndarray, n_bins: int = 10) -> float:
    """ECE = Σ_b (n_b/n)·|accuracy_b − confidence_b| over equal-width bins of the top-class confidence."""
    probs, labels = _check_labels(probs, labels)
    check_positive_int(n_bins, "n_bins")
    confidence = probs.max(axis=1)
    correct = probs.argmax(axis=1) == labels
    bins = np.minimum((confidence * n_bins).astype(int), n_bins - 1)
    total = 0.0
    for b in np.unique(bins):
        members = bins == b
        total += members.mean() * abs(correct[members].mean() - confidence[members].mean())
    return float(total)


# ---------------------------------------------------------------------------------------------
# 3. Experiments the chapter runs: training, exact posteriors, a corrupted expert
# ---------------------------------------------------------------------------------------------


def _check_training_data(model: nn.Module, inputs: Sequence[torch.Tensor], labels: torch.Tensor) -> None:
    """A torch model, a list of input tensors and a (n,) label tensor with the same number of rows."""
    if not isinstance(model, nn.Module):
        raise ValueError(f"model must be a torch.nn.Module, got {type(model).__name__}")
    if isinstance(inputs, torch.Tensor) or not all(isinstance(x, torch.Tensor) for x in inputs) or not inputs:
        raise ValueError("inputs must be a non-empty list of tensors, one per model input")
    if not isinstance(labels, torch.Tensor) or labels.ndim != 1:
        raise ValueError(f"labels must be an (n,) tensor of class indices, got "
                         f"{getattr(labels, 'shape', type(labels).__name__)}")
    check_same_length(**{f"inputs[{i}]": x for i, x in enumerate(inputs)}, labels=labels)


def train_classifier(model: nn.Module, inputs: Sequence[torch.Tensor], labels: torch.Tensor, *,
                     epochs: int, lr: float = 1e-2, batch_size: int = 64, seed: int = 0,
                     desc: str = "training", progress: bool = True) -> dict[str, list[float]]:
    """Minimise cross-entropy(model(*inputs), labels) with ``helpers.train.fit``; returns its history."""
    from .train import fit

    _check_training_data(model, inputs, labels)

    def loss_fn(net: nn.Module, *batch: torch.Tensor) -> torch.Tensor:
        return nn.functional.cross_entropy(net(*batch[:-1]), batch[-1])

    return fit(model, loss_fn, (*inputs, labels), epochs=epochs, lr=lr, batch_size=batch_size,
               seed=seed, desc=desc, progress=progress)


def train_branches_separately(model: LateFusion, inputs: Sequence[torch.Tensor], labels: torch.Tensor, *,
                              epochs: int, lr: float = 1e-2, batch_size: int = 64, seed: int = 0,
                              desc: str = "training", progress: bool = True) -> dict[str, list[float]]:
    """Train each branch of a ``LateFusion`` as its own classifier: loss = Σ_m CE(logits_m, y).

    The branches share no parameters, so each one's gradient is its own loss's: they become
    calibrated unimodal experts p(y | x_m), ready to be combined by any rule afterwards.
    """
    from .train import fit

    if not isinstance(model, LateFusion):
        raise ValueError(f"model must be a LateFusion, got {type(model).__name__}")
    _check_training_data(model, inputs, labels)

    def loss_fn(net: LateFusion, *batch: torch.Tensor) -> torch.Tensor:
        return sum(nn.functional.cross_entropy(logits, batch[-1])
                   for logits in net.unimodal_logits(*batch[:-1]))

    return fit(model, loss_fn, (*inputs, labels), epochs=epochs, lr=lr, batch_size=batch_size,
               seed=seed, desc=desc, progress=progress)


def gaussian_class_log_posterior(x: np.ndarray, means: np.ndarray, sigma: float,
                                 log_prior: np.ndarray) -> np.ndarray:
    """Exact log p(y | x) for x | y ~ N(means[y], σ²I): log p(y) − ‖x − μ_y‖²/(2σ²), normalised over y."""
    x = as_array(x, "x", ndim=2)
    means = as_array(means, "means", ndim=2)
    log_prior = as_array(log_prior, "log_prior", ndim=1)
    if means.shape != (len(log_prior), x.shape[1]):
        raise ValueError(f"means must have shape (n_classes, d) = ({len(log_prior)}, {x.shape[1]}), "
                         f"got {means.shape}")
    sigma = check_in_range(sigma, "sigma", 0.0, np.inf, low_open=True)
    scores = log_prior - ((x[:, None, :] - means[None]) ** 2).sum(axis=-1) / (2 * sigma**2)
    return scores - logsumexp(scores, axis=1, keepdims=True)


def corrupt_expert(probs: np.ndarray, labels: np.ndarray, rate: float, *, confidence: float = 0.95,
                   seed: int = 0) -> np.ndarray:
    """A confidently wrong expert: each row, with probability ``rate``, is replaced by a distribution
    putting ``confidence`` on a random wrong class and the rest evenly on the other classes."""
    probs, labels = _check_labels(probs, labels)
    rate = check_in_range(rate, "rate", 0.0, 1.0)
    n_classes = probs.shape[1]
    confidence = check_in_range(confidence, "confidence", 1.0 / n_classes, 1.0, high_open=True)
    rng = rng_from(seed)
    hit = rng.random(len(labels)) < rate
    wrong = (labels + rng.integers(1, n_classes, size=len(labels))) % n_classes
    corrupted = np.full_like(probs, (1.0 - confidence) / (n_classes - 1))
    corrupted[np.arange(len(labels)), wrong] = confidence
    return np.where(hit[:, None], corrupted, probs)


def _safe_log(probs: np.ndarray) -> np.ndarray:
    """log p with p floored at the smallest positive double (an underflowed 0 stays finite)."""
    return np.log(np.maximum(probs, np.finfo(float).tiny))


def fusion_metrics(probs: np.ndarray, labels: np.ndarray) -> dict[str, float]:
    """Accuracy, NLL (nats) and ECE of one set of predicted class probabilities."""
    return {"accuracy": accuracy_of(probs, labels), "nll": negative_log_likelihood(probs, labels),
            "ece": expected_calibration_error(probs, labels)}


def corruption_sweep(probs_v: np.ndarray, probs_t: np.ndarray, labels: np.ndarray, prior: np.ndarray,
                     rates: Sequence[float], *, weight: float = 0.5, confidence: float = 0.95,
                     seed: int = 0) -> dict[str, dict[str, np.ndarray]]:
    """Accuracy, NLL and ECE of expert v, expert t (corrupted at each rate), their PoE and their MoE.

    Returns ``sweep[method][metric]``, one value per rate; methods "vision", "text", "poe", "moe".
    """
    probs_v, labels = _check_labels(probs_v, labels)
    check_same_shape(probs_v=probs_v, probs_t=check_probabilities(probs_t, "probs_t"))
    rates = [check_in_range(rate, "rates", 0.0, 1.0) for rate in rates]
    prior = check_probabilities(prior, "prior")
    _check_last_dim(prior, probs_v.shape[1], "prior")
    sweep: dict[str, dict[str, list[float]]] = {m: {} for m in ("vision", "text", "poe", "moe")}
    for rate in rates:
        bad_t = corrupt_expert(probs_t, labels, rate, confidence=confidence, seed=seed)
        fused = {"vision": probs_v, "text": bad_t,
                 "poe": np.exp(product_of_experts(_safe_log(probs_v), _safe_log(bad_t), np.log(prior))),
                 "moe": mixture_of_experts(probs_v, bad_t, weight)}
        for method, probs in fused.items():
            for metric, value in fusion_metrics(probs, labels).items():
                sweep[method].setdefault(metric, []).append(value)
    return {m: {k: np.asarray(v) for k, v in metrics.items()} for m, metrics in sweep.items()}


@torch.no_grad()
def example_attention(model: CrossAttentionFusion, text: torch.Tensor, audio: torch.Tensor,
                      text_mask: torch.Tensor, audio_mask: torch.Tensor, index: int,
                      head: int | None = None) -> np.ndarray:
    """Attention weights of example ``index``, cut to its real tokens: (n_t, n_a); those of ``head``, or
    their mean over heads when ``head`` is None."""
    if not isinstance(model, CrossAttentionFusion):
        raise ValueError(f"model must be a CrossAttentionFusion, got {type(model).__name__}")
    check_positive_int(index, "index", minimum=0)
    if index >= len(text):
        raise ValueError(f"index must be below the number of examples ({len(text)}), got {index}")
    from .train import model_device

    model.eval()
    target = model_device(model)
    rows = slice(index, index + 1)
    _, weights = model.attend(text[rows].to(target), audio[rows].to(target), audio_mask[rows].to(target))
    n_t, n_a = int(text_mask[index].sum()), int(audio_mask[index].sum())
    if head is not None:
        check_positive_int(head, "head", minimum=0)
        if head >= model.n_heads:
            raise ValueError(f"head must be below n_heads ({model.n_heads}), got {head}")
        return weights[0, head, :n_t, :n_a].cpu().numpy()
    return weights[0].mean(dim=0)[:n_t, :n_a].cpu().numpy()


def multiply_adds_by_length(lengths: Sequence[int], *, text_dim: int, audio_dim: int, hidden: int,
                            d_model: int, n_classes: int = 2) -> dict[str, np.ndarray]:
    """Multiply-adds per example for text of length n and audio of length 2n, for each n in ``lengths``:
    flattened early fusion (an MLP on n·d_t + 2n·d_a inputs), pooled early fusion, and cross-attention."""
    lengths = [check_positive_int(n, "lengths") for n in lengths]
    pooled = PooledEarlyFusion(text_dim, audio_dim, hidden, n_classes)
    cross = CrossAttentionFusion(text_dim, audio_dim, d_model, n_classes, hidden=hidden)
    return {
        "flattened early fusion": np.array([mlp_multiply_adds(n * text_dim + 2 * n * audio_dim,
                                                              hidden, n_classes)
                                            for n in lengths]),
        "pooled early fusion": np.array([pooled.multiply_adds(n, 2 * n) for n in lengths]),
        "cross-attention": np.array([cross.multiply_adds(n, 2 * n) for n in lengths]),
    }


def digit_view_experts(*, n_train: int = 1000, hidden: int = 32, epochs: int = 20, seed: int = 0,
                       progress: bool = False) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """One MLP per standardised view of the UCI digits (``helpers.data.load_multiple_features``), trained on
    a random ``n_train`` digits (``train_branches_separately``); returns each view's test probabilities
    p_m(y | x_m) on the other digits and their labels."""
    from .data import DIGIT_VIEWS, load_multiple_features
    from .train import as_tensors, model_device, seeded

    check_positive_int(n_train, "n_train", minimum=10)
    data = load_multiple_features()
    labels = data.targets["digit"]
    if n_train >= len(labels):
        raise ValueError(f"n_train must leave test digits: below {len(labels)}, got {n_train}")
    order = rng_from(seed).permutation(len(labels))
    train, test = order[:n_train], order[n_train:]
    views = []
    for name in DIGIT_VIEWS:
        x = data.views[name]
        views.append((x - x[train].mean(0)) / (x[train].std(0) + 1e-8))
    with seeded(seed):
        model = LateFusion([x.shape[1] for x in views], hidden, 10)
    train_branches_separately(model, as_tensors(*(x[train] for x in views)), torch.as_tensor(labels[train]),
                              epochs=epochs, seed=seed, progress=progress, desc="six view experts")
    test_inputs = as_tensors(*(x[test] for x in views))
    with torch.no_grad():
        logits = model.unimodal_logits(*(x.to(model_device(model)) for x in test_inputs))
    return ({name: torch.softmax(view, dim=1).cpu().numpy() for name, view in zip(DIGIT_VIEWS, logits)},
            labels[test])


def fuse_digit_views(*, n_train: int = 1000, hidden: int = 32, epochs: int = 20, seed: int = 0,
                     progress: bool = False) -> dict[str, dict[str, float]]:
    """Late fusion over the six views of the UCI digits (``digit_view_experts``): ``results[name]`` =
    accuracy / NLL / ECE / mean confidence for each view alone, for "moe" (mean of the six probability
    vectors) and for "poe" (normalised product, i.e. sum of the six log-probabilities; the prior is uniform,
    200 digits per class, so its correction is a constant that normalisation removes)."""
    experts, labels = digit_view_experts(n_train=n_train, hidden=hidden, epochs=epochs, seed=seed,
                                         progress=progress)
    return digit_fusion_metrics(experts, labels)


def digit_fusion_metrics(experts: dict[str, np.ndarray], labels: np.ndarray) -> dict[str, dict[str, float]]:
    """Accuracy / NLL / ECE / mean confidence (mean_i max_y q(y | x_i)) of each expert, of their "moe"
    (mean of the probability vectors) and of their "poe" (normalised product, ``fuse_experts``)."""
    fused = fuse_experts(experts)
    results = {}
    for name, probs in {**experts, **fused}.items():
        results[name] = {**fusion_metrics(probs, labels), "confidence": float(probs.max(1).mean())}
    return results


# ---------------------------------------------------------------------------------------------
# 4. Reliability over seeds, learned combiners, dependence between experts
# ---------------------------------------------------------------------------------------------


@torch.no_grad()
def attention_alignment(model: CrossAttentionFusion, text: torch.Tensor, audio: torch.Tensor,
                        text_mask: torch.Tensor, audio_mask: torch.Tensor,
                        match: np.ndarray) -> dict[str, np.ndarray]:
    """Per head h, over all real text tokens i of all examples, with a_i the token's attention weights:

    ``aligned[h]`` = mean[argmax_j a_ij = match_i] (the token's top frame is its own word's frame);
    ``avoided[h]`` = mean[a_i,match_i < 1/n_a] (the own frame gets less than a uniform share).
    A head that learned the pairing has aligned ≈ 1; one that learned to look *away* has avoided ≈ 1.
    """
    if not isinstance(model, CrossAttentionFusion):
        raise ValueError(f"model must be a CrossAttentionFusion, got {type(model).__name__}")
    match = np.asarray(match)
    if match.shape != tuple(text.shape[:2]):
        raise ValueError(f"match must have shape {tuple(text.shape[:2])}, got {match.shape}")
    from .train import model_device

    model.eval()
    target = model_device(model)
    _, weights = model.attend(text.to(target), audio.to(target), audio_mask.to(target))
    weights = weights.cpu().numpy()                                     # (n, H, n_t, n_a)
    real = text_mask.cpu().numpy().astype(bool)
    own = np.take_along_axis(weights, np.maximum(match, 0)[:, None, :, None], axis=-1)[..., 0]
    uniform = 1.0 / audio_mask.cpu().numpy().sum(1)[:, None, None]
    top = weights.argmax(-1) == match[:, None, :]
    return {"aligned": top.transpose(1, 0, 2)[:, real].mean(1),
            "avoided": (own < uniform).transpose(1, 0, 2)[:, real].mean(1)}


def cross_attention_seed_sweep(train: object, test: object, seeds: Sequence[int], *, n_heads: int = 1,
                               d_model: int = 16, hidden: int = 32, epochs: int = 12,
                               lr: float = 0.01) -> dict[str, np.ndarray]:
    """Train one ``CrossAttentionFusion`` per seed on ``train`` (an ``AlignedSequences``) and measure it on
    ``test``: ``accuracy`` (one per seed), ``aligned`` and ``avoided`` (of its best-aligned head, see
    ``attention_alignment``). The seed sets both the initial weights and the minibatch order."""
    from .train import accuracy, predict, seeded

    seeds = [check_positive_int(s, "seeds", minimum=0) for s in seeds]
    if not seeds:
        raise ValueError("seeds must hold at least one seed")
    tr, te = train.tensors(), test.tensors()
    rows: dict[str, list[float]] = {"accuracy": [], "aligned": [], "avoided": []}
    for seed in seeds:
        with seeded(seed):
            model = CrossAttentionFusion(tr[0].shape[2], tr[1].shape[2], d_model, 2, n_heads=n_heads,
                                         hidden=hidden)
        train_classifier(model, tr[:4], tr[4], epochs=epochs, lr=lr, seed=seed, progress=False)
        rows["accuracy"].append(accuracy(predict(model, *te[:4]), te[4]))
        heads = attention_alignment(model, *te[:4], test.match)
        best = int(heads["aligned"].argmax())
        rows["aligned"].append(float(heads["aligned"][best]))
        rows["avoided"].append(float(heads["avoided"][best]))
    return {key: np.asarray(values) for key, values in rows.items()}


# Measured with ``cross_attention_seed_sweep(make_aligned_sequences(1500, seed=0),
# make_aligned_sequences(1000, seed=1), range(10), epochs=12, lr=0.01)``; tests/test_fusion.py re-runs it on
# other seeds. Keys: configuration; values: per seed 0…9.
CROSS_ATTENTION_SEED_RESULTS: dict[str, dict[str, tuple[float, ...]]] = {
    "1 head, d = 16": {
        "accuracy": (0.993, 0.993, 0.671, 0.749, 0.885, 0.99, 0.995, 0.856, 0.991, 0.789),
        "aligned": (0.999, 0.998, 0.359, 0.313, 0.0, 1.0, 0.999, 0.0, 0.999, 0.499),
        "avoided": (0.0, 0.0, 0.505, 0.509, 1.0, 0.0, 0.0, 1.0, 0.0, 0.451)},
    "8 heads, d = 128": {
        "accuracy": (0.991, 0.989, 0.968, 0.989, 0.963, 0.99, 0.991, 0.974, 0.986, 0.961),
        "aligned": (0.998, 0.998, 0.998, 0.995, 0.972, 0.999, 0.997, 0.983, 0.998, 0.991),
        "avoided": (0.0, 0.0, 0.0, 0.0, 0.001, 0.0, 0.0, 0.001, 0.0, 0.0)},
}


class LearnedCombiner(nn.Module):
    """Late fusion with a learned combiner: one MLP per modality, then a small MLP on their outputs.

    ``on="logits"``: logits = g([f_v(x_v); f_t(x_t)]) with f_m each branch's logits (the last layer);
    ``on="hidden"``: the same on each branch's penultimate (hidden) features h_m. Because g is
    non-linear it can represent interactions between the modalities' *outputs* (e.g. XOR of two signs),
    which a fixed sum f_v + f_t cannot; each branch still sees only its own modality.
    """

    def __init__(self, input_dims: Sequence[int], hidden: int, n_classes: int, *, on: str = "logits",
                 combiner_hidden: int = 16) -> None:
        super().__init__()
        self.input_dims = _check_dims(input_dims)
        self.on = check_choice(on, "on", ("logits", "hidden"))
        check_positive_int(hidden, "hidden")
        check_positive_int(combiner_hidden, "combiner_hidden")
        self.branches = nn.ModuleList(mlp(d, hidden, n_classes) for d in self.input_dims)
        width = n_classes if on == "logits" else hidden
        self.combiner = mlp(width * len(self.input_dims), combiner_hidden, n_classes)

    def forward(self, *xs: torch.Tensor) -> torch.Tensor:
        """Logits (n, n_classes): the combiner applied to the branches' concatenated outputs."""
        _check_inputs(xs, self.input_dims)
        parts = [branch(x) if self.on == "logits" else branch[:2](x) for branch, x in zip(self.branches, xs)]
        return self.combiner(torch.cat(parts, dim=1))


def fuse_experts(experts: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """PoE and MoE of several experts over the same classes, uniform prior:
    q_p(y) ∝ Π_m p_m(y) (sum of log-probabilities, normalised) and q_m(y) = (1/M) Σ_m p_m(y)."""
    if not isinstance(experts, dict) or len(experts) < 2:
        raise ValueError("experts must be a dict of at least two experts' (n, K) probabilities")
    stacked = np.stack([check_probabilities(p, "experts") for p in experts.values()])
    log_poe = _safe_log(stacked).sum(0)
    return {"poe": np.exp(log_poe - logsumexp(log_poe, axis=1, keepdims=True)), "moe": stacked.mean(0)}


def error_correlations(probs: dict[str, np.ndarray], labels: np.ndarray) -> dict[tuple[str, str], float]:
    """Pearson correlation between the error indicators e_m = [argmax p_m ≠ y] of every pair of experts.

    Conditional independence given y makes it about 0 among examples of one class; clearly positive
    values mean the experts fail on the same examples, and PoE then counts shared evidence twice.
    """
    if not isinstance(probs, dict) or len(probs) < 2:
        raise ValueError("probs must be a dict of at least two experts' (n, K) probabilities")
    errors = {name: (_check_labels(p, labels)[0].argmax(1) != np.asarray(labels)).astype(float)
              for name, p in probs.items()}
    names = list(errors)
    out = {}
    for i, a in enumerate(names):
        for b in names[i + 1:]:
            if errors[a].std() == 0 or errors[b].std() == 0:
                out[(a, b)] = 0.0
            else:
                out[(a, b)] = float(np.corrcoef(errors[a], errors[b])[0, 1])
    return out


def accuracy_over_seeds(builders: Mapping[str, Callable[[], nn.Module]], inputs: Sequence[torch.Tensor],
                        labels: torch.Tensor, test_inputs: Sequence[torch.Tensor], test_labels: torch.Tensor,
                        seeds: Sequence[int], *, epochs: int = 10, lr: float = 0.01
                        ) -> tuple[dict[str, np.ndarray], dict[str, nn.Module]]:
    """For every seed s and every named model: build it under torch seed s, train it with
    ``train_classifier`` (minibatch order from s too) and measure its test accuracy.

    Returns ``accuracy[name]`` (one value per seed) and the last seed's trained models.
    """
    from .train import accuracy, predict, seeded

    if not isinstance(builders, Mapping) or not builders or not all(map(callable, builders.values())):
        raise ValueError("builders must map at least one name to a function that builds a model")
    seeds = [check_positive_int(s, "seeds", minimum=0) for s in seeds]
    if not seeds:
        raise ValueError("seeds must hold at least one seed")
    scores: dict[str, list[float]] = {name: [] for name in builders}
    models: dict[str, nn.Module] = {}
    for seed in seeds:
        for name, build in builders.items():
            with seeded(seed):
                models[name] = build()
            train_classifier(models[name], inputs, labels, epochs=epochs, lr=lr, seed=seed, progress=False)
            scores[name].append(accuracy(predict(models[name], *test_inputs), test_labels))
    return {name: np.asarray(values) for name, values in scores.items()}, models


class HybridFusion(nn.Module):
    """Hybrid (intermediate) fusion, 混合融合: each modality is encoded first, the modalities interact on
    the *hidden* features, and a head classifies the result.

    h_v = ReLU(W_v x_v + b_v),  h_t = ReLU(W_t x_t + b_t)      (one encoder layer per modality)
    z = (U h_v) ⊙ (V h_t)                                         (a low-rank bilinear interaction)
    logits = MLP(z)                                               (the head)

    Unlike early fusion, each modality keeps its own encoder (which could be pretrained or swapped); unlike
    late fusion, the modalities meet before the head, and multiplicatively.
    """

    def __init__(self, input_dims: Sequence[int], hidden: int, n_classes: int, *, rank: int = 16) -> None:
        super().__init__()
        self.input_dims = _check_dims(input_dims)
        if len(self.input_dims) != 2:
            raise ValueError(f"input_dims must hold two feature sizes (x_v, x_t), got {input_dims!r}")
        self.hidden = check_positive_int(hidden, "hidden")
        self.rank = check_positive_int(rank, "rank")
        self.n_classes = check_positive_int(n_classes, "n_classes", minimum=2)
        self.encoders = nn.ModuleList(nn.Sequential(nn.Linear(d, hidden), nn.ReLU()) for d in self.input_dims)
        self.interaction = nn.ModuleList(nn.Linear(hidden, rank) for _ in self.input_dims)
        self.head = mlp(rank, hidden, n_classes)

    def forward(self, *xs: torch.Tensor) -> torch.Tensor:
        """Logits (n, n_classes) from x_v (n, d_v) and x_t (n, d_t)."""
        _check_inputs(xs, self.input_dims)
        h_v, h_t = (project(encode(x)) for encode, project, x in zip(self.encoders, self.interaction, xs))
        return self.head(h_v * h_t)

    def expected_parameter_count(self) -> int:
        """Parameters from the layer sizes: two encoders, two projections to the rank, the head."""
        encoders = sum((d + 1) * self.hidden for d in self.input_dims)
        return encoders + 2 * (self.hidden + 1) * self.rank + mlp_parameter_count(self.rank, self.hidden,
                                                                                  self.n_classes)


# ---------------------------------------------------------------------------------------------
# 5. Choosing among experts: a learned gate (Jacobs et al. 1991)
# ---------------------------------------------------------------------------------------------


def regional_experts(n: int, prior: Sequence[float], *, rate: float = 0.5,
                     seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Two experts, each reliable in its own region of the input (Jacobs et al.'s "local experts").

    Data: ``data.make_class_conditional_views`` (X_v ⊥ X_t | Y) and a context c ~ U(−1, 1) (a sensor
    reading such as brightness). Each expert is the exact posterior p(y | x_m), then made confidently wrong
    (``corrupt_expert`` at ``rate``) in its bad region: expert v where c < 0, expert t where c ≥ 0.
    Returns gate inputs x = [c, x_v, x_t] (n, 1 + 2·dim), the experts' probabilities (2, n, K) and y (n,).
    """
    from .data import make_class_conditional_views

    check_positive_int(n, "n", minimum=2)
    rate = check_in_range(rate, "rate", 0.0, 1.0)
    rng = rng_from(seed)
    gen = make_class_conditional_views(n, prior, seed=rng)
    log_prior = np.log(gen.prior)
    context = rng.uniform(-1.0, 1.0, n)
    experts = []
    for x, means, bad in ((gen.x_v, gen.means_v, context < 0), (gen.x_t, gen.means_t, context >= 0)):
        clean = np.exp(gaussian_class_log_posterior(x, means, gen.sigma, log_prior))
        wrong = corrupt_expert(clean, gen.y, rate, seed=rng)
        experts.append(np.where(bad[:, None], wrong, clean))
    return np.column_stack([context, gen.x_v, gen.x_t]), np.stack(experts), gen.y


def _check_experts(inputs: np.ndarray, experts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    inputs = as_array(inputs, "inputs", ndim=2)
    experts = check_probabilities(experts, "experts")
    if experts.ndim != 3 or experts.shape[1] != len(inputs):
        raise ValueError(f"experts must have shape (n_experts, n, n_classes) with n = {len(inputs)} "
                         f"(the rows of inputs), got {experts.shape}")
    return inputs, experts


class ExpertGate(nn.Module):
    """A gating network (Jacobs et al. 1991): g(x) = softmax(W x + b), one weight per expert, so that the
    mixture q(y | x) = Σ_k g_k(x) p_k(y | x) can choose a different expert for every input.

    ``use_input=False`` is the ablation: W is fixed at 0, so g = softmax(b) is one learned weight for all
    inputs — a fixed mixture whose weight is fitted instead of set to 1/2.
    """

    def __init__(self, in_dim: int, n_experts: int, *, use_input: bool = True) -> None:
        super().__init__()
        self.in_dim = check_positive_int(in_dim, "in_dim")
        self.n_experts = check_positive_int(n_experts, "n_experts", minimum=2)
        self.use_input = bool(use_input)
        self.linear = nn.Linear(in_dim, n_experts)
        if not self.use_input:
            nn.init.zeros_(self.linear.weight)
            self.linear.weight.requires_grad_(False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """log g(x): (n, n_experts) log gate weights for x (n, in_dim)."""
        _check_inputs((x,), (self.in_dim,))
        return torch.log_softmax(self.linear(x), dim=1)


def fit_expert_gate(inputs: np.ndarray, experts: np.ndarray, labels: np.ndarray, *, use_input: bool = True,
                    epochs: int = 15, lr: float = 0.05, seed: int = 0) -> ExpertGate:
    """Train an ``ExpertGate`` on training data with the experts fixed, by maximum likelihood of the mixture:

    min_{W, b}  −(1/n) Σ_i log Σ_k g_k(x_i) p_k(y_i | x_i)     (``helpers.train.fit``, Adam)
    """
    from .train import as_tensors, fit, seeded

    inputs, experts = _check_experts(inputs, experts)
    _, labels = _check_labels(experts[0], labels)
    log_expert = _safe_log(experts[:, np.arange(len(labels)), labels].T)     # (n, K): log p_k(y_i | x_i)
    with seeded(seed):
        gate = ExpertGate(inputs.shape[1], len(experts), use_input=use_input)

    def loss_fn(model: ExpertGate, x: torch.Tensor, log_p: torch.Tensor) -> torch.Tensor:
        return -torch.logsumexp(model(x) + log_p, dim=1).mean()

    fit(gate, loss_fn, as_tensors(inputs, log_expert), epochs=epochs, lr=lr, batch_size=256, seed=seed,
        progress=False, desc="gate")
    return gate


def gate_weights(gate: ExpertGate, inputs: np.ndarray) -> np.ndarray:
    """The gate's weights g(x) = softmax(W x + b) for each row of ``inputs``: (n, n_experts), summing to 1."""
    from .train import as_tensors, predict

    if not isinstance(gate, ExpertGate):
        raise ValueError(f"gate must be an ExpertGate (from fit_expert_gate), got {type(gate).__name__}")
    inputs = as_array(inputs, "inputs", ndim=2)
    if inputs.shape[1] != gate.in_dim:
        raise ValueError(f"inputs must have shape (n, {gate.in_dim}), got {inputs.shape}")
    return np.exp(predict(gate, *as_tensors(inputs)).numpy().astype(float))


def gated_mixture(gate: ExpertGate, inputs: np.ndarray, experts: np.ndarray) -> np.ndarray:
    """The gated mixture of experts q(y | x) = Σ_k g_k(x) p_k(y | x): (n, n_classes) probabilities."""
    inputs, experts = _check_experts(inputs, experts)
    return np.einsum("nk,knc->nc", gate_weights(gate, inputs), experts)


GATE_METHODS: tuple[str, ...] = ("expert v", "expert t", "w = 0.5", "gate, no input", "learned gate")


def gate_over_seeds(seeds: Sequence[int], prior: Sequence[float], *, n_train: int = 2000,
                    n_test: int = 5000, rate: float = 0.5) -> dict[str, dict[str, np.ndarray]]:
    """Test accuracy and NLL of each of ``GATE_METHODS`` on ``regional_experts`` data, one value per seed
    (the seed draws the class means, the data and the corruption; gates are fitted on the n_train training
    rows only): ``results[metric][method]``, metrics "accuracy" and "nll"."""
    seeds = [check_positive_int(s, "seeds", minimum=0) for s in seeds]
    if not seeds:
        raise ValueError("seeds must hold at least one seed")
    check_positive_int(n_train, "n_train", minimum=10)
    check_positive_int(n_test, "n_test", minimum=10)
    results: dict[str, dict[str, list[float]]] = {"accuracy": {}, "nll": {}}
    for seed in seeds:
        inputs, experts, labels = regional_experts(n_train + n_test, prior, rate=rate, seed=seed)
        train, test = slice(0, n_train), slice(n_train, None)
        gates = {name: fit_expert_gate(inputs[train], experts[:, train], labels[train], use_input=flag,
                                       seed=seed) for name, flag in (("gate, no input", False),
                                                                     ("learned gate", True))}
        fused = {"expert v": experts[0, test], "expert t": experts[1, test],
                 "w = 0.5": mixture_of_experts(experts[0, test], experts[1, test], 0.5),
                 **{name: gated_mixture(g, inputs[test], experts[:, test]) for name, g in gates.items()}}
        for name, probs in fused.items():
            results["accuracy"].setdefault(name, []).append(accuracy_of(probs, labels[test]))
            results["nll"].setdefault(name, []).append(negative_log_likelihood(probs, labels[test]))
    return {metric: {name: np.asarray(v) for name, v in table.items()} for metric, table in results.items()}
