"""Every chapter runs top to bottom; every solution autogrades to full marks without an error;
every untouched exercise autogrades to zero. New notebooks are picked up by themselves."""

from __future__ import annotations

from pathlib import Path

import nbformat
import pytest
from conftest import CHAPTERS, EXERCISES, SOLUTIONS
from nbclient import NotebookClient
from nbclient.exceptions import CellTimeoutError

CELL_TIMEOUT = 120  # against hangs only (a chapter's slowest cell takes seconds): speed is in `make bench`


def _execute(notebook: Path) -> nbformat.NotebookNode:
    """Run a notebook with nbclient; one retry after a cell timeout (a kernel left idle without
    replying has been seen in rare runs; a cell that is really too slow fails both times)."""
    for attempt in (1, 2):
        nb = nbformat.read(notebook, as_version=4)
        try:
            NotebookClient(nb, timeout=CELL_TIMEOUT, kernel_name="python3",
                           resources={"metadata": {"path": str(notebook.parent)}}).execute()
            return nb
        except (CellTimeoutError, AssertionError):  # nbclient asserts when the kernel_info reply times out
            if attempt == 2:
                raise
    raise AssertionError("unreachable")


@pytest.mark.parametrize("notebook", CHAPTERS, ids=[p.name for p in CHAPTERS])
def test_chapter_runs_without_error(notebook: Path) -> None:
    nb = _execute(notebook)
    figures = sum("image/png" in out.get("data", {}) for cell in nb.cells for out in cell.get("outputs", []))
    assert figures > 0, f"{notebook.name} shows no figure"


@pytest.mark.parametrize("notebook", SOLUTIONS, ids=[p.parent.name for p in SOLUTIONS])
def test_solution_autogrades_to_full_marks(notebook: Path, autograde) -> None:
    report = autograde(notebook, notebook.parent.name)
    assert report.autograded_max > 0, f"no autograded points found:\n{report.log}"
    assert not report.errors, f"{notebook.name} raised: {report.errors}"
    lost = {g: (s, report.max_scores[g]) for g, s in report.scores.items()
            if g not in report.needs_manual and s != report.max_scores[g]}
    assert not lost, f"solution loses points on {lost}\n{report.log}"


@pytest.mark.parametrize("notebook", EXERCISES, ids=[p.parent.name for p in EXERCISES])
def test_untouched_exercise_scores_zero(notebook: Path, autograde) -> None:
    report = autograde(notebook, notebook.parent.name)
    assert report.autograded_max > 0, f"no autograded points found:\n{report.log}"
    assert report.autograded_total == 0, f"untouched exercise scores {report.scores}"
