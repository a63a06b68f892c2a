"""Every chapter runs top to bottom in both languages and prints the same numbers in each; every exercise
set, graded as a class would be, gives its reference solution every autograded point in either language and
its untouched release none. New notebooks are picked up by themselves."""

from __future__ import annotations

import math
import re
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
from conftest import CHAPTERS, ROOT, SOLUTIONS, nbgrader_env, solved_copy
from nbclient import NotebookClient

from coursetools import sandbox, translate

CELL_TIMEOUT = 120  # against hangs only (a chapter's slowest cell takes seconds): speed is in `make bench`


def _execute(notebook: Path) -> nbformat.NotebookNode:
    """Run a notebook with nbclient (generous limits: they only catch hangs, speed is in `make bench`)."""
    nb = nbformat.read(notebook, as_version=4)
    NotebookClient(nb, timeout=CELL_TIMEOUT, startup_timeout=CELL_TIMEOUT, kernel_name="python3",
                   resources={"metadata": {"path": str(notebook.parent)}}).execute()
    return nb


def printed(nb: nbformat.NotebookNode) -> list[list[str]]:
    """What each code cell printed and returned as text (progress bars, on stderr, and widgets left out)."""
    return [[out.get("text", "") if out.output_type == "stream" else out.get("data", {}).get("text/plain", "")
             for out in cell.get("outputs", [])
             if (out.output_type == "stream" and out.get("name") == "stdout")
             or (out.output_type in ("execute_result", "display_data")
                 and "application/vnd.jupyter.widget-view+json" not in out.get("data", {}))]
            for cell in nb.cells if cell.cell_type == "code"]


NUMBER = re.compile(r"[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?")


def same_print(english: str, chinese: str) -> bool:
    """The same text with the same numbers, up to the last bits of a float (a sum's rounding may follow
    the memory alignment of its array: 2.22e-16 in one run is 4.44e-16 in another)."""
    if NUMBER.split(english) != NUMBER.split(chinese):
        return False
    return all(math.isclose(float(a), float(b), rel_tol=1e-9, abs_tol=1e-12)
               for a, b in zip(NUMBER.findall(english), NUMBER.findall(chinese)))


@pytest.mark.parametrize("notebook", CHAPTERS, ids=[p.name for p in CHAPTERS])
def test_chapter_runs_and_its_chinese_edition_prints_the_same(notebook: Path) -> None:
    nb = _execute(notebook)
    figures = sum("image/png" in out.get("data", {}) for cell in nb.cells for out in cell.get("outputs", []))
    assert figures > 0, f"{notebook.name} shows no figure"
    chinese = _execute(translate.edition_path(notebook.relative_to(ROOT)))
    differ = [i for i, (en, zh) in enumerate(zip(printed(nb), printed(chinese)))
              if len(en) != len(zh) or not all(map(same_print, en, zh))]
    assert len(printed(nb)) == len(printed(chinese)) and not differ, \
        f"zh/chapters/{notebook.name} prints other numbers than the English in code cells {differ}"


ASSIGNMENTS = sorted({p.parent.name for p in SOLUTIONS})


def solved_in_chinese(assignment: str, folder: Path) -> None:
    """The Chinese release of ``assignment`` with every answer cell taken from the reference solution."""
    folder.mkdir(parents=True)
    for release in (translate.EDITION / "exercises" / assignment).glob("*.ipynb"):
        solution = ROOT / "solutions" / assignment / release.name
        nbformat.write(solved_copy(release, solution), folder / release.name)


def _grade_reference_and_untouched(course: Path, assignment: str) -> subprocess.CompletedProcess[str]:
    """``make grade`` of one assignment for four students: the reference solution and the untouched release,
    each in English and in Chinese (the Chinese notebook with the reference answers pasted in)."""
    shutil.copy(ROOT / "nbgrader_config.py", course / "nbgrader_config.py")
    shutil.copytree(ROOT / "solutions" / assignment, course / "solutions" / assignment)
    shutil.copytree(ROOT / "solutions" / assignment, course / "submitted" / "solution" / assignment)
    shutil.copytree(ROOT / "exercises" / assignment, course / "submitted" / "untouched" / assignment)
    solved_in_chinese(assignment, course / "submitted" / "solution_zh" / assignment)
    shutil.copytree(translate.EDITION / "exercises" / assignment,
                    course / "submitted" / "untouched_zh" / assignment)
    unsafe = ["--unsafe-no-sandbox"] if sandbox.unavailable() else []
    return subprocess.run([sys.executable, "-m", "coursetools", "grade", "--root", str(course), *unsafe],
                          cwd=ROOT, env=nbgrader_env(), capture_output=True, text=True, timeout=1800)


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_solution_gets_every_point_and_untouched_exercise_none(assignment: str, tmp_path: Path) -> None:
    """Graded as a class would be (sandbox, canary, judge): the reference solution loses no autograded
    point and raises no error, in English or Chinese (the same scores cell by cell); the untouched release
    scores 0 in either language."""
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
    in_chinese = {grade: v for (student, grade), v in scores.items() if student == "solution_zh"}
    assert in_chinese == {grade: v for (student, grade), v in scores.items() if student == "solution"}, \
        f"the Chinese solution is graded differently: {in_chinese}"
    won = {k: v for k, v in scores.items() if k[0] in ("untouched", "untouched_zh") and v[0]}
    assert not won, f"the untouched exercise scores: {won}"
    assert {k[0] for k in scores} == {"solution", "solution_zh", "untouched", "untouched_zh"}, scores.keys()
    errors = [f"{i}: {out.get('ename')}: {out.get('evalue')}"
              for student in ("solution", "solution_zh")
              for nb in (tmp_path / "autograded" / student / assignment).glob("*.ipynb")
              for i, cell in enumerate(nbformat.read(nb, as_version=4).cells)
              for out in cell.get("outputs", []) if out.get("output_type") == "error"]
    assert not errors, f"the reference solution raised: {errors}"
