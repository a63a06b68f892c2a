"""Observations: what a student's code returned, as plain data that crosses from the kernel to the grader.

The grader never unpickles anything a student's process wrote. A value travels as JSON: numbers, strings,
booleans and None as themselves; lists, tuples and string-keyed dicts tagged and nested; arrays (and
tensors, converted to arrays in the kernel) as the bytes of ``np.save`` in base64, read back with
``np.load(allow_pickle=False)``, so only plain numeric, boolean and string dtypes exist on arrival.
``decode`` refuses anything else, anything nested too deeply and anything larger than its budget.

This module uses only the standard library and NumPy: ``kernel_cell()`` inserts its text into the
observation cell that runs in the student's kernel, so the kernel and the grader share one codec.
"""

from __future__ import annotations

import base64
import io
import json
from typing import Any

import numpy as np

MIME = "application/vnd.multimodal-course.observations+json"
MAX_DEPTH = 12
MAX_ERROR_CHARS = 400
ALLOWED_KINDS = "biufcU"  # numpy dtype kinds that can arrive: bool, integers, floats, complex, strings


class ObservationError(ValueError):
    """An observation the grader refuses to read (malformed, too large, or of a forbidden type)."""


def encode(value: Any, depth: int = 0) -> Any:
    """``value`` as JSON-ready data (tensors and arrays as ``np.save`` bytes in base64)."""
    if depth > MAX_DEPTH:
        raise ValueError("value nested too deeply")
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return {"float": repr(float(value))} if isinstance(value, float) else {"int": str(int(value))}
    if hasattr(value, "detach") and hasattr(value, "cpu"):  # a torch tensor
        value = value.detach().cpu().numpy()
    if isinstance(value, np.generic):
        value = np.asarray(value)
    if isinstance(value, np.ndarray):
        if value.dtype.kind not in ALLOWED_KINDS:
            raise ValueError(f"arrays of dtype {value.dtype} cannot be observed")
        buffer = io.BytesIO()
        np.save(buffer, value, allow_pickle=False)
        return {"array": base64.b64encode(buffer.getvalue()).decode("ascii")}
    if isinstance(value, (list, tuple)):
        kind = "tuple" if isinstance(value, tuple) else "list"
        return {kind: [encode(item, depth + 1) for item in value]}
    if isinstance(value, dict):
        if not all(isinstance(key, str) for key in value):
            raise ValueError("dict keys must be strings")
        return {"dict": {key: encode(item, depth + 1) for key, item in value.items()}}
    raise ValueError(f"a {type(value).__name__} cannot be observed: "
                     "return numbers, strings, arrays, lists or dicts")


def decode(data: Any, budget: list[int] | None = None, depth: int = 0) -> Any:
    """The value ``encode`` wrote; ``budget`` (a one-element list of bytes left) bounds what is read."""
    budget = budget if budget is not None else [64 * 2**20]
    if depth > MAX_DEPTH:
        raise ObservationError("nested too deeply")
    if data is None or isinstance(data, (bool, str)):
        _spend(budget, len(data) if isinstance(data, str) else 1)
        return data
    if not isinstance(data, dict) or len(data) != 1:
        raise ObservationError(f"not an encoded value: {str(data)[:80]!r}")
    (kind, body), = data.items()
    if kind in ("int", "float") and isinstance(body, str) and len(body) < 400:
        _spend(budget, len(body))
        return int(body) if kind == "int" else float(body)
    if kind in ("list", "tuple") and isinstance(body, list):
        items = [decode(item, budget, depth + 1) for item in body]
        return tuple(items) if kind == "tuple" else items
    if kind == "dict" and isinstance(body, dict):
        return {str(key): decode(item, budget, depth + 1) for key, item in body.items()}
    if kind == "array" and isinstance(body, str):
        return _array(body, budget)
    if kind == "error" and isinstance(body, str):
        return Raised(body[:MAX_ERROR_CHARS])
    raise ObservationError(f"unknown encoded kind {kind!r}")


def _spend(budget: list[int], size: int) -> None:
    budget[0] -= size
    if budget[0] < 0:
        raise ObservationError("the observations are larger than the grader reads")


def _array(text: str, budget: list[int]) -> np.ndarray:
    _spend(budget, len(text))
    try:
        array = np.load(io.BytesIO(base64.b64decode(text, validate=True)), allow_pickle=False)
    except (ValueError, OSError) as error:
        raise ObservationError(f"unreadable array: {error}") from None
    if array.dtype.kind not in ALLOWED_KINDS:
        raise ObservationError(f"arrays of dtype {array.dtype} are not read")
    return array


class Raised(str):
    """An observation that is an exception the observed code raised: its ``"Type: message"`` text."""


def encode_raised(error: BaseException) -> dict[str, str]:
    """The encoded form of an exception raised while observing."""
    return {"error": f"{type(error).__name__}: {error}"[:MAX_ERROR_CHARS]}


def dumps(value: Any) -> str:
    """``value`` encoded as a JSON string."""
    return json.dumps(encode(value), separators=(",", ":"))


def loads(text: str, budget: int = 64 * 2**20) -> Any:
    """The value in a JSON string ``dumps`` wrote, refusing more than ``budget`` bytes."""
    if len(text) > budget:
        raise ObservationError("the observations are larger than the grader reads")
    return decode(json.loads(text), [budget])


# --- what runs in the student's kernel ---------------------------------------------------------------

def observe_all(observe: Any, cases_json: str, namespace: dict[str, Any]) -> list[Any]:
    """Call ``observe(*args)`` for every case with the reference helpers switched off in ``namespace``;
    the encoded results (an exception becomes that case's result)."""
    from helpers.testing import helpers_disabled

    results = []
    for args in loads(cases_json):
        try:
            with helpers_disabled(namespace):
                results.append(encode(observe(*args)))
        except Exception as error:  # the student's code failed on this case: that is the observation
            results.append(encode_raised(error))
    return results


def observe_cases(observe: Any, cases_json: str, namespace: dict[str, Any]) -> None:
    """Kernel side: publish ``observe_all``'s results as one display output of type ``MIME``."""
    from IPython.display import display

    display({MIME: {"results": observe_all(observe, cases_json, namespace)}}, raw=True)


def define_observe(observe_source: str, namespace: dict[str, Any]) -> Any:
    """The ``observe`` function of ``observe_source`` (with its ``observe_*`` helpers), seeing
    ``namespace`` as its globals but adding no name to it: the functions are defined inside a factory,
    so they reach each other through its closure."""
    import textwrap

    factory = ("def observe_factory():\n" + textwrap.indent(observe_source, "    ")
               + "\n    return observe\n")
    defined: dict[str, Any] = {}
    exec(compile(factory, "observe", "exec"), namespace, defined)
    return defined["observe_factory"]()


def kernel_cell(observe_source: str, cases_json: str) -> str:
    """The code of an observation cell: it defines this codec and ``observe`` without touching the student's
    names (``observe`` still sees them as its globals), then observes every case."""
    from pathlib import Path

    text = Path(__file__).read_text()
    codec = text[text.index("import base64"):text.index("def kernel_cell")].rstrip() + "\n"
    return ("__course_codec = {'__name__': 'observations'}\n"
            f"exec(compile({codec!r}, 'observations', 'exec'), __course_codec)\n"
            f"__course_observe = __course_codec['define_observe']({observe_source!r}, globals())\n"
            f"__course_codec['observe_cases'](__course_observe, {cases_json!r}, globals())\n"
            "del __course_codec, __course_observe\n")
