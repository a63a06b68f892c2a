"""The canary: before any student is graded, the reference solution is graded in exactly their conditions.

Same sandbox, same limits, same kernel, same judge: if the reference solution of an assignment does not
get every autograded point, the grading environment is broken (a course module the sandbox cannot see,
a limit too low for the imports, a mistake in a hidden test), and grading stops with the reason instead of
giving the whole class zero. The canary's observations are the reference the students are judged against.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

from coursetools.collect import Job
from coursetools.course import notebook_cells

CANARY = "reference-solution"
NAME_TAKEN = (f"the folder is named {CANARY}, the name the grader gives the reference solution: "
              "not graded (rename it and grade again)")
COURSE_MODULES = ("helpers", "numpy", "scipy", "torch", "matplotlib", "sklearn", "IPython", "ipykernel")
ENVIRONMENT_HINT = ("the course's environment is not visible inside the grading sandbox: the virtual "
                    "environment and the course's packages must live inside the course folder or in a system "
                    "folder (/usr, /opt, ...), not behind a symbolic link to another place")
KERNEL_HINT = ("the kernel could not start or died in the sandbox: check the sandbox limits "
               "(c.Sandbox.memory_mb and the others in nbgrader_config.py) against what the imports need")


def submit_reference(source: Path, submitted: Path, assignment: str) -> None:
    """Copy an assignment's source folder (the reference solution) in as the canary's submission."""
    target = submitted / CANARY / assignment
    if target.exists():
        shutil.rmtree(target)
    shutil.copytree(source / assignment, target, ignore=shutil.ignore_patterns(".ipynb_checkpoints"))


def canary_jobs(source: Path, folder: Path, assignments: list[str]) -> list[Job]:
    """The canary's jobs, one per assignment: its reference solution, copied into ``folder``."""
    for assignment in assignments:
        submit_reference(source, folder, assignment)
    return [Job(CANARY, str(folder / CANARY), a, canary=True) for a in assignments]


def lost_points(db_url: str, assignment: str, student: str = CANARY) -> list[str]:
    """The autograded tests a submission did not get full points on ("grade_id: score / max")."""
    from nbgrader.api import Gradebook, MissingEntry

    with Gradebook(db_url) as gradebook:
        try:
            submission = gradebook.find_submission(assignment, student)
        except MissingEntry:
            return ["nothing was graded"]
        return [f"{g.name}: {g.score or 0:g} / {g.max_score:g}" for nb in submission.notebooks
                for g in nb.grades if g.cell.cell_type == "code" and (g.score or 0) < g.max_score]


def first_errors(autograded: Path, limit: int = 3) -> list[str]:
    """The first error outputs of the canary's graded notebooks: "notebook, cell N: Type: message"."""
    found = []
    for notebook in sorted(autograded.glob("*.ipynb")):
        for index, cell in enumerate(notebook_cells(notebook)):
            for out in cell.get("outputs", []):
                if out.get("output_type") == "error" and len(found) < limit:
                    message = (str(out.get("evalue") or "").splitlines() or [""])[0][:300]
                    found.append(f"{notebook.name}, cell {index}: {out.get('ename')}: {message}")
    return found


def likely_cause(errors: list[str], log: str) -> str:
    """A sentence on the likely cause of a failed canary."""
    text = "\n".join(errors) + "\n" + log
    if "No module named" in text:  # the reference solution imports nothing a working environment lacks
        return ENVIRONMENT_HINT
    kernel_trouble = ("Kernel died", "Kernel didn't respond", "MemoryError", "DeadKernel")
    if any(marker in text for marker in kernel_trouble):
        return KERNEL_HINT
    return ("the reference solution fails its own tests in these conditions: read the errors above "
            "(a hidden test or a limit may be wrong)")


def explain(assignment: str, lost: list[str], errors: list[str], log: str) -> str:
    """One paragraph: why grading stopped before any student was graded."""
    shown = "; ".join(errors) if errors else "no error output (see the log below)"
    lines = [line.strip() for line in log.strip().splitlines() if line.strip()]
    tail = [line for line in lines if "Error" in line or "No module" in line][-4:] or lines[-6:]
    return (f"grading stopped before any student was graded: the reference solution of {assignment}, graded "
            f"exactly as a student's submission would be, did not get full marks ({', '.join(lost)}). "
            f"First errors: {shown}. Likely cause: {likely_cause(errors, log)}. "
            "Nothing was written to the course gradebook." + ("\nLog:\n" + "\n".join(tail) if tail else ""))


def verdict(course: Any, assignment: str, log: str) -> str:
    """'' when the canary of ``assignment`` got full marks in the scratch course ``course`` (a folder whose
    gradebook.db and autograded/ it used); else the explanation."""
    course = Path(course)
    lost = lost_points(f"sqlite:///{course / 'gradebook.db'}", assignment)
    if not lost:
        return ""
    return explain(assignment, lost, first_errors(course / "autograded" / CANARY / assignment), log)
