"""Collecting submissions: which exist, which are refused, what looks wrong in a folder, and the
queue of students the workers take from."""

from __future__ import annotations

import math
import os
import queue
import threading
from pathlib import Path
from typing import Any, Iterable, NamedTuple

SHADOWING = {"helpers", "numpy", "torch", "nbgrader", "IPython", "matplotlib", "sklearn", "scipy"}
LINKS_REFUSED = "holds symbolic links (nbgrader would copy what they point to): not graded, check by hand"


def submissions_in(submitted: Path, assignments: list[str],
                   student: str | None = None) -> list[tuple[str, str]]:
    """(assignment, student) pairs that have a submission folder, sorted."""
    pairs = [(a, s.name) for s in sorted(submitted.glob("*")) if s.is_dir()
             for a in assignments if (s / a).is_dir()]
    return [p for p in pairs if student in (None, p[1])]


def symbolic_links(folder: Path) -> list[str]:
    """Symbolic links inside a submission folder. nbgrader copies a submission's files with the
    grader's rights, following links, so a link to the gradebook would land in the kernel's folder."""
    top = folder.resolve()
    return sorted(os.path.relpath(os.path.join(here, name), top) for here, dirs, files in os.walk(top)
                  for name in dirs + files if os.path.islink(os.path.join(here, name)))


def refused(assignment: str, student: str, links: list[str]) -> dict[str, Any]:
    """The outcome of a submission not graded because it holds symbolic links."""
    return {"assignment": assignment, "student": student, "ok": False, "feedback": False, "seconds": 0.0,
            "log": f"{LINKS_REFUSED}: {', '.join(links[:5])}"}


def inspect_submission(folder: Path, expected: list[str]) -> list[str]:
    """Remarks on a submission folder: missing notebooks, extra notebooks, modules that shadow imports."""
    present = {p.name for p in folder.iterdir()} if folder.is_dir() else set()
    notes = [f"missing {name}" for name in expected if name not in present]
    extra = sorted(p for p in present if p.endswith(".ipynb") and p not in expected)
    notes += [f"ignored extra notebook {name}" for name in extra]
    shadows = sorted(p for p in present
                     if Path(p).stem in SHADOWING and (p.endswith(".py") or (folder / p).is_dir()))
    notes += [f"ships {name}, which shadows a course import: check by hand" for name in shadows]
    return notes


class Job(NamedTuple):
    """What a worker takes from the queue: one submission, a student's ``assignment`` in the folder of their
    submissions; ``canary``: a reference solution, graded as the canary (coursetools/canary.py), which only
    the grader queues."""

    student: str
    folder: str
    assignment: str
    canary: bool = False


class JobQueue:
    """The run's jobs: the ``first`` ones (the canaries) in their order, then the others, those of the
    assignment whose canary took longest first (``took``), so that no long submission is left for the end
    while the other workers have nothing to do; an assignment not timed yet counts as the longest."""

    def __init__(self, first: Iterable[Job], rest: Iterable[Job]) -> None:
        self.first, self.rest = list(first), list(rest)
        self.seconds: dict[str, float] = {}
        self.lock = threading.Lock()

    def took(self, assignment: str, seconds: float) -> None:
        """Grading the canary of ``assignment`` took ``seconds``."""
        with self.lock:
            self.seconds[assignment] = seconds

    def get_nowait(self) -> Job:
        """The next job (``queue.Empty`` when none is left)."""
        with self.lock:
            if self.first:
                return self.first.pop(0)
            if not self.rest:
                raise queue.Empty
            job = max(self.rest, key=lambda j: self.seconds.get(j.assignment, math.inf))
            self.rest.remove(job)
            return job


def student_jobs(pairs: list[tuple[str, str]], submitted: Path, first: Iterable[Job] = ()) -> JobQueue:
    """The jobs ``first``, then one job per submission (students in name order)."""
    jobs = [Job(student, str(submitted / student), assignment)
            for assignment, student in sorted(pairs, key=lambda pair: pair[1])]
    return JobQueue(first, jobs)
