"""Every chapter runs top to bottom; every exercise set, graded as a class would be, gives its reference
solution every autograded point and its untouched release none. New notebooks are picked up by themselves."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
from conftest import CHAPTERS, ROOT, SOLUTIONS, nbgrader_env
from nbclient import NotebookClient

from coursetools import sandbox

CELL_TIMEOUT = 120  # against hangs only (a chapter's slowest cell takes seconds): speed is in `make bench`


def _execute(notebook: Path) -> nbformat.NotebookNode:
    """Run a notebook with nbclient (generous limits: they only catch hangs, speed is in `make bench`)."""
    nb = nbformat.read(notebook, as_version=4)
    NotebookClient(nb, timeout=CELL_TIMEOUT, startup_timeout=CELL_TIMEOUT, kernel_name="python3",
                   resources={"metadata": {"path": str(notebook.parent)}}).execute()
    return nb


@pytest.mark.parametrize("notebook", CHAPTERS, ids=[p.name for p in CHAPTERS])
def test_chapter_runs_without_error(notebook: Path) -> None:
    nb = _execute(notebook)
    figures = sum("image/png" in out.get("data", {}) for cell in nb.cells for out in cell.get("outputs", []))
    assert figures > 0, f"{notebook.name} shows no figure"


ASSIGNMENTS = sorted({p.parent.name for p in SOLUTIONS})


def _grade_reference_and_untouched(course: Path, assignment: str) -> subprocess.CompletedProcess[str]:
    """``make grade`` of one assignment for two students: the reference solution, the untouched release."""
    shutil.copy(ROOT / "nbgrader_config.py", course / "nbgrader_config.py")
    shutil.copytree(ROOT / "solutions" / assignment, course / "solutions" / assignment)
    shutil.copytree(ROOT / "solutions" / assignment, course / "submitted" / "solution" / assignment)
    shutil.copytree(ROOT / "exercises" / assignment, course / "submitted" / "untouched" / assignment)
    unsafe = ["--unsafe-no-sandbox"] if sandbox.unavailable() else []
    return subprocess.run([sys.executable, "-m", "coursetools", "grade", "--root", str(course), *unsafe],
                          cwd=ROOT, env=nbgrader_env(), capture_output=True, text=True, timeout=1800)


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_solution_gets_every_point_and_untouched_exercise_none(assignment: str, tmp_path: Path) -> None:
    """Graded as a class would be (sandbox, canary, judge): the reference solution loses no autograded
    point and raises no error; the untouched release scores 0."""
    from nbgrader.api import Gradebook

    done = _grade_reference_and_untouched(tmp_path, assignment)
    assert done.returncode == 0, done.stdout + done.stderr
    with Gradebook(f"sqlite:///{tmp_path / 'gradebook.db'}") as gradebook:
        submissions = gradebook.find_assignment(assignment).submissions
        scores = {(s.student.id, g.name): (g.score, g.max_score) for s in submissions
                  for nb in s.notebooks for g in nb.grades if g.cell.cell_type == "code"}
    assert scores, done.stdout
    lost = {k: v for k, v in scores.items() if k[0] == "solution" and v[0] != v[1]}
    assert not lost, f"the reference solution loses points: {lost}\n{done.stdout}"
    won = {k: v for k, v in scores.items() if k[0] == "untouched" and v[0]}
    assert not won, f"the untouched exercise scores: {won}"
    errors = [f"{i}: {out.get('ename')}: {out.get('evalue')}"
              for nb in (tmp_path / "autograded" / "solution" / assignment).glob("*.ipynb")
              for i, cell in enumerate(nbformat.read(nb, as_version=4).cells)
              for out in cell.get("outputs", []) if out.get("output_type") == "error"]
    assert not errors, f"the reference solution raised: {errors}"
