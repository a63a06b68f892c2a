"""One training loop for every torch model of the course (minibatch Adam or SGD, tqdm progress, history).

A chapter's model supplies ``loss_fn(model, *batch) -> scalar tensor``; the loop shuffles the
given tensors with its own seeded generator, steps Adam, and returns a history the plot helpers draw.
``after_backward(model)`` runs between ``backward()`` and the optimiser step: it may read or
rewrite gradients (chapter 04's gradient-norm monitoring and scaling) and return numbers to record.

Devices: ``fit`` trains on ``helpers.device()`` (the CPU unless the student chose a GPU); ``predict``
evaluates on the model's own device (``model_device``) and returns CPU tensors.
"""

from __future__ import annotations

import contextlib
import itertools
from typing import Callable, Iterator, Sequence

import numpy as np
import torch
from tqdm.auto import tqdm

from . import device as default_device
from . import single_thread
from ._checks import check_choice, check_in_range, check_positive_int, check_same_length

LossFn = Callable[..., torch.Tensor]
AfterBackward = Callable[[torch.nn.Module], "dict[str, float] | None"]


@contextlib.contextmanager
def seeded(seed: int) -> Iterator[None]:
    """Run a block (e.g. building a model) under torch seed ``seed`` without touching global state."""
    check_positive_int(seed, "seed", minimum=0)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        yield


def as_tensors(*arrays: object, dtype: torch.dtype = torch.float32) -> tuple[torch.Tensor, ...]:
    """NumPy arrays (or tensors) as torch tensors; integer arrays keep an integer dtype (labels)."""
    for i, array in enumerate(arrays):
        if not isinstance(array, torch.Tensor) and np.asarray(array).dtype.kind not in "biuf":
            raise ValueError(f"arrays[{i}] must be a numeric array or tensor, got {type(array).__name__} "
                             f"of dtype {np.asarray(array).dtype}")
    tensors = []
    for array in arrays:
        tensor = torch.as_tensor(array)
        tensors.append(tensor if not tensor.is_floating_point() else tensor.to(dtype))
    return tuple(tensors)


def model_device(model: object) -> torch.device:
    """The device of ``model``'s first parameter (or buffer); the CPU for a model without any
    (or a plain function). Inputs are moved there before ``model`` sees them."""
    first = next(itertools.chain(model.parameters(), model.buffers()), None) \
        if isinstance(model, torch.nn.Module) else None
    return torch.device("cpu") if first is None else first.device


OPTIMISERS: tuple[str, ...] = ("adam", "sgd")


def fit(model: torch.nn.Module, loss_fn: LossFn, tensors: Sequence[torch.Tensor], *,
        epochs: int, lr: float = 1e-2, batch_size: int = 64, seed: int = 0,
        weight_decay: float = 0.0, optimiser: str = "adam", after_backward: AfterBackward | None = None,
        progress: bool = True, desc: str = "training") -> dict[str, list[float]]:
    """Minimise the mean of ``loss_fn(model, *batch)`` over shuffled minibatches of ``tensors``.

    ``optimiser`` is ``"adam"`` (the default) or ``"sgd"`` (momentum 0.9). Adam divides each
    parameter's step by its own running gradient size, so rescaling a gradient barely changes its
    step; with SGD the step is proportional to the gradient (chapter 04's gradient scaling needs that).
    Returns ``history`` with ``"loss"`` (one value per step) and one list per key that
    ``after_backward`` returns. The model is trained in place on ``helpers.device()`` (the CPU
    unless ``helpers.use_device`` or ``COURSE_DEVICE`` chose a GPU), with one CPU thread, and left
    in eval mode on that device: compare its weights with tensors on ``model_device(model)``.
    """
    check_positive_int(epochs, "epochs")
    check_positive_int(batch_size, "batch_size")
    check_in_range(lr, "lr", 0.0, 10.0, low_open=True)
    check_choice(optimiser, "optimiser", OPTIMISERS)
    if not tensors:
        raise ValueError("tensors must hold at least one tensor (the training data)")
    n = check_same_length(**{f"tensors[{i}]": t for i, t in enumerate(tensors)})
    target = default_device()
    model.to(target)
    data = [t.to(target) for t in tensors]
    if optimiser == "adam":
        step = torch.optim.Adam(model.parameters(), lr=lr, weight_decay=weight_decay)
    else:
        step = torch.optim.SGD(model.parameters(), lr=lr, momentum=0.9, weight_decay=weight_decay)
    generator = torch.Generator().manual_seed(seed)
    history: dict[str, list[float]] = {"loss": []}
    model.train()
    with single_thread():
        for _ in (bar := tqdm(range(epochs), desc=desc, disable=not progress, leave=False)):
            order = torch.randperm(n, generator=generator).to(target)
            for start in range(0, n, batch_size):
                batch = [t[order[start:start + batch_size]] for t in data]
                step.zero_grad()
                loss = loss_fn(model, *batch)
                loss.backward()
                recorded = after_backward(model) if after_backward else None
                for key, value in (recorded or {}).items():
                    history.setdefault(key, []).append(float(value))
                step.step()
                history["loss"].append(float(loss.detach()))
            bar.set_postfix(loss=f"{history['loss'][-1]:.4f}")
    model.eval()
    return history


@torch.no_grad()
def predict(model: torch.nn.Module, *inputs: torch.Tensor) -> torch.Tensor:
    """``model(*inputs)`` in eval mode without gradients, on the model's device, returned on the CPU."""
    if not isinstance(model, torch.nn.Module):
        raise ValueError(f"model must be a torch.nn.Module, got {type(model).__name__}")
    if not all(isinstance(x, torch.Tensor) for x in inputs):
        raise ValueError(f"inputs must be tensors (helpers.train.as_tensors converts arrays), got "
                         f"{[type(x).__name__ for x in inputs]}")
    model.eval()
    target = model_device(model)
    with single_thread():
        return model(*(x.to(target) for x in inputs)).cpu()


def accuracy(logits: torch.Tensor, labels: torch.Tensor) -> float:
    """Fraction of rows whose arg-max class equals the label: mean(argmax_k logits[i, k] == y_i)."""
    if logits.ndim != 2 or labels.ndim != 1 or len(logits) != len(labels):
        raise ValueError(f"logits must be (n, K) and labels (n,), got {tuple(logits.shape)} "
                         f"and {tuple(labels.shape)}")
    return float((logits.argmax(dim=1) == labels.to(logits.device)).float().mean())
