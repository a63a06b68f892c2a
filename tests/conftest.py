"""Shared fixtures: the course's notebooks, nbgrader's command line, and a way to run one test cell
in-process (its visible asserts and the judge) against a replacement (wrong) implementation."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any, Iterator

import nbformat
import pytest
import torch

import helpers

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent

CHAPTERS = sorted((ROOT / "chapters").glob("*.ipynb"))
SOLUTIONS = sorted((ROOT / "solutions").glob("*/*.ipynb"))
EXERCISES = sorted((ROOT / "exercises").glob("*/*.ipynb"))

# Kernels started by the tests share 2 cores with pytest-xdist's workers: one thread each.
for _name in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
    os.environ.setdefault(_name, "1")


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Make `--dist loadgroup` group again: pytest-xdist 3.8 appends a test's xdist_group to ``item._nodeid``,
    which pytest 9 no longer reads (a node keeps its id in ``_id``), so each group's tests were spread over
    every worker and a module's expensive fixtures (a graded class, a JupyterLab server) were built once per
    worker. Append the group where pytest 9 reads it, as xdist means to."""
    from _pytest.nodeid import coerce_node_id

    if not getattr(config.option, "loadgroup", False):  # set on xdist workers under --dist loadgroup
        return
    for item in items:
        groups = sorted({str(mark.args[0] if mark.args else mark.kwargs.get("name", "default"))
                         for mark in item.iter_markers("xdist_group")})
        if groups and "@" not in item.nodeid:
            item._id = coerce_node_id(f"{item.nodeid}@{'_'.join(groups)}")


NEEDS_CUDA = pytest.mark.skipif(not torch.cuda.is_available(),
                                reason="no CUDA GPU: torch.cuda.is_available() is False")
DEVICES = ["cpu", pytest.param("cuda", marks=[pytest.mark.gpu, NEEDS_CUDA])]


@pytest.fixture(params=DEVICES)
def on_device(request: pytest.FixtureRequest) -> Iterator[torch.device]:
    """One test with ``helpers.use_device(device)`` for each available device, then the default again."""
    chosen = helpers.use_device(request.param)
    try:
        yield chosen
    finally:
        helpers.use_device(None)


def shown_for_each(box: Any, values: list[Any], control: Any = None) -> list[Any]:
    """Move a widget's ``control`` (default: its first) through ``values``; the text form of the figure it
    shows each time (None where it shows nothing)."""
    output, shown = box.children[-1], []
    control = box.children[0].children[0] if control is None else control
    for value in values:
        control.value = value
        shown.append(output.outputs[0]["data"]["text/plain"] if output.outputs else None)
    return shown


def nbgrader_env() -> dict[str, str]:
    """The environment for nbgrader commands: the course venv's bin/ first (nbgrader runs alembic)."""
    env = dict(os.environ)
    env["PATH"] = f"{BIN}{os.pathsep}{env.get('PATH', '')}"
    return env


def run_nbgrader(args: list[str], cwd: Path, timeout: float = 900) -> subprocess.CompletedProcess[str]:
    """Run ``nbgrader ARGS`` in ``cwd``; the completed process (not checked: autograde exits 1 on a bad
    submission)."""
    return subprocess.run([str(BIN / "nbgrader"), *args, "--log-level=WARN"], cwd=cwd, env=nbgrader_env(),
                          capture_output=True, text=True, timeout=timeout)


# --- running one test cell in-process ------------------------------------------------------

_MAGIC = re.compile(r"^\s*[%!].*$", re.MULTILINE)


def _cells(notebook: Path) -> list[dict[str, Any]]:
    return json.loads(notebook.read_text())["cells"]


def _source(cell: dict[str, Any]) -> str:
    text = cell["source"] if isinstance(cell["source"], str) else "".join(cell["source"])
    return _MAGIC.sub("", text)


def _namespace_before(notebook: Path, grade_id: str, replace: dict[str, Any] | None) -> dict[str, Any]:
    """A namespace where ``notebook``'s code cells before the test cell ``grade_id`` ran (other tasks'
    test cells skipped), with ``replace`` bound in at the end."""
    namespace: dict[str, Any] = {"__name__": "__main__"}
    for cell in _cells(notebook):
        meta = cell.get("metadata", {}).get("nbgrader", {})
        if cell["cell_type"] != "code" or (meta.get("grade") and not meta.get("solution")):
            if meta.get("grade_id") == grade_id:
                namespace.update(replace or {})
                return namespace
            continue
        exec(compile(_source(cell), notebook.name, "exec"), namespace)
    raise ValueError(f"{notebook.name} has no test cell with grade_id {grade_id!r}")


def run_test_cell(notebook: Path, grade_id: str, replace: dict[str, Any] | None = None,
                  seed: int = 0) -> None:
    """Run the test cell ``grade_id`` of a source notebook in-process against the code before it, with
    ``replace`` (e.g. a plausible wrong implementation) bound in: its visible asserts, then, for a judged
    cell, the judge with the reference solution's observations (hidden inputs drawn from ``seed``).
    Raises AssertionError for a wrong answer."""
    from coursetools import judge

    cell = next(c for c in _cells(notebook)
                if c.get("metadata", {}).get("nbgrader", {}).get("grade_id") == grade_id)
    student = _namespace_before(notebook, grade_id, replace)
    judged, hidden = judge.is_judged(cell), judge.hidden_code(cell)
    visible = _source(cell).replace(hidden, "") if judged else _source(cell)
    exec(compile(visible, f"{notebook.name}:{grade_id}", "exec"), student)
    if judged:
        reference = _namespace_before(notebook, grade_id, None)
        result = judge.judge_in_process(judge.setup_code(notebook), hidden, student, reference, seed)
        if not result.passed:
            raise AssertionError(result.message)


def solved_copy(exercise: Path, solution: Path) -> nbformat.NotebookNode:
    """The released exercise with every solution cell replaced by the source's cell of the same grade id."""
    nb = nbformat.read(exercise, as_version=4)
    answers = {cell.metadata["nbgrader"]["grade_id"]: cell.source
               for cell in nbformat.read(solution, as_version=4).cells
               if cell.metadata.get("nbgrader", {}).get("solution")}
    for cell in nb.cells:
        meta = cell.metadata.get("nbgrader", {})
        if meta.get("solution"):
            cell.source = answers[meta["grade_id"]]
    return nb
