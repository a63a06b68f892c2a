"""Practical challenges: modality dominance, negative transfer, missing modalities (text: 实践中的挑战与对策).

The module reads like chapter 04:

1. **Modality dominance** (训练动态与模态主导): per-modality gradient norms ‖∇_θv L‖₂, ‖∇_θt L‖₂
   measured after every backward pass (``gradient_norms``), a ``DominanceMonitor`` that records them
   as a ``helpers.train.fit`` ``after_backward`` hook and switches a remedy on when their ratio passes
   a threshold: gradient scaling (``scale_gradients``: the larger norm rescaled to the smaller) or
   adaptive loss weights (``AdaptiveLossWeights``: auxiliary unimodal losses weighted by λ_v, λ_t,
   updated so the weighted gradient norms balance). ``run_dominance`` trains the two-branch network.
2. **Negative transfer and gated fusion** (负迁移, 门控融合): ``gated_fusion`` averages two binary
   predictions when they agree within τ, else keeps the modality found more reliable on validation
   data (``more_reliable``); ``gated_accuracy_sweep`` scores it over a range of τ.
3. **Missing modalities** (模态缺失): ``missing_mask`` (``drop="one"``: each example loses one
   modality with a given probability; ``drop="each"``: every modality is lost independently; never
   all), ``zero_fill``, Gaussian conditional-mean imputation (``GaussianImputer``:
   E[x_m | x_o] = μ_m + Σ_mo Σ_oo⁻¹ (x_o − μ_o)), and modality dropout training
   (``MissingAwareFusion`` with a zero vector or a learned "missing" embedding, ``drop_modalities``,
   ``modality_dropout_loss``, ``train_missing_aware``; each takes the same ``drop`` choice);
   ``missing_modality_curves`` compares them over missing rates.

Conventions: a missing view of an example is a row of NaN (``mark_missing``); ``present`` is a
boolean (n, M) array with True where modality m of example i is observed. Models reuse chapter 03's
``helpers.fusion.EarlyFusion`` and ``LateFusion``; every training goes through ``helpers.train.fit``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Iterable, Mapping, Sequence

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from ._checks import as_array, check_choice, check_in_range, check_positive_int, check_same_length, rng_from
from .fusion import EarlyFusion, LateFusion, _check_inputs, mlp
from .train import accuracy, as_tensors, fit, model_device, predict, seeded

REMEDIES: tuple[str, ...] = ("none", "scale", "adaptive", "auxiliary")
FILLS: tuple[str, ...] = ("zero", "learned")

# ---------------------------------------------------------------------------------------------
# 1. Modality dominance (训练动态与模态主导)
# ---------------------------------------------------------------------------------------------


def _parameter_groups(groups: Mapping[str, Iterable[nn.Parameter]]) -> dict[str, list[nn.Parameter]]:
    if not isinstance(groups, Mapping) or not groups:
        raise ValueError("groups must be a non-empty mapping name -> parameters, "
                         "e.g. {'v': model.branches[0].parameters(), 't': model.branches[1].parameters()}")
    out = {}
    for name, params in groups.items():
        params = list(params)
        if not params or not all(isinstance(p, torch.Tensor) for p in params):
            raise ValueError(f"groups[{name!r}] must hold at least one parameter tensor")
        out[name] = params
    return out


def gradient_norms(groups: Mapping[str, Iterable[nn.Parameter]]) -> dict[str, float]:
    """‖∇_θm L‖₂ of each named parameter group: the Euclidean norm of all its gradients stacked.

    A parameter without a gradient (``grad is None``) counts as a zero gradient.
    """
    norms = {}
    for name, params in _parameter_groups(groups).items():
        squares = [p.grad.detach().pow(2).sum() for p in params if p.grad is not None]
        norms[name] = float(torch.stack(squares).sum().sqrt()) if squares else 0.0
    return norms


def scale_gradients(groups: Mapping[str, Iterable[nn.Parameter]]) -> dict[str, float]:
    """Gradient scaling (梯度缩放): rescale every group's gradient in place to the smallest group norm.

    g_m ← g_m · min_k ‖g_k‖ / ‖g_m‖ — directions are unchanged, only the larger norms shrink.
    Returns the factor applied to each group (1 for the smallest; 1 when a norm is zero).
    """
    params = _parameter_groups(groups)
    norms = gradient_norms(params)
    target = min(norms.values())
    factors = {}
    for name, group in params.items():
        factor = target / norms[name] if norms[name] > 0 else 1.0
        for p in group:
            if p.grad is not None:
                p.grad.mul_(factor)
        factors[name] = factor
    return factors


class AdaptiveLossWeights:
    """Adaptive loss weighting (自适应损失权重): λ_m for each modality's own (auxiliary) loss term.

    After each backward pass, ``update(norms)`` moves λ_m towards balance of the gradient norms:
    λ_m ← λ_m · (ḡ / ‖∇_θm L‖)^rate with ḡ the mean norm, then the λ are rescaled to sum to the
    number of modalities. A modality whose branch receives small gradients gets a larger weight.
    """

    def __init__(self, names: Sequence[str], rate: float = 0.1, active: bool = True) -> None:
        if isinstance(names, str) or len(names) < 2 or len(set(names)) != len(names):
            raise ValueError(f"names must list at least two distinct modality names, got {names!r}")
        self.rate = check_in_range(rate, "rate", 0.0, 1.0, low_open=True)
        self.weights = {name: (1.0 if active else 0.0) for name in names}

    @property
    def active(self) -> bool:
        """Whether the auxiliary losses are switched on (a monitor switches them on at its trigger)."""
        return any(w > 0 for w in self.weights.values())

    def activate(self) -> None:
        """Switch the auxiliary losses on, with λ_m = 1 for every modality."""
        self.weights = {name: 1.0 for name in self.weights}

    def update(self, norms: Mapping[str, float]) -> dict[str, float]:
        """One multiplicative step towards λ_v‖∇_θv L‖ = λ_t‖∇_θt L‖; returns the new weights."""
        if set(norms) != set(self.weights):
            raise ValueError(f"norms must have one entry per modality {sorted(self.weights)}, "
                             f"got {sorted(norms)}")
        if not self.active:
            return dict(self.weights)
        mean = float(np.mean([norms[name] for name in self.weights]))
        for name in self.weights:
            if norms[name] > 0 and mean > 0:
                self.weights[name] *= (mean / norms[name]) ** self.rate
        total = sum(self.weights.values())
        self.weights = {name: w * len(self.weights) / total for name, w in self.weights.items()}
        return dict(self.weights)


def auxiliary_loss(weights: AdaptiveLossWeights | None = None) -> Callable[..., torch.Tensor]:
    """``loss_fn(model, x_v, x_t, y)`` for ``fit``: L = CE(fused, y) + Σ_m λ_m CE(logits_m, y).

    ``model`` is a ``helpers.fusion.LateFusion``; its branches' own logits are the auxiliary
    unimodal heads. Without ``weights`` (or while they are inactive) only the fused loss is used.
    """
    if weights is not None and not (hasattr(weights, "weights") and hasattr(weights, "active")):
        raise ValueError(f"weights must be None or an AdaptiveLossWeights, got {type(weights).__name__}")
    names = None if weights is None else list(weights.weights)

    def loss_fn(model: LateFusion, *batch: torch.Tensor) -> torch.Tensor:
        *xs, labels = batch
        loss = F.cross_entropy(model(*xs), labels)
        if weights is not None and weights.active:
            for name, logits in zip(names, model.unimodal_logits(*xs)):
                loss = loss + weights.weights[name] * F.cross_entropy(logits, labels)
        return loss

    return loss_fn


class DominanceMonitor:
    """An ``after_backward`` hook for ``fit``: per-modality gradient norms, their ratio, and a remedy.

    Each step it measures ‖∇_θm L‖₂ for every branch (``groups(model)`` names the parameter groups;
    default: ``model.branches`` of a ``LateFusion`` named ``names``), and the ratio
    r = max_m ‖∇_θm L‖ / min_m ‖∇_θm L‖. The first step with r > ``threshold`` is ``triggered_at``;
    from then on the remedy runs: ``"scale"`` rescales gradients (``scale_gradients``),
    ``"adaptive"`` switches on and updates ``weights`` (``AdaptiveLossWeights``), ``"auxiliary"`` switches
    the same auxiliary heads on but keeps λ_m = 1 (the ablation that tells the heads from the weighting).
    ``probe(model)`` (optional) returns extra numbers to record, every ``probe_every`` steps.
    """

    def __init__(self, threshold: float = 5.0, remedy: str = "none", *,
                 names: Sequence[str] = ("v", "t"),
                 groups: Callable[[nn.Module], Mapping[str, Iterable[nn.Parameter]]] | None = None,
                 weights: AdaptiveLossWeights | None = None,
                 probe: Callable[[nn.Module], Mapping[str, float]] | None = None,
                 probe_every: int = 10) -> None:
        self.threshold = check_in_range(threshold, "threshold", 1.0, float("inf"))
        self.remedy = check_choice(remedy, "remedy", REMEDIES)
        if remedy in ("adaptive", "auxiliary") and weights is None:
            raise ValueError(f"remedy={remedy!r} needs weights=AdaptiveLossWeights(...) "
                             "(shared with the loss)")
        self.names = tuple(names)
        self.groups = groups or (lambda model: {n: b.parameters()
                                                for n, b in zip(self.names, model.branches)})
        self.weights = weights
        self.probe, self.probe_every = probe, check_positive_int(probe_every, "probe_every")
        self.step = 0
        self.triggered_at: int | None = None

    def __call__(self, model: nn.Module) -> dict[str, float]:
        norms = gradient_norms(self.groups(model))
        ratio = max(norms.values()) / max(min(norms.values()), 1e-12)
        if self.triggered_at is None and ratio > self.threshold:
            self.triggered_at = self.step
            if self.remedy in ("adaptive", "auxiliary") and not self.weights.active:
                self.weights.activate()
        record = {f"norm_{name}": value for name, value in norms.items()}
        record["ratio"] = ratio
        if self.triggered_at is not None and self.remedy == "scale":
            scale_gradients(self.groups(model))
            applied = gradient_norms(self.groups(model))
            record["ratio_applied"] = max(applied.values()) / max(min(applied.values()), 1e-12)
        elif self.triggered_at is not None and self.remedy == "adaptive":
            for name, value in self.weights.update(norms).items():
                record[f"lambda_{name}"] = value
        elif self.triggered_at is not None and self.remedy == "auxiliary":
            for name, value in self.weights.weights.items():
                record[f"lambda_{name}"] = value
        if self.probe is not None and self.step % self.probe_every == 0:
            record.update(self.probe(model))
        self.step += 1
        return record


@dataclass
class DominanceRun:
    """One training of the two-branch network: ``history`` from ``fit`` (per step: ``norm_v``,
    ``norm_t``, ``ratio``, …; every ``probe_every`` steps: ``weak_accuracy``), the trigger step, and
    test accuracies of the fused prediction and of each branch's own (unimodal) logits."""

    remedy: str
    history: dict[str, list[float]]
    triggered_at: int | None
    probe_every: int
    accuracy: dict[str, float] = field(default_factory=dict)


def run_dominance(train: tuple[np.ndarray, np.ndarray, np.ndarray],
                  test: tuple[np.ndarray, np.ndarray, np.ndarray],
                  *, remedy: str = "none", threshold: float = 5.0, hidden: int = 32, epochs: int = 10,
                  lr: float = 5e-3, batch_size: int = 128, rate: float = 0.1, probe_every: int = 5,
                  optimiser: str = "sgd", seed: int = 0, progress: bool = False) -> DominanceRun:
    """Train a ``LateFusion`` (logit sum) on (x_v, x_t, y) with a ``DominanceMonitor`` and ``remedy``.

    Modality v is the one expected to dominate; the weak branch t's own test accuracy
    (argmax of its logits alone) is probed during training and reported at the end.
    ``optimiser="sgd"`` (momentum, the default) makes each step proportional to the gradient, as the
    remedies assume; under ``"adam"`` each parameter's step is normalised by its own gradient size.
    """
    check_choice(remedy, "remedy", REMEDIES)
    (x_v, x_t, y), (tx_v, tx_t, ty) = _check_views(train, "train"), _check_views(test, "test")
    n_classes = int(max(y.max(), ty.max())) + 1
    with seeded(seed):
        model = LateFusion([x_v.shape[1], x_t.shape[1]], hidden, n_classes)
    weights = (AdaptiveLossWeights(("v", "t"), rate=rate, active=False)
               if remedy in ("adaptive", "auxiliary") else None)
    test_v, test_t, test_y = as_tensors(tx_v, tx_t, ty)

    def probe(m: LateFusion) -> dict[str, float]:
        with torch.no_grad():
            return {"weak_accuracy": accuracy(m.branches[1](test_t.to(model_device(m))).cpu(), test_y)}

    monitor = DominanceMonitor(threshold, remedy, weights=weights, probe=probe, probe_every=probe_every)
    history = fit(model, auxiliary_loss(weights), as_tensors(x_v, x_t, y), epochs=epochs, lr=lr,
                  batch_size=batch_size, seed=seed, optimiser=optimiser, after_backward=monitor,
                  desc=f"remedy={remedy}", progress=progress)
    return DominanceRun(remedy, history, monitor.triggered_at, probe_every,
                        {"fused": accuracy(predict(model, test_v, test_t), test_y),
                         "v": accuracy(predict(model.branches[0], test_v), test_y),
                         "t": accuracy(predict(model.branches[1], test_t), test_y)})


def dominance_over_seeds(train: tuple[np.ndarray, np.ndarray, np.ndarray],
                         test: tuple[np.ndarray, np.ndarray, np.ndarray], seeds: Sequence[int], *,
                         remedies: Sequence[str] = REMEDIES, alone: bool = True,
                         **options: object) -> dict[str, np.ndarray]:
    """The weak branch's own test accuracy after ``run_dominance`` for every remedy and seed:
    ``table[remedy]`` (one value per seed), and ``table["t alone"]`` (``unimodal_accuracy`` of x_t with
    the same optimiser, budget and seed). ``options`` go to both (threshold only to ``run_dominance``)."""
    seeds = [check_positive_int(s, "seeds", minimum=0) for s in seeds]
    if not seeds:
        raise ValueError("seeds must hold at least one seed")
    for remedy in remedies:
        check_choice(remedy, "remedies", REMEDIES)
    table: dict[str, list[float]] = {remedy: [] for remedy in remedies}
    if alone:
        table["t alone"] = []
    alone_options = {k: v for k, v in options.items() if k not in ("threshold", "rate", "probe_every")}
    for seed in seeds:
        for remedy in remedies:
            run = run_dominance(train, test, remedy=remedy, seed=seed, **options)
            table[remedy].append(run.accuracy["t"])
        if alone:
            table["t alone"].append(unimodal_accuracy(train[1], train[2], test[1], test[2], seed=seed,
                                                      **alone_options))
    return {name: np.asarray(values) for name, values in table.items()}


def trigger_step(ratios: Sequence[float], threshold: float) -> int | None:
    """The first step whose gradient-norm ratio r exceeds ``threshold`` — the step at which a
    ``DominanceMonitor`` with that threshold fires (its ``triggered_at``) — or None if none does."""
    ratios = as_array(ratios, "ratios", ndim=1)
    threshold = check_in_range(threshold, "threshold", 1.0, float("inf"))
    above = np.flatnonzero(ratios > threshold)
    return int(above[0]) if len(above) else None


OPTIMISER_SETTINGS: dict[str, dict[str, float]] = {"sgd": {"lr": 5e-3}, "adam": {"lr": 1e-2}}


def dominance_grid(scales: Sequence[float], *, optimisers: Sequence[str] = ("sgd", "adam"),
                   n_train: int = 1200, n_test: int = 1000, epochs: int = 10,
                   seed: int = 0) -> dict[tuple[float, str], DominanceRun]:
    """One ``run_dominance`` (no remedy) per input scale of v (``make_dominance_data(strong_scale=…)``, data
    seeds 0 and 1) and per optimiser (learning rates ``OPTIMISER_SETTINGS``): ``runs[(scale, optimiser)]``.
    Without a remedy the threshold does not change training, so one run per cell serves every threshold
    (``trigger_step``)."""
    from .data import make_dominance_data

    scales = [check_in_range(s, "scales", 0.0, 100.0, low_open=True) for s in scales]
    if not scales:
        raise ValueError("scales must hold at least one input scale")
    for optimiser in optimisers:
        check_choice(optimiser, "optimisers", tuple(OPTIMISER_SETTINGS))
    runs = {}
    for scale in scales:
        train = make_dominance_data(n_train, seed=0, strong_scale=scale)
        test = make_dominance_data(n_test, seed=1, strong_scale=scale)
        for optimiser in optimisers:
            runs[(scale, optimiser)] = run_dominance(train, test, optimiser=optimiser, epochs=epochs,
                                                     seed=seed, **OPTIMISER_SETTINGS[optimiser])
    return runs


def unimodal_accuracy(train_x: np.ndarray, train_y: np.ndarray, test_x: np.ndarray, test_y: np.ndarray, *,
                      hidden: int = 32, epochs: int = 10, lr: float = 5e-3, batch_size: int = 128,
                      optimiser: str = "sgd", seed: int = 0, progress: bool = False) -> float:
    """Test accuracy of an MLP trained on one modality alone: what a branch could reach by itself
    (with the same optimiser and budget as ``run_dominance``)."""
    x = as_array(train_x, "train_x", ndim=2)
    tx = as_array(test_x, "test_x", ndim=2)
    y, ty = _labels(train_y, "train_y", len(x)), _labels(test_y, "test_y", len(tx))
    with seeded(seed):
        model = mlp(x.shape[1], hidden, int(max(y.max(), ty.max())) + 1)
    fit(model, lambda m, xb, yb: F.cross_entropy(m(xb), yb), as_tensors(x, y), epochs=epochs, lr=lr,
        batch_size=batch_size, optimiser=optimiser, seed=seed, desc="unimodal",
        progress=progress)
    tx_t, ty_t = as_tensors(tx, ty)
    return accuracy(predict(model, tx_t), ty_t)


def _labels(labels: np.ndarray, name: str, n: int) -> np.ndarray:
    y = as_array(labels, name, ndim=1, dtype=np.int64)
    if len(y) != n or (len(y) and y.min() < 0):
        raise ValueError(f"{name} must be ({n},) non-negative class codes, got shape {y.shape}")
    return y


def _check_views(data: tuple[np.ndarray, np.ndarray, np.ndarray], name: str) -> tuple[np.ndarray, ...]:
    if not isinstance(data, (tuple, list)) or len(data) != 3:
        raise ValueError(f"{name} must be a tuple (x_v, x_t, y)")
    x_v = as_array(data[0], f"{name}[0] (x_v)", ndim=2)
    x_t = as_array(data[1], f"{name}[1] (x_t)", ndim=2)
    check_same_length(x_v=x_v, x_t=x_t)
    return x_v, x_t, _labels(data[2], f"{name}[2] (y)", len(x_v))


# ---------------------------------------------------------------------------------------------
# 2. Negative transfer and gated fusion (负迁移, 门控融合)
# ---------------------------------------------------------------------------------------------


def gaussian_posterior(x: np.ndarray, separation: float) -> np.ndarray:
    """p(y = 1 | x) for classes N(+separation, 1) (y = 1) and N(−separation, 1) (y = 0), equal priors.

    log-odds = 2 · separation · x, so p = σ(2 · separation · x). A predictor that assumes this model.
    """
    x = as_array(x, "x", ndim=1)
    separation = check_in_range(separation, "separation", 0.0, float("inf"))
    return 1.0 / (1.0 + np.exp(-2.0 * separation * x))


def _binary_probs(p: np.ndarray, name: str) -> np.ndarray:
    p = as_array(p, name, ndim=1)
    if np.any((p < 0) | (p > 1)):
        raise ValueError(f"{name} must hold probabilities p(y=1) in [0, 1], shape (n,)")
    return p


def binary_accuracy(p: np.ndarray, labels: np.ndarray) -> float:
    """Fraction of examples where the decision 1[p ≥ 0.5] equals the 0/1 label."""
    p = _binary_probs(p, "p")
    y = _labels(labels, "labels", len(p))
    return float(np.mean((p >= 0.5).astype(int) == y))


def more_reliable(p_v: np.ndarray, p_t: np.ndarray, labels: np.ndarray) -> int:
    """Index (0 for v, 1 for t) of the modality with the higher accuracy on validation data
    (ties: the lower negative log-likelihood; then v)."""
    p_v, p_t = _binary_probs(p_v, "p_v"), _binary_probs(p_t, "p_t")
    check_same_length(p_v=p_v, p_t=p_t, labels=labels)
    acc = [binary_accuracy(p_v, labels), binary_accuracy(p_t, labels)]
    if acc[0] != acc[1]:
        return int(acc[1] > acc[0])
    y = np.asarray(labels)
    nll = [-np.mean(np.log(np.clip(np.where(y == 1, p, 1 - p), 1e-12, 1))) for p in (p_v, p_t)]
    return int(nll[1] < nll[0])


def gated_fusion(p_v: np.ndarray, p_t: np.ndarray, tau: float, reliable: int) -> np.ndarray:
    """Gated fusion (门控融合) of two binary predictions p(y=1|x_v), p(y=1|x_t).

    fused = (p_v + p_t) / 2           where |p_v − p_t| < τ (the modalities agree),
            p_reliable                 elsewhere (they disagree: keep the more reliable one).
    τ = 0 never fuses (the reliable modality alone); τ ≥ 1 always fuses (plain averaging).
    """
    p_v, p_t = _binary_probs(p_v, "p_v"), _binary_probs(p_t, "p_t")
    check_same_length(p_v=p_v, p_t=p_t)
    tau = check_in_range(tau, "tau", 0.0, float("inf"))
    if reliable not in (0, 1):
        raise ValueError(f"reliable must be 0 (v) or 1 (t), got {reliable!r}")
    agree = (np.abs(p_v - p_t) < tau) | (tau >= 1.0)
    return np.where(agree, (p_v + p_t) / 2, p_v if reliable == 0 else p_t)


def gated_accuracy_sweep(p_v: np.ndarray, p_t: np.ndarray, labels: np.ndarray, taus: Sequence[float],
                         reliable: int) -> np.ndarray:
    """Accuracy of ``gated_fusion`` at each τ in ``taus``."""
    taus = as_array(taus, "taus", ndim=1)
    return np.array([binary_accuracy(gated_fusion(p_v, p_t, tau, reliable), labels) for tau in taus])


@dataclass(frozen=True)
class NegativeTransfer:
    """Test predictions of a good and a poor modality, the reliable one chosen on validation data,
    and the accuracy of good-only, plain averaging and gated fusion over ``taus``."""

    p_v: np.ndarray
    p_t: np.ndarray
    labels: np.ndarray
    reliable: int
    taus: np.ndarray
    accuracies: np.ndarray
    good_only: float
    average: float
    val_accuracies: np.ndarray | None = None

    @property
    def best_tau(self) -> float:
        """The τ of the highest gated accuracy on the *test* set (the smallest such τ): an oracle, for
        comparison only — a τ chosen this way has seen the test labels."""
        return float(self.taus[int(np.argmax(self.accuracies))])

    @property
    def best(self) -> float:
        """The highest gated accuracy over the sweep (test set, oracle)."""
        return float(np.max(self.accuracies))

    @property
    def chosen_tau(self) -> float:
        """τ* = argmax_τ accuracy_val(τ) (the smallest such τ): the threshold chosen on validation data."""
        if self.val_accuracies is None:
            raise ValueError("val_accuracies is None: this result holds no validation sweep")
        return float(self.taus[int(np.argmax(self.val_accuracies))])

    @property
    def chosen(self) -> float:
        """Test accuracy of the gate at the validation-chosen τ*."""
        if self.val_accuracies is None:
            return self.best
        return float(self.accuracies[int(np.argmax(self.val_accuracies))])


def negative_transfer_experiment(x_v: np.ndarray, x_t: np.ndarray, labels: np.ndarray,
                                 val: tuple[np.ndarray, np.ndarray, np.ndarray], *, good_separation: float,
                                 poor_separation: float, taus: Sequence[float] = tuple(np.linspace(0, 1, 21))
                                 ) -> NegativeTransfer:
    """Good-only, average and gated fusion on test views, each modality predicted by
    ``gaussian_posterior`` (the model of clean data). The reliable modality and the threshold
    τ* = argmax_τ accuracy_val(τ) are both decided on ``val`` (x_v, x_t, y); the test set only scores them."""
    check_same_length(x_v=as_array(x_v, "x_v", ndim=1), x_t=as_array(x_t, "x_t", ndim=1))
    if not isinstance(val, (tuple, list)) or len(val) != 3:
        raise ValueError("val must be a tuple (x_v, x_t, y) of three (n,) arrays")
    p_v, p_t = gaussian_posterior(x_v, good_separation), gaussian_posterior(x_t, poor_separation)
    y = _labels(labels, "labels", len(p_v))
    val_v, val_t = gaussian_posterior(val[0], good_separation), gaussian_posterior(val[1], poor_separation)
    reliable = more_reliable(val_v, val_t, val[2])
    taus = as_array(taus, "taus", ndim=1)
    return NegativeTransfer(p_v, p_t, y, reliable, taus, gated_accuracy_sweep(p_v, p_t, y, taus, reliable),
                            binary_accuracy(p_v if reliable == 0 else p_t, y),
                            binary_accuracy((p_v + p_t) / 2, y),
                            gated_accuracy_sweep(val_v, val_t, val[2], taus, reliable))


# ---------------------------------------------------------------------------------------------
# 3. Missing modalities (模态缺失)
# ---------------------------------------------------------------------------------------------


DROPS: tuple[str, ...] = ("one", "each")


def _lost(rng: np.random.Generator | torch.Generator, shape: tuple[int, ...], rate: float) -> np.ndarray:
    """Bernoulli(rate) draws of the given shape, from a NumPy or a torch generator."""
    if isinstance(rng, torch.Generator):
        return (torch.rand(shape, generator=rng) < rate).numpy()
    return rng.random(shape) < rate


def _picks(rng: np.random.Generator | torch.Generator, n_views: int, rows: np.ndarray) -> np.ndarray:
    """One view index drawn uniformly for each True entry of ``rows``. A torch generator draws one
    per example (a fixed count per batch), a NumPy generator one per selected example."""
    if isinstance(rng, torch.Generator):
        return torch.randint(0, n_views, (len(rows),), generator=rng).numpy()[rows]
    return rng.integers(0, n_views, int(rows.sum()))


def missing_mask(n: int, n_views: int, rate: float, seed: int | np.random.Generator | torch.Generator = 0,
                 *, drop: str = "one") -> np.ndarray:
    """``present`` (n, n_views) bool, True where view m of example i is observed; never all False.

    ``drop="one"``: each example loses one view, drawn uniformly, with probability ``rate``
    (P(view m missing) = rate / n_views). ``drop="each"``: every view of every example is missing
    independently with probability ``rate``; an example that would lose every view keeps one,
    drawn uniformly. ``seed`` may be a ``torch.Generator`` (modality dropout inside a batch).
    """
    n = check_positive_int(n, "n", minimum=0)
    n_views = check_positive_int(n_views, "n_views", minimum=2 if drop == "one" else 1)
    rate = check_in_range(rate, "rate", 0.0, 1.0)
    check_choice(drop, "drop", DROPS)
    rng = seed if isinstance(seed, torch.Generator) else rng_from(seed)
    if drop == "one":
        loses = _lost(rng, (n,), rate)
        which = _picks(rng, n_views, np.ones(n, dtype=bool))
        present = np.ones((n, n_views), dtype=bool)
        present[np.flatnonzero(loses), which[loses]] = False
        return present
    present = ~_lost(rng, (n, n_views), rate)
    empty = ~present.any(axis=1)
    present[np.flatnonzero(empty), _picks(rng, n_views, empty)] = True
    return present


def _check_present(views: Sequence[np.ndarray], present: np.ndarray | None, name: str = "views"
                   ) -> tuple[list[np.ndarray], np.ndarray]:
    """The views as float arrays and ``present`` checked: (n, M) bool, at least one view per example,
    finite rows wherever a view is present. ``present=None``: observed = the rows without NaN.
    ``name`` is the argument that holds the views, for the error messages."""
    if isinstance(views, (np.ndarray, torch.Tensor)) or not isinstance(views, Sequence) or not len(views):
        raise ValueError(f"{name} must be a list of (n, d_m) arrays, one per modality")
    arrays = [as_array(v, f"{name}[{i}]", ndim=2, finite=False) for i, v in enumerate(views)]
    check_same_length(**{f"{name}[{i}]": v for i, v in enumerate(arrays)})
    if present is None:
        present = np.column_stack([~np.isnan(v).any(axis=1) for v in arrays])
    present = np.asarray(present)
    if present.dtype != bool or present.shape != (len(arrays[0]), len(arrays)):
        raise ValueError(f"present must be a bool array of shape {(len(arrays[0]), len(arrays))}, "
                         f"got {present.dtype} {present.shape}")
    if not present.any(axis=1).all():
        raise ValueError("present must keep at least one modality of every example")
    for m, v in enumerate(arrays):
        if not np.isfinite(v[present[:, m]]).all():
            raise ValueError(f"{name}[{m}] must be finite in every row that present marks observed "
                             f"(a missing row is NaN and marked False in present[:, {m}])")
    return arrays, present


def mark_missing(views: Sequence[np.ndarray], present: np.ndarray) -> list[np.ndarray]:
    """Copies of the views with the rows of missing modalities set to NaN (the course's convention)."""
    arrays, present = _check_present(views, present)
    out = []
    for m, v in enumerate(arrays):
        v = v.copy()
        v[~present[:, m]] = np.nan
        out.append(v)
    return out


def zero_fill(views: Sequence[np.ndarray], present: np.ndarray) -> list[np.ndarray]:
    """Missing modalities replaced by the zero vector (the mean, for standardised features)."""
    arrays, present = _check_present(views, present)
    return [np.where(present[:, [m]], v, 0.0) for m, v in enumerate(arrays)]


@dataclass(frozen=True)
class GaussianImputer:
    """A Gaussian model N(μ, Σ) of the concatenated views, for model-based imputation (基于模型的插补).

    ``impute`` replaces a missing modality m by its conditional mean given the observed ones o:
    E[x_m | x_o] = μ_m + Σ_mo Σ_oo⁻¹ (x_o − μ_o).
    """

    mean: np.ndarray
    cov: np.ndarray
    dims: tuple[int, ...]

    @classmethod
    def fit(cls, views: Sequence[np.ndarray], ridge: float = 1e-6) -> "GaussianImputer":
        """μ and Σ estimated on the complete rows of the training views (every modality observed;
        rows with a missing modality, NaN as ``mark_missing`` writes them, are left out):
        μ = mean of the complete rows, Σ = their sample covariance + ridge·I (keeps Σ_oo invertible)."""
        arrays, present = _check_present(views, None)
        complete = present.all(axis=1)
        if complete.sum() < 2:
            raise ValueError(f"views must hold at least two complete rows (every modality observed) to "
                             f"estimate a covariance, got {int(complete.sum())}")
        ridge = check_in_range(ridge, "ridge", 0.0, float("inf"))
        joint = np.concatenate(arrays, axis=1)[complete]
        cov = np.cov(joint, rowvar=False) + ridge * np.eye(joint.shape[1])
        return cls(joint.mean(axis=0), cov, tuple(v.shape[1] for v in arrays))

    def _blocks(self) -> list[np.ndarray]:
        edges = np.cumsum((0,) + self.dims)
        return [np.arange(edges[m], edges[m + 1]) for m in range(len(self.dims))]

    def conditional_mean(self, x_observed: np.ndarray, observed: np.ndarray,
                         missing: np.ndarray) -> np.ndarray:
        """E[x_missing | x_observed] = μ_m + Σ_mo Σ_oo⁻¹ (x_o − μ_o) for index arrays of features."""
        x_observed = as_array(x_observed, "x_observed", ndim=2)
        if x_observed.shape[1] != len(observed):
            raise ValueError(f"x_observed must have {len(observed)} columns (one per observed index)")
        s_oo = self.cov[np.ix_(observed, observed)]
        s_mo = self.cov[np.ix_(missing, observed)]
        solved = np.linalg.solve(s_oo, (x_observed - self.mean[observed]).T)
        return self.mean[missing] + (s_mo @ solved).T

    def impute(self, views: Sequence[np.ndarray], present: np.ndarray) -> list[np.ndarray]:
        """Views with every missing modality replaced by its conditional mean given the observed ones."""
        arrays, present = _check_present(views, present)
        if tuple(v.shape[1] for v in arrays) != self.dims:
            raise ValueError(f"views must have feature sizes {self.dims}, got {[v.shape[1] for v in arrays]}")
        joint = np.concatenate([np.nan_to_num(v) for v in arrays], axis=1)
        blocks = self._blocks()
        for pattern in np.unique(present, axis=0):
            if pattern.all():
                continue
            rows = np.flatnonzero((present == pattern).all(axis=1))
            observed = np.concatenate([blocks[m] for m in np.flatnonzero(pattern)])
            missing = np.concatenate([blocks[m] for m in np.flatnonzero(~pattern)])
            joint[np.ix_(rows, missing)] = self.conditional_mean(joint[np.ix_(rows, observed)],
                                                                 observed, missing)
        return np.split(joint, np.cumsum(self.dims)[:-1], axis=1)


class MissingAwareFusion(nn.Module):
    """Early fusion (``helpers.fusion.EarlyFusion``) that accepts missing modalities (NaN rows).

    A missing modality is replaced by the zero vector (``fill="zero"``) or by a learned "missing"
    embedding e_m, one trainable vector per modality (``fill="learned"``), before the MLP.
    """

    def __init__(self, input_dims: Sequence[int], hidden: int, n_classes: int, fill: str = "zero") -> None:
        super().__init__()
        self.fill = check_choice(fill, "fill", FILLS)
        self.fusion = EarlyFusion(input_dims, hidden, n_classes)
        self.missing = nn.ParameterList(nn.Parameter(torch.zeros(d)) for d in self.fusion.input_dims)

    def forward(self, *xs: torch.Tensor) -> torch.Tensor:
        """Logits (n, n_classes); rows of a modality that are NaN count as missing."""
        _check_inputs(xs, self.fusion.input_dims)
        filled = []
        for x, embedding in zip(xs, self.missing):
            absent = torch.isnan(x).any(dim=1, keepdim=True)
            fill = embedding.expand_as(x) if self.fill == "learned" else torch.zeros_like(x)
            filled.append(torch.where(absent, fill, x))
        return self.fusion(*filled)


def drop_modalities(xs: Sequence[torch.Tensor], rate: float, generator: torch.Generator, *,
                    drop: str = "one") -> list[torch.Tensor]:
    """Modality dropout (模态丢弃) for one batch: the views that ``missing_mask(n, M, rate, generator,
    drop=drop)`` marks missing are set to NaN (x_m ← NaN where present[:, m] is False)."""
    if isinstance(xs, torch.Tensor) or len(xs) < 2 or not all(isinstance(x, torch.Tensor) for x in xs):
        raise ValueError("xs must be a sequence of at least two (n, d_m) modality tensors")
    for m, x in enumerate(xs):
        if x.ndim != 2:
            raise ValueError(f"xs[{m}] must be an (n, d) tensor, got shape {tuple(x.shape)}")
    check_same_length(**{f"xs[{m}]": x for m, x in enumerate(xs)})
    present = torch.as_tensor(missing_mask(len(xs[0]), len(xs), rate, generator, drop=drop))
    return [torch.where(present[:, [m]].to(x.device), x, torch.full_like(x, float("nan")))
            for m, x in enumerate(xs)]


def modality_dropout_loss(rate: float, seed: int = 0, *, drop: str = "one") -> Callable[..., torch.Tensor]:
    """``loss_fn(model, *xs, y)`` for ``fit``: cross-entropy after ``drop_modalities`` at ``rate``:
    L = CE(model(drop(x_1), …, drop(x_M)), y)."""
    rate = check_in_range(rate, "rate", 0.0, 1.0)
    check_choice(drop, "drop", DROPS)
    generator = torch.Generator().manual_seed(check_positive_int(seed, "seed", minimum=0))

    def loss_fn(model: nn.Module, *batch: torch.Tensor) -> torch.Tensor:
        *xs, labels = batch
        return F.cross_entropy(model(*drop_modalities(xs, rate, generator, drop=drop)), labels)

    return loss_fn


MISSING_METHODS: tuple[str, ...] = ("zero-fill", "Gaussian imputation", "dropout (zeros)",
                                   "dropout (learned)")


def train_missing_aware(views: Sequence[np.ndarray], labels: np.ndarray, *, fill: str = "zero",
                        dropout_rate: float = 0.0, drop: str = "one", hidden: int = 32, epochs: int = 15,
                        lr: float = 1e-2, batch_size: int = 64, seed: int = 0) -> MissingAwareFusion:
    """A ``MissingAwareFusion`` trained through ``helpers.train.fit`` with
    ``modality_dropout_loss(dropout_rate, seed, drop=drop)``; ``dropout_rate = 0`` is plain training.
    NaN rows in ``views`` (missing in the training data itself) are filled by the model."""
    arrays, _ = _check_present(views, None)
    y = _labels(labels, "labels", len(arrays[0]))
    with seeded(seed):
        model = MissingAwareFusion([v.shape[1] for v in arrays], hidden, int(y.max()) + 1, fill)
    fit(model, modality_dropout_loss(dropout_rate, seed, drop=drop), as_tensors(*arrays, y), epochs=epochs,
        lr=lr, batch_size=batch_size, seed=seed, desc=f"fill={fill}, dropout={dropout_rate}", progress=False)
    return model


def missing_masks_by_rate(n: int, n_views: int, rates: Sequence[float], seed: int = 0) -> list[np.ndarray]:
    """The test-time missing patterns of chapter 04's missing-modality curves, one per rate: each example
    loses one modality with probability ``rate`` (``missing_mask(..., seed=seed + 1000 + i)`` for the i-th
    rate), so every method and every training dropout rate meets the same pattern."""
    return [missing_mask(n, n_views, rate, seed=seed + 1000 + i) for i, rate in enumerate(rates)]


def missing_modality_curves(train_views: Sequence[np.ndarray], train_labels: np.ndarray,
                            test_views: Sequence[np.ndarray], test_labels: np.ndarray, *,
                            rates: Sequence[float] = (0.0, 0.25, 0.5, 0.75), dropout_rate: float = 0.5,
                            hidden: int = 32, epochs: int = 20, batch_size: int = 200,
                            seed: int = 0) -> dict[str, list[float]]:
    """Test accuracy against the missing rate for each of ``MISSING_METHODS``.

    zero-fill and Gaussian imputation feed a model trained on complete data; the dropout models were
    trained with modality dropout at ``dropout_rate`` (zeros or a learned missing embedding). At test
    time each example loses one modality with probability ``rate`` (the same pattern for every method).
    """
    train_arrays, _ = _check_present(train_views, None, "train_views")
    _labels(train_labels, "train_labels", len(train_arrays[0]))
    test_arrays, _ = _check_present(test_views, None, "test_views")
    ty = _labels(test_labels, "test_labels", len(test_arrays[0]))
    common = dict(hidden=hidden, epochs=epochs, batch_size=batch_size, seed=seed)
    complete = train_missing_aware(train_views, train_labels, **common)
    models = {"dropout (zeros)": train_missing_aware(train_views, train_labels, fill="zero",
                                                     dropout_rate=dropout_rate, **common),
              "dropout (learned)": train_missing_aware(train_views, train_labels, fill="learned",
                                                       dropout_rate=dropout_rate, **common)}
    imputer = GaussianImputer.fit(train_views)
    labels = torch.as_tensor(ty)
    curves: dict[str, list[float]] = {method: [] for method in MISSING_METHODS}
    for present in missing_masks_by_rate(len(ty), len(test_arrays), rates, seed):
        inputs = {"zero-fill": (complete, zero_fill(test_arrays, present)),
                  "Gaussian imputation": (complete,
                                          imputer.impute(mark_missing(test_arrays, present), present)),
                  "dropout (zeros)": (models["dropout (zeros)"], mark_missing(test_arrays, present)),
                  "dropout (learned)": (models["dropout (learned)"], mark_missing(test_arrays, present))}
        for method, (model, views) in inputs.items():
            curves[method].append(accuracy(predict(model, *as_tensors(*views)), labels))
    return curves


def _missing_data_sets(n: int) -> Iterable[tuple[str, tuple]]:
    """Chapter 04's three data sets for missing modalities: (name, (train views, train labels, test views,
    test labels)) — Gaussian views, non-Gaussian views (``n`` examples each, data seeds 4 and 5) and the UCI
    digits (pix + fou, 12 PCA components each)."""
    from .data import digit_views_pca, make_latent_views

    for name, relation in (("Gaussian views", "linear"), ("non-Gaussian views", "nonlinear")):
        (train, train_y), (test, test_y) = (make_latent_views(n, seed=s, relation=relation) for s in (4, 5))
        yield name, (train, train_y, test, test_y)
    yield "UCI digits (pix + fou)", digit_views_pca(("pix", "fou"), n_components=12, seed=0)


def missing_modality_study(rates: Sequence[float] = (0.0, 0.25, 0.5, 0.75), *, n: int = 1500,
                           seed: int = 0) -> dict[str, dict[str, list[float]]]:
    """Chapter 04's three data sets (``_missing_data_sets``: Gaussian views, non-Gaussian views, the UCI
    digits) through ``missing_modality_curves``. Returns ``results[data set][method]``, one accuracy per
    rate."""
    check_positive_int(n, "n", minimum=10)
    return {name: missing_modality_curves(*views, rates=rates, seed=seed)
            for name, views in _missing_data_sets(n)}


def dropout_rate_study(dropout_rates: Sequence[float] = (0.0, 0.25, 0.5, 0.75),
                       rates: Sequence[float] = (0.0, 0.25, 0.5, 0.75), *, n: int = 1500, epochs: int = 20,
                       seed: int = 0) -> dict[str, dict[float, list[float]]]:
    """Test accuracy against the missing rate of a network trained with modality dropout (zero vector) at
    each of ``dropout_rates``, on the three data sets of ``missing_modality_study`` and with the same test
    missing patterns: ``results[data set][dropout rate]``, one accuracy per rate. Dropout rate 0 is plain
    training, so its curve is ``missing_modality_study``'s zero-fill."""
    dropout_rates = [check_in_range(p, "dropout_rates", 0.0, 1.0) for p in dropout_rates]
    if not dropout_rates:
        raise ValueError("dropout_rates must hold at least one training dropout rate")
    check_positive_int(n, "n", minimum=10)
    results: dict[str, dict[float, list[float]]] = {}
    for name, (train, train_y, test, test_y) in _missing_data_sets(n):
        test_arrays, _ = _check_present(test, None, "test_views")
        labels = torch.as_tensor(_labels(test_y, "test_labels", len(test_arrays[0])))
        results[name] = {}
        for p in dropout_rates:
            model = train_missing_aware(train, train_y, dropout_rate=p, epochs=epochs, batch_size=200,
                                        seed=seed)
            masks = missing_masks_by_rate(len(labels), len(test_arrays), rates, seed)
            results[name][p] = [accuracy(predict(model, *as_tensors(*mark_missing(test_arrays, present))),
                                         labels) for present in masks]
    return results


def curves_by_dropout_rate(missing: Mapping[str, Mapping[str, Sequence[float]]],
                           extra: Mapping[str, Mapping[float, Sequence[float]]]
                           ) -> dict[str, dict[float, list[float]]]:
    """Accuracy per test missing rate, by training dropout rate: ``missing_modality_study``'s zero-fill curve
    (dropout rate 0: plain training, zero vector) and its "dropout (zeros)" curve (rate 0.5, the default of
    ``missing_modality_curves``), with ``dropout_rate_study``'s further rates: ``curves[data set][rate]``."""
    if not isinstance(missing, Mapping) or not missing or not isinstance(extra, Mapping) \
            or set(extra) != set(missing):
        raise ValueError("missing and extra must be the results of missing_modality_study and "
                         "dropout_rate_study over the same data sets")
    curves = {}
    for name, methods in missing.items():
        merged = {0.0: list(methods["zero-fill"]), 0.5: list(methods["dropout (zeros)"]),
                  **{float(p): list(v) for p, v in extra[name].items()}}
        curves[name] = dict(sorted(merged.items()))
    return curves
