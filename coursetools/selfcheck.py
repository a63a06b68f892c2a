"""``make check EX=exNN``: a self-learner's work graded against the hidden tests in a scratch course."""

from __future__ import annotations

import secrets
import shutil
import sys
import tempfile
from pathlib import Path
from typing import Any

from coursetools import canary, cgroups, sandbox
from coursetools.course import assignments_in, load_config, source_root
from coursetools.feedback import add_mathjax
from coursetools.judge import plan_run, write_json
from coursetools.reports import explain_failure
from coursetools.workers import sandbox_kernel, shard_api

NO_SOLUTIONS = ("make check grades your work against the hidden tests in solutions/, which this copy of the "
                "course does not have (the student bundle leaves them out). Use the full course repository, "
                "or press Validate in JupyterLab to run the visible tests.")


def check(exercise: str, root: Path, work: Path | None = None, unsafe: bool = False) -> int:
    """``make check EX=exNN``: grade the learner's work/exNN_*/ in a scratch course (sandboxed unless
    ``unsafe``); 0 when it could."""
    root = Path(root).resolve()
    config = load_config(root)
    source = source_root(root, config)
    if not source.is_dir() or not any(source.glob("*/*.ipynb")):
        print(NO_SOLUTIONS, file=sys.stderr)
        return 2
    matches = assignments_in(source, exercise)
    if len(matches) != 1:
        print(f"no single exercise set matches {exercise!r}; choose from {assignments_in(source)}",
              file=sys.stderr)
        return 2
    assignment, work = matches[0], Path(work or root / "work")
    if not (work / assignment).is_dir():
        print(f"no {work / assignment}/: run `make lab` first, which copies the exercises to work/",
              file=sys.stderr)
        return 2
    sandbox.require_sandbox(unsafe)
    with tempfile.TemporaryDirectory(prefix="check-") as scratch_name:
        scratch = Path(scratch_name)
        (scratch / "source").symlink_to(source, target_is_directory=True)
        shutil.copytree(work / assignment, scratch / "submitted" / "learner" / assignment,
                        ignore=shutil.ignore_patterns(".ipynb_checkpoints", "feedback"))
        box = None if unsafe else sandbox_kernel(scratch, root, config, source, [assignment],
                                                 not cgroups.unavailable())
        plan = str(write_json(scratch / "plan.json", plan_run(source, [assignment], secrets.randbits(63))))
        reference = str(scratch / "reference")  # the canary records, the learner is judged against it
        with sandbox.isolated_student(box):
            problem = run_canary(shard_api(scratch, root, box, {"plan": plan, "record": reference}), scratch,
                                 source, assignment)
        if problem:
            print(problem, file=sys.stderr)
            return 1
        api = shard_api(scratch, root, box, {"plan": plan, "reference": reference})
        for step in (lambda: api.autograde(assignment, "learner"),
                     lambda: api.generate_feedback(assignment, "learner")):
            with sandbox.isolated_student(box):
                result = step()
            if not result["success"]:
                print(f"grading failed: {explain_failure(result.get('log', '') + result.get('error', ''))}",
                      file=sys.stderr)
                return 1
        print_scores(scratch, assignment)
        pages = keep_feedback(scratch / "feedback" / "learner" / assignment, work / "feedback" / assignment)
    for page in pages:
        print(f"feedback: {page}")
    return 0


def run_canary(api: Any, scratch: Path, source: Path, assignment: str) -> str:
    """Grade the reference solution first, as the learner's work will be (coursetools/canary.py); the
    reason it failed ('' when it got full marks)."""
    result = api.generate_assignment(assignment)
    if not result["success"]:
        return f"nbgrader cannot read {assignment}: {result.get('error') or result.get('log')}"
    canary.submit_reference(source, scratch / "submitted", assignment)
    result = api.autograde(assignment, canary.CANARY)
    return canary.verdict(scratch, assignment, f"{result.get('log', '')}\n{result.get('error', '')}")


def print_scores(scratch: Path, assignment: str) -> None:
    """The learner's score per task from the scratch gradebook."""
    from nbgrader.api import Gradebook

    with Gradebook(f"sqlite:///{scratch / 'gradebook.db'}") as gradebook:
        submission = gradebook.find_submission(assignment, "learner")
        print(f"{assignment}: autograded tasks")
        auto = [g for nb in submission.notebooks for g in nb.grades if g.cell.cell_type == "code"]
        for g in auto:
            missing = "  (test cell missing)" if g.auto_score is None else ""
            print(f"  {g.name:40s} {g.score or 0:g} / {g.max_score:g}{missing}")
        written = [g for nb in submission.notebooks for g in nb.grades if g.cell.cell_type != "code"]
        print(f"  {'total':40s} {sum(g.score or 0 for g in auto):g} / {sum(g.max_score for g in auto):g}")
        if written:
            print(f"  written answers ({sum(g.max_score for g in written):g} points) are graded by a person")


def keep_feedback(folder: Path, target: Path) -> list[Path]:
    """Copy the feedback pages to ``target`` (replacing older ones); their paths."""
    target.mkdir(parents=True, exist_ok=True)
    pages = [Path(shutil.copy(page, target / page.name)) for page in sorted(folder.glob("*.html"))]
    add_mathjax(target)
    return pages
