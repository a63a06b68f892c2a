"""Shared fixtures: the course's notebooks, an nbgrader autograder in a scratch course, and a way to
run one hidden-test cell in-process against a replacement (wrong) implementation."""

from __future__ import annotations

import itertools
import json
import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import pytest

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
CHAPTERS = sorted((ROOT / "chapters").glob("*.ipynb"))
SOLUTIONS = sorted((ROOT / "solutions").glob("*/*.ipynb"))
EXERCISES = sorted((ROOT / "exercises").glob("*/*.ipynb"))

# Kernels started by the tests share 2 cores with pytest-xdist's workers: one thread each.
for _name in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
    os.environ.setdefault(_name, "1")


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


@dataclass(frozen=True)
class GradeReport:
    """Scores of one autograded notebook: ``scores[grade_id]`` (None when it needs manual grading)."""

    scores: dict[str, float | None]
    max_scores: dict[str, float]
    needs_manual: frozenset[str]
    errors: list[str]
    log: str

    @property
    def autograded_total(self) -> float:
        """Points from autograded cells (test cells)."""
        return sum(s for g, s in self.scores.items() if s is not None and g not in self.needs_manual)

    @property
    def autograded_max(self) -> float:
        """Points available from autograded cells."""
        return sum(m for g, m in self.max_scores.items() if g not in self.needs_manual)


class ScratchCourse:
    """An nbgrader course in a temporary folder holding copies of some assignments' sources."""

    def __init__(self, root: Path, source_root: Path) -> None:
        self.root, self.source_root = root, source_root
        shutil.copy(ROOT / "nbgrader_config.py", root / "nbgrader_config.py")
        self._assigned: set[str] = set()
        self._students = itertools.count()

    def assign(self, assignment: str) -> None:
        """Copy an assignment's source in and generate it (creating its gradebook entries) once."""
        if assignment in self._assigned:
            return
        source = self.source_root / assignment
        if not source.is_dir():
            raise ValueError(f"no assignment source at {source}")
        shutil.copytree(source, self.root / "solutions" / assignment)
        done = run_nbgrader(["generate_assignment", assignment, "--force"], self.root)
        assert done.returncode == 0, done.stdout + done.stderr
        self._assigned.add(assignment)

    def grade(self, notebook: Path | None, assignment: str, *, name: str | None = None) -> GradeReport:
        """Autograde ``notebook`` as a fresh student's submission of ``assignment`` (None: submit nothing)."""
        from nbgrader.api import Gradebook

        self.assign(assignment)
        student = f"student{next(self._students)}"
        nb_name = name or next((self.source_root / assignment).glob("*.ipynb")).name
        target = self.root / "submitted" / student / assignment
        target.mkdir(parents=True)
        if notebook is not None:
            shutil.copy(notebook, target / nb_name)
        done = run_nbgrader(["autograde", assignment, "--student", student], self.root)
        with Gradebook(f"sqlite:///{self.root / 'gradebook.db'}") as gradebook:
            try:
                submission = gradebook.find_submission_notebook(Path(nb_name).stem, assignment, student)
            except Exception:  # nothing graded for this student
                return GradeReport({}, {}, frozenset(), [], done.stdout + done.stderr)
            grades = list(submission.grades)
            return GradeReport(
                scores={g.name: g.score for g in grades},
                max_scores={g.name: g.max_score for g in grades},
                needs_manual=frozenset(g.name for g in grades if g.cell.cell_type == "markdown"),
                errors=error_outputs(self.root / "autograded" / student / assignment / nb_name),
                log=done.stdout + done.stderr,
            )


def error_outputs(notebook: Path) -> list[str]:
    """``"ename: evalue"`` of every error output in an executed notebook (empty if it is missing)."""
    if not notebook.exists():
        return []
    return [f"{out.get('ename')}: {out.get('evalue')}" for cell in _cells(notebook)
            for out in cell.get("outputs", []) if out.get("output_type") == "error"]


@pytest.fixture(scope="session")
def autograde(tmp_path_factory: pytest.TempPathFactory) -> Callable[..., GradeReport]:
    """``autograde(notebook, assignment, source_root=ROOT / "solutions")`` → GradeReport.

    Grades one notebook against its assignment in a scratch nbgrader course (one per source root
    and test worker), exactly as ``nbgrader autograde`` would for a student's submission.
    """
    courses: dict[Path, ScratchCourse] = {}

    def grade(notebook: Path | None, assignment: str, *, source_root: Path = ROOT / "solutions",
              name: str | None = None) -> GradeReport:
        if source_root not in courses:
            courses[source_root] = ScratchCourse(tmp_path_factory.mktemp("course"), source_root)
        return courses[source_root].grade(notebook, assignment, name=name)

    return grade


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
