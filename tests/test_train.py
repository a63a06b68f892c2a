"""helpers.train: the one training loop learns, is reproducible, records hooks, and checks its input.
Tests that compare weights before and after ``fit`` run on every available device (``on_device``, from
test_devices.py) and compare on the model's device: ``fit`` moves the model, in place, to
``helpers.device()``."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from helpers.train import accuracy, as_tensors, fit, model_device, predict, seeded


def _linear_problem(seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(256, 2))
    y = (x[:, 0] + x[:, 1] > 0).astype(np.int64)
    return as_tensors(x, y)


def _cross_entropy(model: torch.nn.Module, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    return torch.nn.functional.cross_entropy(model(x), y)


def _train(seed: int, **kwargs) -> tuple[torch.nn.Module, dict]:
    x, y = _linear_problem()
    with seeded(seed):
        model = torch.nn.Linear(2, 2)
    history = fit(model, _cross_entropy, (x, y), epochs=20, lr=0.05, batch_size=32, seed=seed,
                  progress=False, **kwargs)
    return model, history


def test_fit_learns_a_separable_problem() -> None:
    model, history = _train(0)
    x, y = _linear_problem()
    assert accuracy(predict(model, x), y) > 0.95
    assert np.mean(history["loss"][-8:]) < 0.5 * np.mean(history["loss"][:8])
    assert len(history["loss"]) == 20 * 256 // 32


def test_fit_is_reproducible_and_leaves_global_rng_alone() -> None:
    torch.manual_seed(123)
    before = torch.rand(1)
    torch.manual_seed(123)
    first, history_a = _train(7)
    second, history_b = _train(7)
    assert torch.equal(first.weight, second.weight) and history_a["loss"] == history_b["loss"]
    assert torch.equal(torch.rand(1), before), "seeded()/fit() must not consume the global generator"


def test_after_backward_records_and_can_rewrite_gradients(on_device: torch.device) -> None:
    def freeze(model: torch.nn.Module) -> dict[str, float]:
        norm = float(model.weight.grad.norm())
        model.weight.grad.zero_()
        model.bias.grad.zero_()
        return {"grad_norm": norm}

    x, y = _linear_problem()
    with seeded(1):
        model = torch.nn.Linear(2, 2)
    start = model.weight.detach().clone()
    history = fit(model, _cross_entropy, (x, y), epochs=2, batch_size=64, progress=False,
                  after_backward=freeze)
    assert len(history["grad_norm"]) == len(history["loss"]) == 8
    assert all(v > 0 for v in history["grad_norm"])
    assert model_device(model).type == on_device.type, "fit trains on helpers.device()"
    assert torch.allclose(model.weight, start.to(model_device(model))), \
        "zeroed gradients must leave the weights unchanged"


@pytest.mark.parametrize("kwargs, message", [
    ({"epochs": 0}, "epochs must be an integer >= 1"),
    ({"epochs": 1, "batch_size": 0}, "batch_size must be an integer >= 1"),
    ({"epochs": 1, "lr": -1.0}, "lr must lie in"),
])
def test_fit_rejects_bad_arguments(kwargs, message) -> None:
    x, y = _linear_problem()
    with pytest.raises(ValueError, match=message):
        fit(torch.nn.Linear(2, 2), _cross_entropy, (x, y), progress=False, **kwargs)


def test_fit_rejects_tensors_of_different_lengths() -> None:
    x, y = _linear_problem()
    with pytest.raises(ValueError, match="same number of rows"):
        fit(torch.nn.Linear(2, 2), _cross_entropy, (x, y[:10]), epochs=1, progress=False)


def test_accuracy_counts_argmax_matches_and_checks_shapes() -> None:
    logits = torch.tensor([[2.0, 1.0], [0.0, 3.0], [1.0, 0.0]])
    assert accuracy(logits, torch.tensor([0, 1, 1])) == pytest.approx(2 / 3)
    with pytest.raises(ValueError, match="logits must be"):
        accuracy(logits, torch.tensor([0, 1]))


def test_as_tensors_keeps_integer_labels() -> None:
    x, y = as_tensors(np.zeros((3, 2)), np.array([0, 1, 1]))
    assert x.dtype == torch.float32 and y.dtype == torch.int64


def test_sgd_step_scales_with_the_gradient_but_adam_barely_does(on_device: torch.device) -> None:
    """Why chapter 04's gradient scaling needs SGD: halving every gradient halves SGD's first step,
    while Adam's first step (g / sqrt(g²)) is unchanged."""
    x, y = _linear_problem()

    def first_step(optimiser: str, scale: float) -> torch.Tensor:
        with seeded(0):
            model = torch.nn.Linear(2, 2)
        start = model.weight.detach().clone()

        def shrink(m: torch.nn.Module) -> None:
            for p in m.parameters():
                p.grad.mul_(scale)

        fit(model, _cross_entropy, (x, y), epochs=1, batch_size=256, lr=0.1, optimiser=optimiser,
            after_backward=shrink, progress=False)
        return (model.weight.detach() - start.to(model_device(model))).cpu()

    assert torch.allclose(first_step("sgd", 0.5), 0.5 * first_step("sgd", 1.0), atol=1e-7)
    assert torch.allclose(first_step("adam", 0.5), first_step("adam", 1.0), atol=1e-6)


def test_fit_rejects_an_unknown_optimiser() -> None:
    x, y = _linear_problem()
    with pytest.raises(ValueError, match="optimiser must be one of 'adam', 'sgd'"):
        fit(torch.nn.Linear(2, 2), _cross_entropy, (x, y), epochs=1, optimiser="lbfgs", progress=False)
