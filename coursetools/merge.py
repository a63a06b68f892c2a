"""Gradebooks: registering assignments, due dates, and merging each shard's grades into the course."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

from coursetools.course import nbgrader_api
from coursetools.feedback import add_mathjax


def register(api: Any, assignments: list[str], where: str) -> None:
    """nbgrader generate_assignment for each assignment: the gradebook learns its cells and points."""
    for assignment in assignments:
        result = api.generate_assignment(assignment)
        if not result["success"]:
            raise SystemExit(f"nbgrader cannot register {assignment} in {where}:\n"
                             f"{result.get('error', result.get('log'))}")


def register_in_course(course_root: Path, config: Any, assignments: list[str], scratch: Path) -> None:
    """Make the course gradebook know the assignments (as `make release` does), leaving exercises/ alone."""
    api = nbgrader_api(course_root, config, release_directory=str(scratch / "release"))
    register(api, assignments, "the course gradebook")


def due_dates(course: Any) -> dict[str, str]:
    """Due dates the course gradebook holds (nbgrader db assignment add --duedate), for late penalties."""
    from nbgrader.api import Gradebook

    if course.db_url.startswith("sqlite:///") and not Path(course.db_url[len("sqlite:///"):]).exists():
        return {}  # no gradebook yet, so no due dates (and no need to create it before the workers start)
    with Gradebook(course.db_url, course.course_id) as gradebook:
        return {a.name: a.duedate.isoformat() for a in gradebook.assignments if a.duedate}


def set_due_dates(shard: Path, dates: dict[str, str]) -> None:
    """Give a shard's gradebook the course's due dates, so late penalties match sequential grading."""
    from nbgrader.api import Gradebook
    from nbgrader.utils import parse_utc

    with Gradebook(f"sqlite:///{shard / 'gradebook.db'}") as gradebook:
        for name, date in dates.items():
            if name in {a.name for a in gradebook.assignments}:
                gradebook.update_or_create_assignment(name, duedate=parse_utc(date))


def copy_submission(src: Any, dst: Any, assignment: str, student: str) -> bool:
    """Copy what autograde wrote for one submission from gradebook ``src`` to ``dst`` (False: none)."""
    from nbgrader.api import MissingEntry

    try:
        submission = src.find_submission(assignment, student)
    except MissingEntry:
        return False
    dst.update_or_create_student(student)
    stamp = {"timestamp": submission.timestamp} if submission.timestamp else {}
    dst.update_or_create_submission(assignment, student, **stamp)
    for notebook in submission.notebooks:
        target = dst.find_submission_notebook(notebook.name, assignment, student)
        target.late_submission_penalty = notebook.late_submission_penalty
        for grade in notebook.grades:
            copy = dst.find_grade(grade.name, notebook.name, assignment, student)
            copy.auto_score = grade.auto_score
            copy.needs_manual_grade = grade.needs_manual_grade or copy.manual_score is not None
        for comment in notebook.comments:
            dst.find_comment(comment.name, notebook.name, assignment,
                             student).auto_comment = comment.auto_comment
    dst.db.commit()
    return True


def replace_tree(source: Path, target: Path) -> None:
    """``target`` becomes a copy of ``source`` (or disappears when ``source`` does not exist)."""
    if target.exists():
        shutil.rmtree(target)
    if source.exists():
        shutil.copytree(source, target)


def merge_shard(shard: Path, course: Any, pairs: list[tuple[str, str]]) -> None:
    """Grades, graded notebooks and feedback of a shard's submissions into the course."""
    from nbgrader.api import Gradebook

    root = Path(course.root)
    shard_db = f"sqlite:///{shard / 'gradebook.db'}"
    with Gradebook(shard_db) as src, Gradebook(course.db_url, course.course_id) as dst:
        for assignment, student in pairs:
            copy_submission(src, dst, assignment, student)
    for assignment, student in pairs:
        for kind in ("autograded", "feedback"):
            replace_tree(shard / kind / student / assignment,
                         root / getattr(course, f"{kind}_directory") / student / assignment)
        add_mathjax(root / course.feedback_directory / student / assignment)
