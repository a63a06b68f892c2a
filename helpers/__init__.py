"""Reference implementations for the multimodal learning course.

One module per chapter, in the order of the text:

=============  ==========================================================
``principles``   complementarity and redundancy (chapter 01)
``alignment``    representation and alignment (chapter 02)
``fusion``       early, late and cross-attention fusion; PoE and MoE (03)
``challenges``   dominance, negative transfer, missing modalities (04)
``applications`` the principles on real data (05)
=============  ==========================================================

and the shared modules ``data`` (synthetic generators and the shipped real data),
``train`` (one training loop for every torch model), ``plots`` and ``widgets``.
Submodules load on first use, so ``import helpers`` stays fast.

Torch computes on the CPU unless the student asks for a GPU, with ``use_device("cuda")`` or the
environment variable ``COURSE_DEVICE=cuda`` (the course's models are tiny: a GPU saves no time and its
kernels may change printed numbers in the last digits). ``device()`` says which device is chosen.
"""

from __future__ import annotations

import contextlib
import importlib
import os
import random
from types import ModuleType
from typing import Iterator

import numpy as np

__all__ = ["device", "use_device", "seed_everything", "single_thread"]

_SUBMODULES = {"principles", "alignment", "fusion", "challenges", "applications",
               "data", "train", "plots", "widgets", "testing"}


def __getattr__(name: str) -> ModuleType:
    """Import ``helpers.<name>`` on first access (PEP 562)."""
    if name in _SUBMODULES:
        return importlib.import_module(f"{__name__}.{name}")
    raise AttributeError(f"module 'helpers' has no attribute {name!r}")


DEVICE_VARIABLE = "COURSE_DEVICE"  # environment variable naming the device, e.g. COURSE_DEVICE=cuda
DEVICE_KINDS: tuple[str, ...] = ("cpu", "cuda")
_CHOSEN_DEVICE: list["torch.device | None"] = [None]  # noqa: F821 (set by use_device; None: the variable)


def _checked_device(name: object, argument: str) -> "torch.device":  # noqa: F821
    """``name`` ("cpu", "cuda" or "cuda:<index>") as a ``torch.device`` that this machine has.

    Raises ValueError naming ``argument`` for anything else, and RuntimeError when CUDA is asked
    for but torch sees no CUDA GPU (a CPU-only torch build, or no GPU visible).
    """
    import torch

    if isinstance(name, torch.device):
        name = str(name)
    kind, colon, index = name.partition(":") if isinstance(name, str) else ("", "", "")
    if kind not in DEVICE_KINDS or (colon and (kind == "cpu" or not index.isdigit())):
        raise ValueError(f"{argument} must be one of {', '.join(map(repr, DEVICE_KINDS))} "
                         f"(or 'cuda:<index>'), got {name!r}")
    if kind == "cuda":
        if not torch.cuda.is_available():
            why = (f"torch {torch.__version__} is built without CUDA" if torch.version.cuda is None
                   else f"torch {torch.__version__} (CUDA {torch.version.cuda}) finds no NVIDIA GPU")
            raise RuntimeError(f"{argument}={name!r} asks for a CUDA GPU, but {why}: use 'cpu', or a "
                               f"CUDA build of torch on a machine with an NVIDIA GPU and its driver")
        if index and int(index) >= torch.cuda.device_count():
            raise ValueError(f"{argument}={name!r}: this machine has {torch.cuda.device_count()} CUDA "
                             f"device(s), numbered from 0")
    return torch.device(name)


def device() -> "torch.device":  # noqa: F821
    """The device the helpers train on: the one given to ``use_device``, else the environment
    variable ``COURSE_DEVICE`` ("cpu", "cuda", "cuda:<index>"), else the CPU."""
    if _CHOSEN_DEVICE[0] is not None:
        return _CHOSEN_DEVICE[0]
    return _checked_device(os.environ.get(DEVICE_VARIABLE, "").strip() or "cpu", DEVICE_VARIABLE)


def use_device(name: "str | torch.device | None") -> "torch.device":  # noqa: F821
    """Compute on ``name`` from now on: ``"cpu"``, ``"cuda"`` (the current GPU) or ``"cuda:<index>"``;
    ``None`` goes back to ``COURSE_DEVICE`` or the CPU. Returns the device now chosen.

    Models trained afterwards by ``helpers.train.fit`` live on that device; figures and predictions
    bring their results back to the CPU. A GPU may change printed numbers in the last digits.
    """
    _CHOSEN_DEVICE[0] = None if name is None else _checked_device(name, "name")
    return device()


def seed_everything(seed: int) -> None:
    """Seed Python's, NumPy's and torch's global generators with ``seed``.

    The helpers themselves never rely on global state (they take a ``seed`` or a
    generator); this is for code a student writes in a notebook.
    """
    if not isinstance(seed, (int, np.integer)) or isinstance(seed, bool) or seed < 0:
        raise ValueError(f"seed must be a non-negative integer, got {seed!r}")
    import torch

    random.seed(int(seed))
    np.random.seed(int(seed) % 2**32)
    torch.manual_seed(int(seed))


_SINGLE_THREAD_DEPTH = [0]  # nesting depth of single_thread blocks (only the outermost sets limits)


@contextlib.contextmanager
def single_thread() -> Iterator[None]:
    """Run a block with torch and the BLAS libraries on one thread, restoring both afterwards.

    The course's models and matrices are small: extra threads only add synchronisation, and on a
    busy machine (or beside other kernels) they can make a fit tens of times slower. Re-entrant:
    nested blocks cost nothing.
    """
    if _SINGLE_THREAD_DEPTH[0]:
        yield
        return
    import torch
    from threadpoolctl import threadpool_limits

    threads = torch.get_num_threads()
    _SINGLE_THREAD_DEPTH[0] += 1
    torch.set_num_threads(1)
    try:
        with threadpool_limits(limits=1):
            yield
    finally:
        torch.set_num_threads(threads)
        _SINGLE_THREAD_DEPTH[0] -= 1
