"""Every chapter's torch paths give the CPU's results on every device this machine has.

Each case trains (a few epochs on tiny data) or evaluates the models, losses, gradient tools and
model-drawing figures of one chapter module with ``helpers.use_device(device)`` and returns its
numbers; the same case run on the CPU is the reference. CPU cases always run; CUDA cases carry the
``gpu`` marker and are skipped where ``torch.cuda.is_available()`` is False. On a GPU machine:
``python -m pytest -m gpu tests/test_devices.py``.
"""

from __future__ import annotations

import functools
from typing import Callable, Iterator

import numpy as np
import pytest
import torch

import helpers
from helpers import alignment, applications, challenges, data, fusion, plots, principles
from helpers.train import as_tensors, fit, model_device, predict, seeded

TOLERANCE = {"rtol": 1e-4, "atol": 1e-5}  # float32 kernels differ in the last digits between devices
TRAINED_TOLERANCE = {"rtol": 1e-3, "atol": 1e-4}  # a few optimiser steps carry those differences along
COUNT_TOLERANCE = 0.02  # accuracies and ECE count examples: one on a decision or bin boundary may move

Result = dict[str, np.ndarray]


def _cpu(tensor: torch.Tensor, device: torch.device) -> np.ndarray:
    """A result tensor as a NumPy array, after checking that it stayed on ``device``."""
    assert tensor.device.type == device.type, f"a result on {tensor.device}, not on {device}"
    return tensor.detach().cpu().numpy()


def _trained(label: str, model: torch.nn.Module, device: torch.device) -> Result:
    """Every parameter of a trained model, after checking that ``fit`` left the model on ``device``."""
    assert model_device(model).type == device.type, f"the model lies on {model_device(model)}, not {device}"
    return {f"trained {label} {name}": p.detach().cpu().numpy() for name, p in model.named_parameters()}


# ---------------------------------------------------------------------------------------------
# The cases: one function per chapter path, device in, numbers out (NumPy, on the CPU)
# ---------------------------------------------------------------------------------------------


def case_fit_and_predict(device: torch.device) -> Result:
    """helpers.train: fit with a gradient-rewriting hook, predict, accuracy."""
    rng = np.random.default_rng(0)
    x, y = as_tensors(rng.normal(size=(128, 2)), (rng.normal(size=128) > 0).astype(np.int64))
    with seeded(0):
        model = torch.nn.Linear(2, 2)

    def halve(m: torch.nn.Module) -> dict[str, float]:
        m.weight.grad.mul_(0.5)
        return {"grad_norm": float(m.weight.grad.norm())}

    history = fit(model, lambda m, xb, yb: torch.nn.functional.cross_entropy(m(xb), yb), (x, y), epochs=3,
                  batch_size=32, optimiser="sgd", after_backward=halve, progress=False)
    logits = predict(model, x)
    assert logits.device.type == "cpu", "predict returns CPU tensors"
    return {**_trained("linear", model, device), "trained loss": np.array(history["loss"]),
            "trained grad_norm": np.array(history["grad_norm"]), "trained logits": logits.numpy()}


def case_principles_xor(device: torch.device) -> Result:
    """Chapter 01: the XOR MLP (trained by fit) and its probability function."""
    fit_ = principles.fit_xor_models(data.make_noisy_xor(200, 0.3, seed=0),
                                     data.make_noisy_xor(200, 0.3, seed=1), mlp_epochs=3)
    grid = np.array([[-1.0, -1.0], [0.5, -0.2], [1.0, 1.0]])
    return {"trained MLP P(y=1)": fit_.predict["MLP"](grid), "MLP accuracy": np.array(fit_.accuracy["MLP"])}


def case_alignment_losses(device: torch.device) -> Result:
    """Chapter 02: cosine similarities, InfoNCE (matrix and loop), triplet loss and their gradients."""
    generator = torch.Generator().manual_seed(0)
    za = torch.randn(6, 3, generator=generator, dtype=torch.float64).to(device).requires_grad_()
    zb = torch.randn(6, 3, generator=generator, dtype=torch.float64).to(device)
    losses = {"info_nce": alignment.info_nce(za, zb, 0.2, symmetric=True),
              "info_nce_loop": alignment.info_nce_loop(za, zb, 0.2),
              "triplet": alignment.triplet_loss(za, zb, zb.roll(1, 0), margin=0.5)}
    out = {f"loss {name}": _cpu(loss, device) for name, loss in losses.items()}
    out["grad info_nce"] = _cpu(torch.autograd.grad(losses["info_nce"], za)[0], device)
    out["cosine with an array"] = _cpu(alignment.cosine_similarities(za, np.ones((2, 3))), device)
    return out


def case_alignment_training(device: torch.device) -> Result:
    """Chapter 02: a dual encoder trained with each objective, then embedded."""
    pairs = data.latent_pairs(128, seed=0)
    out: Result = {}
    for objective in alignment.OBJECTIVES:
        model = alignment.dual_encoder(pairs.x.shape[1], pairs.y.shape[1], dim=4, hidden=16, seed=0)
        history = alignment.train_alignment(model, pairs.x, pairs.y, objective=objective, epochs=2,
                                            batch_size=32, progress=False)
        ex, ey = alignment.embed(model, pairs.x[:8], pairs.y[:8])
        out |= {f"trained {objective} loss": np.array(history["loss"]), f"trained {objective} ex": ex,
                f"trained {objective} ey": ey, **_trained(objective, model, device)}
    return out


def _sequences() -> tuple[torch.Tensor, ...]:
    return data.make_aligned_sequences(48, seed=0).tensors()


def case_fusion_forward(device: torch.device) -> Result:
    """Chapter 03: forward passes of every fusion module and of attention, inputs on ``device``."""
    text, audio, text_mask, audio_mask, _ = (t.to(device) for t in _sequences())
    x_v, x_t = (t.to(device) for t in as_tensors(*data.make_interaction_views(16, seed=0)[:2]))
    with seeded(0):
        models = {"early": fusion.EarlyFusion([4, 4], 8, 2), "late sum": fusion.LateFusion([4, 4], 8, 2),
                  "late mean": fusion.LateFusion([4, 4], 8, 2, combine="prob_mean"),
                  "pooled": fusion.PooledEarlyFusion(text.shape[2], audio.shape[2], 8, 2),
                  "cross": fusion.CrossAttentionFusion(text.shape[2], audio.shape[2], 8, 2, n_heads=2)}
    out: Result = {}
    with torch.no_grad():
        for name, model in models.items():
            model.to(device)
            logits = model(x_v, x_t) if name in ("early", "late sum", "late mean") else \
                model(text, audio, text_mask, audio_mask)
            out[f"logits {name}"] = _cpu(logits, device)
        attended, weights = models["cross"].attend(text, audio)  # no mask: every frame counts
        out["attend without mask"] = _cpu(attended, device)
        out["attention weights"] = _cpu(weights, device)
        out["masked mean"] = _cpu(fusion.masked_mean(audio, audio_mask), device)
        _, weights = fusion.scaled_dot_product_attention(text, text, text, text_mask)
        out["scaled dot-product"] = _cpu(weights, device)
    return out


def case_fusion_training(device: torch.device) -> Result:
    """Chapter 03: early and late fusion trained, their interaction-regions figure (the models on
    ``device``, the grid from the CPU), cross-attention trained and its example attention."""
    x_v, x_t, y = data.make_interaction_views(256, seed=0)
    with seeded(0):
        early, late = fusion.EarlyFusion([4, 4], 16, 2), fusion.LateFusion([4, 4], 16, 2)
    out: Result = {}
    for name, model in (("early", early), ("late", late)):
        history = fusion.train_classifier(model, as_tensors(x_v, x_t), torch.as_tensor(y), epochs=2,
                                          progress=False)
        out[f"trained {name} loss"] = np.array(history["loss"])
    figure = plots.interaction_regions({"early fusion": early, "late fusion": late}, x_v, x_t, y,
                                       resolution=12)
    assert len(figure.axes) == 2
    text, audio, text_mask, audio_mask, labels = _sequences()
    with seeded(0):
        cross = fusion.CrossAttentionFusion(text.shape[2], audio.shape[2], 8, 2)
    history = fusion.train_classifier(cross, (text, audio, text_mask, audio_mask), labels, epochs=2,
                                      batch_size=16, progress=False)
    out["trained cross loss"] = np.array(history["loss"])
    out["trained example attention"] = fusion.example_attention(cross, text, audio, text_mask, audio_mask, 1)
    with seeded(1):
        branches = fusion.LateFusion([4, 4], 8, 2)
    fusion.train_branches_separately(branches, as_tensors(x_v, x_t), torch.as_tensor(y), epochs=1,
                                     progress=False)
    return out | _trained("separate branches", branches, device)


def case_fusion_digits(device: torch.device) -> Result:
    """Chapter 03: six view experts on the UCI digits, each view alone, PoE and MoE."""
    results = fusion.fuse_digit_views(n_train=200, hidden=8, epochs=1, progress=False)
    return {f"trained {name} {metric}": np.array(value) for name, metrics in results.items()
            for metric, value in metrics.items()}


def case_challenges_gradients(device: torch.device) -> Result:
    """Chapter 04: gradient norms, gradient scaling and the dominance monitor on ``device``."""
    views = data.make_dominance_data(64, seed=0)
    x_v, x_t, y = (t.to(device) for t in as_tensors(*views))
    with seeded(0):
        model = fusion.LateFusion([x_v.shape[1], x_t.shape[1]], 8, int(views[2].max()) + 1).to(device)
    weights = challenges.AdaptiveLossWeights(("v", "t"))
    challenges.auxiliary_loss(weights)(model, x_v, x_t, y).backward()
    def groups() -> dict[str, Iterator[torch.nn.Parameter]]:
        return {"v": model.branches[0].parameters(), "t": model.branches[1].parameters()}

    norms = challenges.gradient_norms(groups())
    record = challenges.DominanceMonitor(threshold=1.0, remedy="adaptive", weights=weights)(model)
    factors = challenges.scale_gradients(groups())
    return {"norms": np.array(list(norms.values())), "factors": np.array(list(factors.values())),
            "monitor": np.array(list(record.values())),
            "scaled gradients": _cpu(model.branches[0][0].weight.grad, device)}


def case_challenges_training(device: torch.device) -> Result:
    """Chapter 04: dominance runs (with their probe) and missing-modality models (dropout, imputation)."""
    train, test = data.make_dominance_data(256, seed=0), data.make_dominance_data(128, seed=1)
    out: Result = {}
    for remedy in ("scale", "adaptive"):
        run = challenges.run_dominance(train, test, remedy=remedy, threshold=1.5, hidden=8, epochs=2,
                                       probe_every=2)
        out |= {f"trained {remedy} {key}": np.array(values) for key, values in run.history.items()}
        out |= {f"{remedy} {key} accuracy": np.array(value) for key, value in run.accuracy.items()}
    out["unimodal accuracy"] = np.array(challenges.unimodal_accuracy(train[1], train[2], test[1], test[2],
                                                                     hidden=8, epochs=2))
    views, labels = [train[0][:, :4], train[1][:, :4]], train[2]
    tests = [test[0][:, :4], test[1][:, :4]]
    curves = challenges.missing_modality_curves(views, labels, tests, test[2], rates=(0.0, 0.5),
                                                dropout_rate=0.5, hidden=8, epochs=2, batch_size=64)
    out |= {f"{method} accuracy": np.array(values) for method, values in curves.items()}
    x = [t.to(device) for t in as_tensors(*tests)]
    x[1][::3] = float("nan")
    model = challenges.train_missing_aware(views, labels, fill="learned", dropout_rate=0.5, hidden=8,
                                           epochs=2)
    with torch.no_grad():
        out["trained learned-fill logits"] = _cpu(model(*x), device)
    dropped = challenges.drop_modalities(x, 0.5, torch.Generator().manual_seed(0))
    out["dropped"] = np.stack([_cpu(torch.isnan(v).any(dim=1), device) for v in dropped]).astype(int)
    return out | _trained("learned fill", model, device)


def case_applications(device: torch.device) -> Result:
    """Chapter 05: view dropout for many views, and the missingness strategies on simulated diagnosis."""
    rng = np.random.default_rng(0)
    views = [rng.normal(size=(128, 3)) for _ in range(3)]
    labels = (views[0][:, 0] + views[1][:, 0] > 0).astype(np.int64)
    model = challenges.train_missing_aware(views, labels, fill="learned", dropout_rate=0.5, drop="each",
                                           hidden=8, epochs=2)
    x = as_tensors(*views)
    x[2][::2] = float("nan")
    out = {"trained view-dropout logits": predict(model, *x).numpy(),
           **_trained("view dropout", model, device)}
    loss = challenges.modality_dropout_loss(0.5, drop="each")(
        model, *(t.to(device) for t in (*x, torch.as_tensor(labels))))
    out["trained view-dropout loss"] = _cpu(loss, device)
    same_policy = {"same": data.make_diagnosis(200, seed=1)}
    strategies = applications.missingness_strategies(data.make_diagnosis(200, seed=0), same_policy, hidden=8,
                                                     epochs=2)
    return out | {f"{name} accuracy": np.array(value) for name, value in strategies["same"].items()}


CASES: dict[str, Callable[[torch.device], Result]] = {
    name.removeprefix("case_"): case for name, case in globals().items() if name.startswith("case_")}


@functools.cache
def _cpu_result(name: str) -> Result:
    """The CPU run of case ``name``, the reference for every device (computed once per process)."""
    previous = helpers.device()
    helpers.use_device("cpu")
    try:
        return CASES[name](torch.device("cpu"))
    finally:
        helpers.use_device(previous)


def _assert_same(actual: Result, expected: Result) -> None:
    assert actual.keys() == expected.keys()
    for key, value in expected.items():
        if key.endswith(("accuracy", "ece")):
            tolerance = {"rtol": 0.0, "atol": COUNT_TOLERANCE}
        else:
            tolerance = TRAINED_TOLERANCE if key.startswith("trained") else TOLERANCE
        np.testing.assert_allclose(actual[key], value, err_msg=key, **tolerance)


@pytest.mark.parametrize("name", CASES)
def test_torch_paths_match_the_cpu(name: str, on_device: torch.device) -> None:
    if on_device.type == "cpu":
        result = _cpu_result(name)
        assert all(np.isfinite(v).all() for v in result.values() if v.dtype.kind == "f"), "non-finite result"
        return
    _assert_same(CASES[name](on_device), _cpu_result(name))


def test_the_cpu_is_the_default_and_a_choice_is_checked(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(helpers.DEVICE_VARIABLE, raising=False)
    assert helpers.device() == torch.device("cpu")
    monkeypatch.setenv(helpers.DEVICE_VARIABLE, "tpu")
    with pytest.raises(ValueError, match="COURSE_DEVICE must be one of 'cpu', 'cuda'"):
        helpers.device()
    monkeypatch.setenv(helpers.DEVICE_VARIABLE, "cpu")
    assert helpers.device() == torch.device("cpu")
    for bad in ("gpu", "cpu:1", "cuda:", "cuda:x", 0):
        with pytest.raises(ValueError, match="name must be one of"):
            helpers.use_device(bad)
    try:
        assert helpers.use_device(torch.device("cpu")) == torch.device("cpu")
    finally:
        helpers.use_device(None)


@pytest.mark.skipif(torch.cuda.is_available(), reason="needs a machine without CUDA")
def test_asking_for_cuda_without_a_gpu_says_why(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(RuntimeError, match="asks for a CUDA GPU"):
        helpers.use_device("cuda")
    monkeypatch.setenv(helpers.DEVICE_VARIABLE, "cuda")
    with pytest.raises(RuntimeError, match="COURSE_DEVICE='cuda' asks for a CUDA GPU"):
        helpers.device()
    try:
        assert helpers.use_device("cpu") == torch.device("cpu"), "use_device overrides the variable"
    finally:
        monkeypatch.delenv(helpers.DEVICE_VARIABLE)
        helpers.use_device(None)
