"""helpers.testing: helpers really are switched off inside helpers_disabled, and restored after;
assert_close explains what differs."""

from __future__ import annotations

import importlib

import numpy as np
import pytest

from helpers.testing import (
    CHAPTER_MODULES,
    HelpersDisabledError,
    _public_members,
    assert_close,
    helpers_disabled,
)


def _present_members() -> list[tuple[str, str]]:
    return [(m, n) for m in CHAPTER_MODULES for n in _public_members(m)]


def test_every_chapter_function_raises_inside_and_is_restored_after() -> None:
    members = _present_members()
    if not members:
        pytest.skip("no chapter module yet")
    originals = {(m, n): getattr(importlib.import_module(f"helpers.{m}"), n) for m, n in members}
    with helpers_disabled():
        for module_name, name in members:
            with pytest.raises(HelpersDisabledError, match=f"helpers.{module_name}.{name} is switched off"):
                getattr(importlib.import_module(f"helpers.{module_name}"), name)()
    for (module_name, name), original in originals.items():
        assert getattr(importlib.import_module(f"helpers.{module_name}"), name) is original


def test_names_imported_into_a_notebook_namespace_are_stubbed_too() -> None:
    members = _present_members()
    if not members:
        pytest.skip("no chapter module yet")
    module_name, name = members[0]
    original = getattr(importlib.import_module(f"helpers.{module_name}"), name)
    namespace = {"imported": original, "other": len}
    with helpers_disabled(namespace):
        assert namespace["imported"] is not original and namespace["other"] is len
        with pytest.raises(HelpersDisabledError):
            namespace["imported"]()
    assert namespace["imported"] is original


def test_assert_close_accepts_close_values() -> None:
    assert_close([1.0, 2.0 + 1e-9], np.array([1.0, 2.0]), "x")


@pytest.mark.parametrize("actual, expected, message", [
    ([1.0, 2.0], [1.0, 2.0, 3.0], "expected shape"),
    ([1.0, np.nan], [1.0, 2.0], "contains NaN"),
    ([1.0, 2.5], [1.0, 2.0], r"differs .* by up to 0.5 \(at index \(1,\): got 2.5, expected 2"),
])
def test_assert_close_says_what_is_wrong(actual, expected, message) -> None:
    with pytest.raises(AssertionError, match=message):
        assert_close(actual, expected, "result")


def test_a_module_first_imported_while_disabled_keeps_its_real_names(monkeypatch: pytest.MonkeyPatch) -> None:
    """Modules importing each other (challenges imports fusion) must never bind a stub for good."""
    import sys

    present = [m for m in CHAPTER_MODULES if _public_members(m)]
    if len(present) < 2:
        pytest.skip("needs two chapter modules")
    for name in present:
        monkeypatch.delitem(sys.modules, f"helpers.{name}")
    with helpers_disabled():
        pass
    for name in present:
        module = importlib.import_module(f"helpers.{name}")
        for attr, value in vars(module).items():
            assert getattr(value, "__module__", "") != "helpers.testing", f"helpers.{name}.{attr} kept a stub"
