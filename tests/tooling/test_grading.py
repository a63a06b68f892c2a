"""`make grade`, `make check` and `make bundle` on the tiny fixture assignment
(tests/tooling/fixtures/extiny).

One batch holds every kind of bad submission, so nbgrader's start-up is paid once: each student's
grade is asserted as designed, the batch finishes, the gradebook stays readable, no feedback page
shows hidden tests, a second run gives the same grades, and the grades equal sequential
``nbgrader autograde``'s.
"""

from __future__ import annotations

import json
import re
import shutil
import sqlite3
import subprocess
import sys
import tarfile
from pathlib import Path
from typing import Any

import nbformat
import pytest
from conftest import ROOT, SOLUTIONS, nbgrader_env, run_nbgrader

from coursetools import bundle, leaks, reports, workers
from coursetools.canary import CANARY, NAME_TAKEN
from coursetools.collect import Job, student_jobs
from coursetools.course import cell_text

pytestmark = pytest.mark.xdist_group("grading")

FIXTURE = ROOT / "tests" / "tooling" / "fixtures" / "extiny" / "extiny.ipynb"
ASSIGNMENT = "extiny"
# seconds per cell: the infinite loop costs one; honest work never needs it, however busy the machine
CELL_TIMEOUT = 60
TASKS = ("test_top_k_accuracy", "test_class_means")

# student: (score of test_top_k_accuracy, score of test_class_means, needs manual grading, problem text)
# None = no autograded score (the cell is missing or nbgrader could not grade the submission).
DESIGNED: dict[str, tuple[float | None, float | None, bool, str]] = {
    "full": (2, 3, True, ""),
    "untouched": (0, 0, False, ""),
    "wrong": (0, 3, True, ""),
    "helpers_only": (0, 3, True, ""),
    "infinite_loop": (0, 3, True, ""),
    "kernel_crash": (None, None, True, "kernel died"),
    "import_error": (0, 3, True, ""),
    "shadowing_module": (0, 0, True, "shadows a course import"),
    "huge_output": (2, 3, True, ""),
    "edited_tests": (0, 3, True, ""),
    "deleted_test": (2, None, True, ""),
    "not_json": (None, None, True, "not valid JSON"),
    "missing_notebook": (None, None, True, "missing extiny.ipynb"),
    "extra_files": (2, 3, True, "ignored extra notebook"),
    CANARY: (None, None, False, NAME_TAKEN),  # named like the canary: never graded, never its place
}


# --- building the test course and its submissions ----------------------------------------------

def _cell(nb: Any, grade_id: str) -> Any:
    return next(c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade_id") == grade_id)


def _replace_function(nb: Any, grade_id: str, source: str) -> Any:
    _cell(nb, grade_id).source = source
    return nb


def _submission(folder: Path, nb: Any | None = None, name: str = "extiny.ipynb",
                text: str | None = None) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    if text is not None:
        (folder / name).write_text(text)
    elif nb is not None:
        nbformat.write(nb, folder / name)
    return folder


def write_batch(course: Path) -> None:
    """One submission per kind in DESIGNED: the release with the students' answers written in."""
    released = nbformat.read(course / "exercises" / ASSIGNMENT / "extiny.ipynb", as_version=4)
    answers = {c.metadata["nbgrader"]["grade_id"]: c.source
               for c in nbformat.read(FIXTURE, as_version=4).cells
               if c.metadata.get("nbgrader", {}).get("solution")}

    def solution() -> Any:
        nb = nbformat.read(course / "exercises" / ASSIGNMENT / "extiny.ipynb", as_version=4)
        for grade_id, source in answers.items():
            _cell(nb, grade_id).source = source
        return nb

    def folder(student: str) -> Path:
        return course / "submitted" / student / ASSIGNMENT

    _submission(folder("full"), solution())
    _submission(folder("untouched"), released)
    _submission(folder(CANARY), released)
    wrong = solution()
    _cell(wrong, "top_k_accuracy").source = _cell(wrong, "top_k_accuracy").source.replace("-scores", "scores")
    _submission(folder("wrong"), wrong)
    _submission(folder("helpers_only"), _replace_function(solution(), "top_k_accuracy", (
        "def top_k_accuracy(scores, labels, k=1):\n    import torch\n"
        "    return helpers.train.accuracy(torch.as_tensor(scores), torch.as_tensor(labels))")))
    _submission(folder("infinite_loop"), _replace_function(
        solution(), "top_k_accuracy",
        "def top_k_accuracy(scores, labels, k=1):\n    while True:\n        pass"))
    _submission(folder("kernel_crash"), _replace_function(
        solution(), "class_means", "def class_means(X, y, n_classes):\n    import os\n    os._exit(1)"))
    importing = solution()
    _cell(importing, "top_k_accuracy").source = \
        "import not_a_module_anywhere\n" + _cell(importing, "top_k_accuracy").source
    _submission(folder("import_error"), importing)
    shadow = _submission(folder("shadowing_module"), solution())
    (shadow / "helpers.py").write_text("raise ImportError('a student module named helpers')\n")
    huge = solution()
    _cell(huge, "top_k_accuracy").source += ('\nprint("x" * 5_000_000)\n'
                                             'for _i in range(50_000):\n    print(_i)')
    _submission(folder("huge_output"), huge)
    edited = _replace_function(solution(), "top_k_accuracy",
                               "def top_k_accuracy(scores, labels, k=1):\n    return 0.0")
    _cell(edited, "test_top_k_accuracy").source = "assert True  # the student's own 'test'"
    _submission(folder("edited_tests"), edited)
    deleted = solution()
    deleted.cells = [c for c in deleted.cells
                     if c.metadata.get("nbgrader", {}).get("grade_id") != "test_class_means"]
    _submission(folder("deleted_test"), deleted)
    _submission(folder("not_json"), text='{"cells": [ this is not JSON')
    missing = _submission(folder("missing_notebook"), solution(), name="extiny (1).ipynb")
    (missing / "notes.txt").write_text("my notes")
    extra = _submission(folder("extra_files"), solution())
    (extra / "data.csv").write_text("a,b\n1,2\n")
    _submission(extra, solution(), name="scratch.ipynb")
    (extra / "more").mkdir()
    (extra / "more" / "log.txt").write_text("x")


def make_course(folder: Path) -> Path:
    """A course with the fixture as its only assignment, a short cell timeout, and its release."""
    folder.mkdir(parents=True, exist_ok=True)
    config = (ROOT / "nbgrader_config.py").read_text() + f"\nc.Execute.timeout = {CELL_TIMEOUT}\n"
    (folder / "nbgrader_config.py").write_text(config)
    (folder / "solutions" / ASSIGNMENT).mkdir(parents=True)
    shutil.copy(FIXTURE, folder / "solutions" / ASSIGNMENT / FIXTURE.name)
    done = run_nbgrader(["generate_assignment", ASSIGNMENT, "--force"], folder)
    assert done.returncode == 0, done.stdout + done.stderr
    (folder / "gradebook.db").unlink()  # `make grade` must register the assignment by itself
    return folder


def run_grading(*args: str, timeout: float = 600) -> subprocess.CompletedProcess[str]:
    """``python -m coursetools ARGS`` (what the make targets run)."""
    return subprocess.run([sys.executable, "-m", "coursetools", *args], cwd=ROOT, env=nbgrader_env(),
                          capture_output=True, text=True, timeout=timeout)


def task_grades(db: Path) -> dict[tuple[str, str], tuple[float | None, bool]]:
    """(student, grade cell) → (auto score, needs manual grading) for every submission of the fixture."""
    from nbgrader.api import Gradebook

    with Gradebook(f"sqlite:///{db}") as gradebook:
        return {(sub.student.id, g.name): (g.auto_score, bool(g.needs_manual_grade))
                for sub in gradebook.find_assignment(ASSIGNMENT).submissions
                for nb in sub.notebooks for g in nb.grades}


@pytest.fixture(scope="module")
def pristine(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The test course with every submission, never graded (copied by the tests that grade)."""
    course = make_course(tmp_path_factory.mktemp("pristine") / "course")
    write_batch(course)
    return course


@pytest.fixture(scope="module")
def graded(pristine: Path,
           tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, subprocess.CompletedProcess[str]]:
    """The course after one `make grade` run, and that run."""
    course = tmp_path_factory.mktemp("graded") / "course"
    shutil.copytree(pristine, course, symlinks=True)
    done = run_grading("grade", "--root", str(course))
    assert done.returncode == 0, done.stdout + done.stderr
    return course, done


# --- make grade ---------------------------------------------------------------------------------

def test_every_submission_gets_its_designed_grade(graded) -> None:
    course, _ = graded
    rows = {r["student"]: r for r in reports.read_csv(course / "grades.csv")}
    assert set(rows) == set(DESIGNED)
    tasks = task_grades(course / "gradebook.db")
    for student, (top_k, means, manual, problem) in DESIGNED.items():
        row = rows[student]
        assert (row["assignment"], float(row["max_score"])) == (ASSIGNMENT, 6.0)
        assert float(row["score"]) == (top_k or 0) + (means or 0), f"{student}: {row}"
        assert row["needs_manual_grading"] == ("yes" if manual else "no"), f"{student}: {row}"
        assert problem in row["problem"] and bool(row["problem"]) == bool(problem), \
            f"{student}: {row['problem']!r}"
        assert tasks.get((student, "test_top_k_accuracy"), (None,))[0] == top_k, student
        assert tasks.get((student, "test_class_means"), (None,))[0] == means, student
    assert (CANARY, "test_top_k_accuracy") not in tasks  # the reference solution's grades stayed in its shard


def test_batch_finishes_with_progress_and_outputs(graded) -> None:
    course, done = graded
    assert f"grading {len(DESIGNED)} submissions" in done.stdout
    assert done.stdout.count(f"/{len(DESIGNED)}] ") == len(DESIGNED), done.stdout
    assert (course / "grades-summary.png").stat().st_size > 10_000
    for student, (_, _, _, problem) in DESIGNED.items():
        page = course / "feedback" / student / ASSIGNMENT / "extiny.html"
        graded_notebook = course / "autograded" / student / ASSIGNMENT / "extiny.ipynb"
        could_grade = problem in ("", "ignored extra notebook", "shadows a course import")
        assert page.exists() == could_grade, student
        assert graded_notebook.exists() == could_grade, student


def test_gradebook_stays_readable(graded) -> None:
    course, _ = graded
    with sqlite3.connect(course / "gradebook.db") as db:
        assert db.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    done = run_nbgrader(["export", "--to", str(course / "export.csv")], course)
    assert done.returncode == 0, done.stderr
    exported = {r["student_id"]: float(r["score"]) for r in reports.read_csv(course / "export.csv")}
    ours = {r["student"]: float(r["score"]) for r in reports.read_csv(course / "grades.csv")
            if r["student"] != CANARY}  # not graded, so not in the gradebook
    assert exported == ours


def test_no_feedback_shows_hidden_tests(graded) -> None:
    course, _ = graded
    hidden = leaks.hidden_lines(FIXTURE)
    assert any("hidden-sentinel" in line for line in hidden)
    pages = sorted((course / "feedback").rglob("*.html"))
    assert pages
    for page in pages:
        text = leaks.html_text(page)
        assert "extiny reference" not in text and "def judge(" not in text, page
        assert "helpers_disabled(globals())" not in text, page
    assert (course / "feedback" / "huge_output" / ASSIGNMENT / "extiny.html").stat().st_size < 1_000_000
    for notebook in (course / "autograded").rglob("extiny.ipynb"):  # the hidden tests did run
        assert "hidden-sentinel: extiny reference top-k accuracy" in notebook.read_text()


def test_grading_again_with_one_worker_gives_identical_grades_and_one_student_option(graded) -> None:
    """Grading the class again, now with one worker taking every student in turn (and the first run's seed),
    changes no grade: sharding changes nothing and a second run replaces the first; --student regrades one,
    --report-only rewrites grades.csv from the gradebook alone."""
    course, done = graded
    seed = re.search(r"--seed (\d+)", done.stdout).group(1)
    first_csv, first = (course / "grades.csv").read_text(), task_grades(course / "gradebook.db")
    again = run_grading("grade", "--root", str(course), "--workers", "1", "--seed", seed)
    assert again.returncode == 0, again.stdout + again.stderr
    assert "with 1 worker(s)" in again.stdout, again.stdout
    assert (course / "grades.csv").read_text() == first_csv
    assert task_grades(course / "gradebook.db") == first
    one = run_grading("grade", "--root", str(course), "--student", "wrong")
    assert one.returncode == 0 and "grading 1 submissions" in one.stdout, one.stdout + one.stderr
    assert (course / "grades.csv").read_text() == first_csv
    (course / "grades.csv").unlink()
    report = run_grading("grade", "--root", str(course), "--report-only")
    assert report.returncode == 0 and "grading" not in report.stdout, report.stdout + report.stderr
    assert [r["score"] for r in reports.read_csv(course / "grades.csv")] == \
        [r.split(",")[2] for r in first_csv.splitlines()[1:]]


FAKE_WORKER = """
import json, os, sys, time
for line in sys.stdin:
    assignment, student, canary = json.loads(line)
    if student == "kills_the_grader":
        os._exit(3)
    if student == "hangs_the_grader":
        time.sleep(600)
    log = "recorded" if canary else "judged"
    print(json.dumps({"event": "done", "assignment": assignment, "student": student, "ok": True,
                      "seconds": 0.0, "feedback": True, "log": log}), flush=True)
"""


def test_a_dead_or_hung_grader_costs_only_its_submission(tmp_path: Path) -> None:
    """The worker process itself dies or hangs: that submission fails, a fresh worker takes the rest."""
    worker = workers.Worker(tmp_path, command=[sys.executable, "-c", FAKE_WORKER])
    (tmp_path / "submitted").mkdir()
    students = ["a_fine", "hangs_the_grader", "kills_the_grader", "z_fine"]
    jobs = student_jobs([("ex", s) for s in students], tmp_path / "class")
    outcomes: list[workers.Outcome] = []
    assert workers.grade_shard(worker, jobs, 3.0, outcomes.append) == [("ex", s) for s in students]
    assert [(o.student, o.ok) for o in outcomes] == [("a_fine", True), ("hangs_the_grader", False),
                                                     ("kills_the_grader", False), ("z_fine", True)]
    assert "no result after 3 s" in outcomes[1].problem and "died (exit code 3)" in outcomes[2].problem


def test_only_the_graders_canary_job_records_and_a_student_named_like_it_is_refused(tmp_path: Path) -> None:
    """The worker records the reference's observations only for the canary job the grader queued; a student
    folder named like the canary is refused before it reaches a worker, and none of it is merged."""
    worker = workers.Worker(tmp_path, command=[sys.executable, "-c", FAKE_WORKER])
    (tmp_path / "submitted").mkdir()
    first = [Job(CANARY, str(tmp_path / "reference"), "ex", canary=True)]
    jobs = student_jobs([("ex", "alice"), ("ex", CANARY)], tmp_path / "class", first)
    outcomes: list[workers.Outcome] = []
    canaries: list[workers.Outcome] = []
    graded = workers.grade_shard(worker, jobs, 10.0, outcomes.append, lambda _, done: canaries.append(done))
    assert graded == [("ex", "alice")]
    assert [(o.student, o.log) for o in canaries] == [(CANARY, "recorded")]
    assert [(o.student, o.ok, o.log, o.problem) for o in outcomes] == [
        ("alice", True, "judged", ""), (CANARY, False, "", NAME_TAKEN)]
    assert (tmp_path / "submitted" / CANARY).resolve() == (tmp_path / "reference").resolve()


# --- make check --------------------------------------------------------------------------------

def test_check_grades_own_work_without_touching_the_gradebook(pristine: Path, tmp_path: Path) -> None:
    course = tmp_path / "course"
    shutil.copytree(pristine, course, symlinks=True, ignore=shutil.ignore_patterns("submitted"))
    shutil.copytree(pristine / "submitted" / "wrong" / ASSIGNMENT, course / "work" / ASSIGNMENT)
    done = run_grading("check", "ex", "--root", str(course))  # no such set: lists the choices
    assert done.returncode == 2 and ASSIGNMENT in done.stderr
    done = run_grading("check", ASSIGNMENT, "--root", str(course))
    assert done.returncode == 0, done.stdout + done.stderr
    lines = {line.split()[0]: line.split()[1:] for line in done.stdout.splitlines() if line.startswith("  ")}
    assert lines["test_top_k_accuracy"][:3] == ["0", "/", "2"] \
        and lines["test_class_means"][:3] == ["3", "/", "3"]
    page = Path(done.stdout.split("feedback: ")[1].strip())
    assert page == course / "work" / "feedback" / ASSIGNMENT / "extiny.html" and page.exists()
    assert "extiny reference" not in leaks.html_text(page)
    assert not (course / "gradebook.db").exists() and not (course / "autograded").exists()


def test_check_without_solutions_says_why(tmp_path: Path) -> None:
    (tmp_path / "work" / "ex01_principles").mkdir(parents=True)
    done = run_grading("check", "ex01", "--root", str(tmp_path))
    assert done.returncode == 2 and "solutions/" in done.stderr and "bundle" in done.stderr


# --- make bundle -------------------------------------------------------------------------------

def _protected_blocks(notebooks: list[Path]) -> list[str]:
    """Solution and hidden-test blocks (and written answers) of source notebooks, whitespace-normalised."""
    blocks = []
    for notebook in notebooks:
        blocks += leaks.marked_blocks(notebook, "SOLUTION", "SOLUTION")
        blocks += leaks.marked_blocks(notebook, "HIDDEN TESTS", "HIDDEN TESTS")
        cells = json.loads(notebook.read_text())["cells"]
        blocks += [cell_text(c) for c in cells if c["cell_type"] == "markdown"
                   and c.get("metadata", {}).get("nbgrader", {}).get("solution")]
    return [" ".join(b.split()) for b in blocks if len(" ".join(b.split())) >= 20]


def _archive_texts(archive: Path) -> dict[str, str]:
    """Every file of a tar.gz as whitespace-normalised text (notebooks: their JSON strings joined)."""
    texts = {}
    with tarfile.open(archive) as tar:
        for member in tar.getmembers():
            if member.isfile():
                raw = tar.extractfile(member).read().decode("utf-8", errors="replace")
                if member.name.endswith(".ipynb"):
                    raw = "\n".join(cell_text(c) for c in json.loads(raw)["cells"])
                texts[member.name] = " ".join(raw.split())
    return texts


def test_bundle_holds_no_solution_or_hidden_test(tmp_path: Path) -> None:
    archive = bundle.bundle(ROOT, tmp_path / "student.tar.gz")
    texts = _archive_texts(archive)
    names = set(texts)
    assert {f"multimodal-course/{path}" for path in (
        "README.md", "Makefile", "helpers/fusion.py", "zh/chapters/01_principles.ipynb",
        "zh/exercises/ex01_principles/ex01_principles.ipynb", "docs/student-guide.zh.md")} <= names
    assert not any(n.startswith("multimodal-course/coursetools/") for n in names), \
        "tooling shipped to students"
    assert not any("/solutions/" in n or "/tests/" in n or n.endswith(".db") for n in names)
    blocks = _protected_blocks(SOLUTIONS + [FIXTURE])
    assert blocks
    leaked = [(name, block[:60]) for block in blocks for name, text in texts.items() if block in text]
    assert not leaked


def test_bundle_of_a_course_with_an_exercise_leaves_its_secrets_out(pristine: Path, tmp_path: Path) -> None:
    course = tmp_path / "course"
    shutil.copytree(pristine, course, symlinks=True, ignore=shutil.ignore_patterns("submitted"))
    for item in ("README.md", "Makefile", "helpers"):
        (course / item).symlink_to(ROOT / item)
    texts = _archive_texts(bundle.bundle(course, tmp_path / "b.tar.gz"))
    assert "multimodal-course/exercises/extiny/extiny.ipynb" in texts
    blocks = _protected_blocks([FIXTURE])
    source_text = " ".join("\n".join(cell_text(c) for c in json.loads(FIXTURE.read_text())["cells"]).split())
    assert len(blocks) >= 5 and all(b in source_text for b in blocks)  # the search finds them where they are
    assert not [b for b in blocks for text in texts.values() if b in text]
    unpacked = tmp_path / "unpacked"
    with tarfile.open(tmp_path / "b.tar.gz") as tar:
        tar.extractall(unpacked, filter="data")
    (unpacked / "multimodal-course" / "work" / ASSIGNMENT).mkdir(parents=True)
    done = run_grading("check", ASSIGNMENT, "--root", str(unpacked / "multimodal-course"))
    assert done.returncode == 2 and "solutions/" in done.stderr
