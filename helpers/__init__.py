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
"""

from __future__ import annotations

import contextlib
import importlib
import random
from types import ModuleType
from typing import Iterator

import numpy as np

__all__ = ["device", "seed_everything", "single_thread"]

_SUBMODULES = {"principles", "alignment", "fusion", "challenges", "applications",
               "data", "train", "plots", "widgets", "testing"}


def __getattr__(name: str) -> ModuleType:
    """Import ``helpers.<name>`` on first access (PEP 562)."""
    if name in _SUBMODULES:
        return importlib.import_module(f"{__name__}.{name}")
    raise AttributeError(f"module 'helpers' has no attribute {name!r}")


def device() -> "torch.device":  # noqa: F821
    """The device to compute on: CUDA when present, else the CPU."""
    import torch

    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


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
