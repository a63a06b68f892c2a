"""Reports of a grading run: grades.csv, the problem column, the summary figure and progress lines."""

from __future__ import annotations

import csv
import re
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable

from coursetools.canary import COURSE_MODULES, ENVIRONMENT_HINT
from coursetools.collect import LINKS_REFUSED, inspect_submission, submissions_in
from coursetools.course import cell_text, notebook_cells, source_root
from coursetools.leaks import withhold_leaking_feedback
from coursetools.outputs import CUT
from coursetools.workers import Outcome


def explain_failure(log: str) -> str:
    """A short reason from nbgrader's log of a failed autograde."""
    reasons = [(LINKS_REFUSED, LINKS_REFUSED),
               ("Kernel died", "the kernel died (os._exit, a crash or out of memory): nothing graded"),
               ("NotJSONError", "the notebook is not valid JSON"),
               ("No notebooks found", "the expected notebook is missing"),
               ("No notebooks were matched", "no notebook was submitted"),
               ("unresponsive", "the kernel became unresponsive")]
    return next((text for marker, text in reasons if marker in log), "nbgrader failed on this submission")


def problem_of(outcome: Outcome | None, folder: Path, expected: list[str]) -> str:
    """The ``problem`` column of grades.csv for one submission ('' when all went well)."""
    notes = inspect_submission(folder, expected)
    if outcome is not None and not outcome.ok:
        notes.insert(0, outcome.problem or f"grading failed: {explain_failure(outcome.log)}")
    if outcome is not None and outcome.ok and not outcome.feedback:
        notes.append("no feedback page was written")
    return "; ".join(notes)


ENVIRONMENT = "environment problem (not the student's)"
KERNEL_START = ("Kernel died before replying", "Kernel didn't respond")


def environment_problem(outcome: Outcome | None, autograded: Path) -> str:
    """'' unless the student's kernel could not start or could not import a module the course provides:
    then what the grading environment lacks (a student cannot cause that, so their grade says nothing)."""
    if outcome is not None and any(marker in outcome.log for marker in KERNEL_START):
        return f"{ENVIRONMENT}: the kernel could not start in the grading sandbox"
    for notebook in sorted(autograded.glob("*.ipynb")):
        for cell in notebook_cells(notebook):
            for out in cell.get("outputs", []):
                missing = re.fullmatch(r"No module named '([\w.]+)'", str(out.get("evalue", "")))
                module = missing.group(1) if missing and out.get("ename") == "ModuleNotFoundError" else ""
                if module in COURSE_MODULES:
                    return f"{ENVIRONMENT}: the kernel cannot import {module}; {ENVIRONMENT_HINT}"
    return ""


def outputs_cut(autograded: Path) -> str:
    """What the grader cut of a submission's outputs ('' if nothing)."""
    found = [(index, re.search(CUT + r": ([^.]*)", cell_text(out, "text")))
             for notebook in sorted(autograded.glob("*.ipynb"))
             for index, cell in enumerate(notebook_cells(notebook)) for out in cell.get("outputs", [])
             if out.get("output_type") == "stream"]
    cuts = [f"cell {index}: {match.group(1).strip()}" for index, match in found if match]
    return f"outputs cut ({'; '.join(cuts[:3])})" if cuts else ""


@dataclass
class Row:
    """One line of grades.csv, plus the per-task scores the summary figure draws."""

    student: str
    assignment: str
    score: float
    max_score: float
    needs_manual_grading: bool
    problem: str = ""
    tasks: dict[str, tuple[float, float]] = field(default_factory=dict)


def gradebook_rows(course: Any, pairs: Iterable[tuple[str, str]]) -> dict[tuple[str, str], Row]:
    """Rows for the pairs from the course gradebook (a pair it has no submission for gets a zero row)."""
    from nbgrader.api import Gradebook, MissingEntry

    rows = {}
    with Gradebook(course.db_url, course.course_id) as gradebook:
        for assignment, student in pairs:
            max_score = gradebook.find_assignment(assignment).max_score
            try:
                submission = gradebook.find_submission(assignment, student)
            except MissingEntry:
                rows[(assignment, student)] = Row(student, assignment, 0.0, max_score, False)
                continue
            tasks = {g.name: (g.score or 0.0, g.max_score) for nb in submission.notebooks for g in nb.grades
                     if g.cell.cell_type == "code"}
            rows[(assignment, student)] = Row(student, assignment, submission.score, max_score,
                                              bool(submission.needs_manual_grade), tasks=tasks)
    return rows


def write_csv(rows: list[Row], path: Path) -> None:
    """grades.csv: student, assignment, score, max_score, needs_manual_grading, problem."""
    with open(path, "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["student", "assignment", "score", "max_score", "needs_manual_grading", "problem"])
        for row in sorted(rows, key=lambda r: (r.assignment, r.student)):
            writer.writerow([row.student, row.assignment, f"{row.score:g}", f"{row.max_score:g}",
                             "yes" if row.needs_manual_grading else "no", row.problem])


def read_csv(path: Path) -> list[dict[str, str]]:
    """grades.csv as a list of dicts."""
    with open(path, newline="") as handle:
        return list(csv.DictReader(handle))


def summary_figure(rows: list[Row]) -> Any:
    """Score distribution per assignment (left) and per graded task (right), as fractions of the maximum."""
    from helpers.plots import new_figure

    assignments = sorted({r.assignment for r in rows})
    tasks = sorted({(r.assignment, t) for r in rows for t in r.tasks})
    fig, (left, right) = new_figure(2, 1, width=max(4.5, 0.9 * max(len(assignments), len(tasks)) + 2),
                                    height=3.6)
    for axis, groups, title in ((left, [(a, None) for a in assignments], "total score per assignment"),
                                (right, tasks, "score per autograded task")):
        values = [[(r.score / r.max_score if task is None else r.tasks[task][0] / r.tasks[task][1])
                   for r in rows if r.assignment == a and (task is None or task in r.tasks)
                   and (r.max_score if task is None else r.tasks[task][1])] for a, task in groups]
        if any(values):
            axis.boxplot([v or [0.0] for v in values], showmeans=True)
        for i, vals in enumerate(values, start=1):
            spread = [i + 0.25 * ((k * 0.618) % 1 - 0.5) for k in range(len(vals))]  # fixed jitter
            axis.plot(spread, vals, "o", alpha=0.45, color="#1f77b4")
            axis.annotate(f"n={len(vals)}", (i, 1.07), ha="center", fontsize=8)
        axis.set_xticks(range(1, len(groups) + 1),
                        [a if t is None else f"{a.split('_')[0]}/{t}" for a, t in groups],
                        rotation=30, ha="right")
        axis.set(ylim=(-0.05, 1.13), ylabel="fraction of the points (triangle: mean)", title=title)
    return fig


def progress_printer(total: int) -> Callable[[Outcome], None]:
    """A thread-safe reporter printing one line per graded submission."""
    lock, done = threading.Lock(), [0]

    def report(outcome: Outcome) -> None:
        with lock:
            done[0] += 1
            state = "graded" if outcome.ok else "FAILED"
            print(f"[{done[0]:>{len(str(total))}}/{total}] {state} {outcome.assignment}/{outcome.student}"
                  f" ({outcome.seconds:.1f} s)", flush=True)
    return report


def write_reports(root: Path, config: Any, course: Any, pairs: list[tuple[str, str]],
                  outcomes: dict[tuple[str, str], Outcome]) -> list[Row]:
    """grades.csv and grades-summary.png for every submission in submitted/ of the graded assignments."""
    source = source_root(root, config)
    every = submissions_in(root / course.submitted_directory, sorted({a for a, _ in pairs}))
    rows = gradebook_rows(course, every)
    earlier = {(r["assignment"], r["student"]): r["problem"] for r in read_csv(root / "grades.csv")
               } if (root / "grades.csv").exists() else {}
    for pair, row in rows.items():
        if pair not in outcomes and pair in earlier:  # not graded in this run: keep what the last run found
            row.problem = earlier[pair]
            continue
        expected = sorted(p.name for p in (source / pair[0]).glob("*.ipynb"))
        folder = root / course.submitted_directory / pair[1] / pair[0]
        autograded = root / course.autograded_directory / pair[1] / pair[0]
        remarks = [environment_problem(outcomes.get(pair), autograded) if pair in outcomes else "",
                   outputs_cut(autograded) if pair in outcomes else "",
                   problem_of(outcomes.get(pair), folder, expected),
                   withhold_leaking_feedback(root, course, pair)]
        row.problem = "; ".join(r for r in remarks if r)
    write_csv(list(rows.values()), root / "grades.csv")
    summary_figure(list(rows.values())).savefig(root / "grades-summary.png", dpi=110)
    failed = sum(not o.ok for o in outcomes.values())
    print(f"wrote grades.csv ({len(rows)} rows), grades-summary.png and {course.feedback_directory}/"
          + (f"; {failed} submission(s) could not be graded: see the problem column" if failed else ""))
    broken = [r for r in rows.values() if ENVIRONMENT in r.problem]
    if broken:
        raise SystemExit(f"{len(broken)} submission(s) met a broken grading environment "
                         f"({broken[0].problem}): their grades say nothing about the students; "
                         "fix the environment and grade again")
    return list(rows.values())
