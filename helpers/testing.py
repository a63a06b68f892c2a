"""Tools for the exercises' tests: messages a student can act on, and helpers switched off.

Hidden tests run a student's function inside ``helpers_disabled(globals())``: every public function
and class of the chapter modules (and any name the notebook imported from them) is replaced by a stub
that raises, so a graded function that only delegates to the reference implementation scores nothing.
"""

from __future__ import annotations

import contextlib
import importlib
import inspect
import sys
import types
from typing import Any, Iterator, MutableMapping

import numpy as np

CHAPTER_MODULES = ("principles", "alignment", "fusion", "challenges", "applications")


class HelpersDisabledError(RuntimeError):
    """Raised by a helpers function called while grading switched the reference code off."""


def _stub(qualname: str) -> Any:
    def stub(*_args: Any, **_kwargs: Any) -> Any:
        raise HelpersDisabledError(
            f"{qualname} is switched off while grading: write the computation yourself")
    stub.__name__ = qualname.rsplit(".", 1)[-1]
    return stub


class _Unavailable(types.ModuleType):
    """A chapter module the student's code had not imported, while the helpers are switched off: importing
    it succeeds, using anything from it raises (so no module binds a stub of it for good)."""

    def __getattr__(self, attribute: str) -> Any:
        if attribute.startswith("__"):
            raise AttributeError(attribute)
        raise HelpersDisabledError(f"{self.__name__}.{attribute} is switched off while grading: "
                                   "write the computation yourself")


def _public_members(module_name: str) -> dict[str, Any]:
    """Public functions and classes defined in ``helpers.<module_name>`` (empty if it does not exist yet)."""
    try:
        module = importlib.import_module(f"helpers.{module_name}")
    except ModuleNotFoundError:
        return {}
    return {name: value for name, value in vars(module).items()
            if not name.startswith("_") and (inspect.isfunction(value) or inspect.isclass(value))
            and getattr(value, "__module__", "") == module.__name__}


@contextlib.contextmanager
def helpers_disabled(namespace: MutableMapping[str, Any] | None = None) -> Iterator[None]:
    """Within the block, the chapter modules' public functions and classes raise ``HelpersDisabledError``.

    ``namespace`` (a notebook's ``globals()``) has names bound to those objects stubbed as well,
    e.g. after ``from helpers.fusion import product_of_experts``. Everything is restored on exit.
    """
    if namespace is not None and not isinstance(namespace, MutableMapping):
        raise ValueError(f"namespace must be None or a notebook's globals() (a dict), "
                         f"got {type(namespace).__name__}")
    saved_modules: list[tuple[Any, str, Any]] = []
    saved_names: list[tuple[str, Any]] = []
    stubs: dict[int, Any] = {}
    loaded = [name for name in CHAPTER_MODULES if f"helpers.{name}" in sys.modules]
    placeholders = {f"helpers.{name}": _Unavailable(f"helpers.{name}")  # imported in the block: no use
                    for name in CHAPTER_MODULES if name not in loaded}   # (and nothing imports torch)
    members = {name: _public_members(name) for name in loaded}
    sys.modules.update(placeholders)
    for module_name in loaded:
        module = sys.modules[f"helpers.{module_name}"]
        for name, value in members[module_name].items():
            stub = _stub(f"helpers.{module_name}.{name}")
            stubs[id(value)] = stub
            saved_modules.append((module, name, value))
            setattr(module, name, stub)
    if namespace is not None:
        for name, value in list(namespace.items()):
            if id(value) in stubs:
                saved_names.append((name, value))
                namespace[name] = stubs[id(value)]
    try:
        yield
    finally:
        for full, placeholder in placeholders.items():
            if sys.modules.get(full) is placeholder:
                del sys.modules[full]
        for module, name, value in saved_modules:
            setattr(module, name, value)
        for name, value in saved_names:
            namespace[name] = value  # type: ignore[index]


def assert_close(actual: Any, expected: Any, what: str, *, rtol: float = 1e-6, atol: float = 1e-8) -> None:
    """AssertionError saying what is wrong (shape, NaN, or the largest difference) unless close."""
    for tolerance, name in ((rtol, "rtol"), (atol, "atol")):
        if not np.isfinite(tolerance) or tolerance < 0:
            raise ValueError(f"{name} must be a finite number >= 0, got {tolerance!r}")
    actual_array = np.asarray(_to_numpy(actual), dtype=float)
    expected_array = np.asarray(_to_numpy(expected), dtype=float)
    if actual_array.shape != expected_array.shape:
        raise AssertionError(f"{what}: expected shape {expected_array.shape}, got {actual_array.shape}")
    if np.isnan(actual_array).any() and not np.isnan(expected_array).any():
        raise AssertionError(f"{what}: your result contains NaN")
    if not np.allclose(actual_array, expected_array, rtol=rtol, atol=atol, equal_nan=True):
        diff = np.abs(actual_array - expected_array)
        where = np.unravel_index(np.nanargmax(diff), diff.shape) if diff.ndim else ()
        raise AssertionError(f"{what}: differs from the expected value by up to {np.nanmax(diff):.3g}"
                             f" (at index {tuple(int(i) for i in where)}: got {actual_array[where]:.6g},"
                             f" expected {expected_array[where]:.6g})")


def _to_numpy(value: Any) -> Any:
    """Tensors (detached, on the CPU) as NumPy arrays; anything else unchanged."""
    if hasattr(value, "detach"):
        return value.detach().cpu().numpy()
    return value
