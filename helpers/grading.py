"""Grading the course's exercises with nbgrader: ``make grade``, ``make check`` and ``make bundle``.

* ``python -m helpers.grading grade [--assignment A] [--student S] [--workers N]`` (instructor):
  autogrades every submission ``submitted/<student>/<assignment>/<notebook>.ipynb``, one worker per
  core, each worker taking students from a shared queue into its shard, a scratch course with its own
  SQLite gradebook; the shards are then merged into the course gradebook (``CourseDirectory.db_url``:
  SQLite by default, PostgreSQL when the config says so). Then it writes ``grades.csv``, HTML
  feedback in ``feedback/<student>/<assignment>/`` (hidden tests removed) and ``grades-summary.png``.
* ``python -m helpers.grading check exNN`` (self-learner): grades ``work/exNN_*/`` against the hidden
  tests in a scratch course, prints the score per task and the path of the feedback page.
* ``python -m helpers.grading bundle`` (instructor): the student archive, without solutions/.

A submission that breaks nbgrader (a dead kernel, a notebook that is not JSON, no notebook at all)
scores 0 and is named in the ``problem`` column of grades.csv; the other students are never affected.
"""

from __future__ import annotations

import argparse
import csv
import html
import json
import os
import queue
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
import threading
import time
import warnings
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path
from typing import Any, Callable, Iterable

from nbconvert.preprocessors import Preprocessor
from traitlets import Bool

BIN = Path(sys.executable).parent
THREAD_VARIABLES = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS", "NUMEXPR_NUM_THREADS")
RETRYABLE = ("Address already in use", "Kernel didn't respond", "Kernel died before replying")
SHADOWING = {"helpers", "numpy", "torch", "nbgrader", "IPython", "matplotlib", "sklearn", "scipy"}
# Scratch-course layout (the same for every shard, whatever the course's own config says).
SHARD_DIRS = {"source_directory": "source", "release_directory": "release", "submitted_directory": "submitted",
              "autograded_directory": "autograded", "feedback_directory": "feedback"}


# --- the course: nbgrader config and directories ------------------------------------------------

def load_config(root: Path) -> Any:
    """The nbgrader config a command run in ``root`` would read (Jupyter's config paths, then root)."""
    from jupyter_core.paths import jupyter_config_path
    from traitlets.config import Config
    from traitlets.config.loader import PyFileConfigLoader

    config = Config()
    for folder in [*reversed(jupyter_config_path()), str(root)]:
        if (Path(folder) / "nbgrader_config.py").is_file():
            config.merge(PyFileConfigLoader("nbgrader_config.py", path=folder).load_config())
    return config


def course_directory(root: Path, config: Any, **overrides: str) -> Any:
    """nbgrader's CourseDirectory for ``root`` with ``config`` and some traits overridden."""
    from nbgrader.coursedir import CourseDirectory
    from traitlets.config import Config

    settings = Config()
    settings.CourseDirectory.root = str(root)
    for name, value in overrides.items():
        settings.CourseDirectory[name] = value
    merged = Config(config)
    merged.merge(settings)
    return CourseDirectory(config=merged)


def nbgrader_api(root: Path, config: Any, **overrides: str) -> Any:
    """An in-process NbGraderAPI on the course at ``root`` (one start-up for many commands)."""
    from nbgrader.apps import NbGraderAPI

    return NbGraderAPI(coursedir=course_directory(root, config, **overrides), config=config)


def source_root(root: Path, config: Any) -> Path:
    """The folder of the assignments' sources (``solutions/`` in this course)."""
    return Path(root) / course_directory(root, config).source_directory


def assignments_in(source: Path, wanted: str | None = None) -> list[str]:
    """Assignment names with a source folder holding a notebook; ``wanted`` picks one (or a prefix: ex01)."""
    names = sorted(p.name for p in source.glob("*") if p.is_dir() and any(p.glob("*.ipynb")))
    if wanted is None:
        return names
    return [n for n in names if n == wanted] or [n for n in names if n.split("_")[0] == wanted]


def submissions_in(submitted: Path, assignments: list[str], student: str | None = None) -> list[tuple[str, str]]:
    """(assignment, student) pairs that have a submission folder, sorted."""
    pairs = [(a, s.name) for s in sorted(submitted.glob("*")) if s.is_dir()
             for a in assignments if (s / a).is_dir()]
    return [p for p in pairs if student in (None, p[1])]


# --- the worker: one shard of students graded in a scratch course ----------------------------

def shard_api(shard: Path, course_root: Path, sandboxed: dict[str, Any] | None = None) -> Any:
    """NbGraderAPI on a shard folder: the course's config, the shard's own SQLite gradebook;
    ``sandboxed`` (from ``sandbox_kernel``) runs every kernel in the grading sandbox."""
    from traitlets.config import Config

    config = feedback_config(load_config(course_root))
    if sandboxed:
        config = Config(config)
        config.merge(Config(sandboxed["config"]))
        os.environ["JUPYTER_PATH"] = os.pathsep.join(filter(None, [sandboxed["jupyter_path"],
                                                                    os.environ.get("JUPYTER_PATH")]))
    return nbgrader_api(shard, config, db_url=f"sqlite:///{shard / 'gradebook.db'}", **SHARD_DIRS)


# --- the grading sandbox (helpers/sandbox.py) ------------------------------------------------------

def require_sandbox(unsafe: bool) -> None:
    """Stop with what to install when the sandbox cannot run, unless the instructor chose to grade unsafely."""
    from helpers import sandbox

    if unsafe:
        print("WARNING: grading WITHOUT the sandbox: student code runs with your rights "
              "(it can read solutions/, the gradebook and other students' work)", file=sys.stderr)
        return
    why = sandbox.unavailable()
    if why:
        raise SystemExit(f"cannot sandbox student code: {why}.\n{sandbox.UNSAFE_HINT}.")


def largest_code_cell_count(source: Path, assignments: list[str]) -> int:
    """The most code cells of any source notebook of these assignments (bounds the kernel's CPU time)."""
    counts = [sum(c.get("cell_type") == "code" for c in _cells(nb))
              for a in assignments for nb in (source / a).glob("*.ipynb")]
    return max(counts, default=1)


def sandbox_kernel(folder: Path, course_root: Path, config: Any, source: Path, assignments: list[str],
                   slot: int = 0) -> dict[str, Any]:
    """Write the sandbox kernelspec into ``folder``; what ``shard_api`` needs to use it (JSON-able)."""
    from helpers import sandbox

    timeout = config.Execute.get("timeout", 30) if "Execute" in config else 30
    limits = sandbox.limits_from(config, float(timeout or 30), largest_code_cell_count(source, assignments))
    hide = [course_root, source.resolve(), folder.parent]
    settings = sandbox.kernelspec(folder / "jupyter", limits, hide, folder / "ipc", slot)
    return {"config": settings, "jupyter_path": str(folder / "jupyter")}


class SafeFeedback(Preprocessor):
    """Feedback pages: an error in a cell holding hidden tests keeps only its last line, and long
    printed output is cut to ``max_chars`` characters per output.

    A visible assert that fails *before* the hidden block's ``%xmode Minimal`` gets IPython's
    verbose traceback, which prints the cell's lines around it, hidden tests included. nbgrader's
    own LimitOutput counts lines, so one huge line would otherwise reach the page whole.
    """

    enabled = Bool(True)
    max_chars = 100_000

    def preprocess_cell(self, cell: Any, resources: Any, index: int) -> tuple[Any, Any]:
        hidden = cell.cell_type == "code" and "BEGIN HIDDEN TESTS" in cell.source
        for output in cell.get("outputs", []):
            if hidden and output.output_type == "error":
                output.traceback = [f"{output.ename}: {output.evalue}"]
            if output.output_type == "stream" and len(output.text) > self.max_chars:
                output.text = output.text[:self.max_chars] + "\n... output cut for the feedback page ..."
        return cell, resources


def feedback_config(config: Any) -> Any:
    """The config with SafeFeedback run before nbgrader's ClearHiddenTests in feedback."""
    from traitlets.config import Config

    steps = list(config.GenerateFeedback.get("preprocessors", []))
    name = "helpers.grading.SafeFeedback"
    if steps and name not in steps:
        clear = "nbgrader.preprocessors.ClearHiddenTests"
        steps.insert(steps.index(clear) if clear in steps else 0, name)
        config = Config(config)
        config.GenerateFeedback.preprocessors = steps
    return config


def grade_one(api: Any, assignment: str, student: str) -> dict[str, Any]:
    """Autograde one submission and write its feedback; retried once when the kernel failed to start."""
    start = time.perf_counter()
    for _ in range(2):
        result = api.autograde(assignment, student)
        text = f"{result.get('log', '')}\n{result.get('error', '')}"
        if result["success"] or not any(marker in text for marker in RETRYABLE):
            break
    feedback = api.generate_feedback(assignment, student) if result["success"] else {"success": False}
    return {"assignment": assignment, "student": student, "ok": bool(result["success"]),
            "feedback": bool(feedback["success"]), "seconds": time.perf_counter() - start,
            "log": text[-4000:]}


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


def run_shard(shard: Path) -> None:
    """Worker entry point: grade each ``[assignment, student]`` line read from stdin; print one JSON line each."""
    job = json.loads((shard / "job.json").read_text())
    api = shard_api(shard, Path(job["course_root"]), job.get("sandbox"))
    register(api, job["assignments"], "the shard's gradebook")
    set_due_dates(shard, job["due_dates"])
    for line in sys.stdin:
        assignment, student = json.loads(line)
        links = symbolic_links(shard / "submitted" / student / assignment)
        outcome = refused(assignment, student, links) if links else grade_one(api, assignment, student)
        print(json.dumps({"event": "done", **outcome}), flush=True)


LINKS_REFUSED = "holds symbolic links (nbgrader would copy what they point to): not graded, check by hand"


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


# --- the coordinator: shards, workers, progress ---------------------------------------------

@dataclass
class Outcome:
    """What grading one submission gave: ``ok`` False when nbgrader (or its worker) failed on it."""

    assignment: str
    student: str
    ok: bool
    seconds: float = 0.0
    feedback: bool = False
    log: str = ""
    problem: str = ""


def worker_env() -> dict[str, str]:
    """One BLAS/torch thread per worker and kernel; the venv's bin/ first (nbgrader runs alembic)."""
    env = dict(os.environ, PATH=f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}", PYTHONWARNINGS="ignore")
    env.update({name: "1" for name in THREAD_VARIABLES})
    return env


def prepare_shard(shard: Path, course_root: Path, source: Path, assignments: list[str],
                  dates: dict[str, str], sandboxed: bool = True, slot: int = 0) -> None:
    """A scratch course for one worker: a link to the sources; students are linked in as it takes them.
    ``sandboxed``: its kernels run in the grading sandbox (kernelspec in the shard), as worker ``slot``."""
    (shard / "submitted").mkdir(parents=True)
    (shard / "source").symlink_to(source.resolve(), target_is_directory=True)
    box = sandbox_kernel(shard, course_root, load_config(course_root), source, assignments, slot) if sandboxed else None
    (shard / "job.json").write_text(json.dumps({"course_root": str(course_root), "assignments": assignments,
                                                "due_dates": dates, "sandbox": box}))


def _pump(stream: Any, lines: queue.Queue) -> None:
    for line in stream:
        lines.put(line)
    lines.put(None)


class Worker:
    """A grading process on one shard folder, fed one submission at a time; restarted if it dies."""

    def __init__(self, shard: Path, command: list[str] | None = None) -> None:
        self.shard = shard
        self.command = command or [sys.executable, "-m", "helpers.grading", "shard", str(shard)]
        self.process: subprocess.Popen[str] | None = None
        self.lines: queue.Queue[str | None] = queue.Queue()

    def start(self) -> None:
        with open(self.shard / "worker.log", "a") as log:
            self.process = subprocess.Popen(self.command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=log,
                                            text=True, env=worker_env(), cwd=str(Path(__file__).resolve().parents[1]))
        self.lines = queue.Queue()
        threading.Thread(target=_pump, args=(self.process.stdout, self.lines), daemon=True).start()

    def grade(self, pair: tuple[str, str], timeout: float) -> Outcome:
        """Grade one submission; a worker that dies or stays silent for ``timeout`` s costs only this one."""
        if self.process is None:
            self.start()
        try:
            self.process.stdin.write(json.dumps(pair) + "\n")
            self.process.stdin.flush()
        except OSError:
            pass  # it died already: the reader says so below
        while True:
            try:
                line = self.lines.get(timeout=timeout)
            except queue.Empty:
                return self.lost(pair, f"no result after {timeout:.0f} s: the grader was stopped")
            if line is None:
                return self.lost(pair, f"the grading process died (exit code {self.process.wait()})")
            if line.startswith("{"):
                event = json.loads(line)
                return Outcome(**{k: event[k] for k in ("assignment", "student", "ok", "seconds", "feedback", "log")})

    def lost(self, pair: tuple[str, str], why: str) -> Outcome:
        """Stop the process (the next submission starts a fresh one) and report this submission failed."""
        self.process.kill()
        self.process.wait()
        self.process = None
        return Outcome(*pair, ok=False, problem=f"grading failed: {why}")

    def close(self) -> None:
        if self.process is not None:
            self.process.stdin.close()
            self.process.wait()


def grade_shard(worker: Worker, jobs: queue.Queue, timeout: float, report: Callable[[Outcome], None]) -> list:
    """Take students from ``jobs`` (student, folder, pairs) until none is left; the pairs graded here."""
    graded = []
    while True:
        try:
            student, folder, pairs = jobs.get_nowait()
        except queue.Empty:
            break
        link = worker.shard / "submitted" / student
        if not link.exists():
            link.symlink_to(Path(folder).resolve(), target_is_directory=True)
        for pair in pairs:
            report(worker.grade(tuple(pair), timeout))
            graded.append(tuple(pair))
    worker.close()
    return graded


def student_jobs(pairs: list[tuple[str, str]], submitted: Path) -> queue.Queue:
    """A queue of (student, their submissions folder, their pairs), students in name order."""
    jobs: queue.Queue = queue.Queue()
    for student in sorted({s for _, s in pairs}):
        jobs.put((student, str(submitted / student), [p for p in pairs if p[1] == student]))
    return jobs


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


# --- merging a shard into the course ---------------------------------------------------------

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
            dst.find_comment(comment.name, notebook.name, assignment, student).auto_comment = comment.auto_comment
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
    with Gradebook(f"sqlite:///{shard / 'gradebook.db'}") as src, Gradebook(course.db_url, course.course_id) as dst:
        for assignment, student in pairs:
            copy_submission(src, dst, assignment, student)
    for assignment, student in pairs:
        for kind in ("autograded", "feedback"):
            replace_tree(shard / kind / student / assignment,
                         root / getattr(course, f"{kind}_directory") / student / assignment)


# --- what went wrong with a submission --------------------------------------------------------

def explain_failure(log: str) -> str:
    """A short reason from nbgrader's log of a failed autograde."""
    reasons = [(LINKS_REFUSED, LINKS_REFUSED),
               ("Kernel died", "the kernel died (os._exit, a crash or out of memory): nothing graded"),
               ("NotJSONError", "the notebook is not valid JSON"),
               ("No notebooks found", "the expected notebook is missing"),
               ("No notebooks were matched", "no notebook was submitted"),
               ("unresponsive", "the kernel became unresponsive")]
    return next((text for marker, text in reasons if marker in log), "nbgrader failed on this submission")


def inspect_submission(folder: Path, expected: list[str]) -> list[str]:
    """Remarks on a submission folder: missing notebooks, extra notebooks, modules that shadow imports."""
    present = {p.name for p in folder.iterdir()} if folder.is_dir() else set()
    notes = [f"missing {name}" for name in expected if name not in present]
    extra = sorted(p for p in present if p.endswith(".ipynb") and p not in expected)
    notes += [f"ignored extra notebook {name}" for name in extra]
    shadows = sorted(p for p in present if Path(p).stem in SHADOWING and (p.endswith(".py") or (folder / p).is_dir()))
    notes += [f"ships {name}, which shadows a course import: check by hand" for name in shadows]
    return notes


def problem_of(outcome: Outcome | None, folder: Path, expected: list[str]) -> str:
    """The ``problem`` column of grades.csv for one submission ('' when all went well)."""
    notes = inspect_submission(folder, expected)
    if outcome is not None and not outcome.ok:
        notes.insert(0, outcome.problem or f"grading failed: {explain_failure(outcome.log)}")
    if outcome is not None and outcome.ok and not outcome.feedback:
        notes.append("no feedback page was written")
    return "; ".join(notes)


# --- hidden tests must never reach feedback -----------------------------------------------------

class _Text(HTMLParser):
    """The visible text of an HTML page (scripts and styles left out)."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._skip = 0

    def handle_starttag(self, tag: str, attrs: Any) -> None:
        if tag in ("script", "style"):
            self._skip += 1

    def handle_endtag(self, tag: str) -> None:
        if tag in ("script", "style") and self._skip:
            self._skip -= 1

    def handle_data(self, data: str) -> None:
        if not self._skip:
            self.parts.append(data)


def html_text(path: Path) -> str:
    """Text of an HTML file as a reader sees it (tags dropped, entities decoded)."""
    parser = _Text()
    parser.feed(path.read_text(errors="replace"))
    return html.unescape("".join(parser.parts))


def _cells(notebook: Path) -> list[dict[str, Any]]:
    try:
        return json.loads(notebook.read_text())["cells"]
    except (OSError, ValueError, KeyError, TypeError):
        return []


def _text(cell: dict[str, Any]) -> str:
    return cell["source"] if isinstance(cell["source"], str) else "".join(cell["source"])


def marked_blocks(notebook: Path, begin: str, end: str) -> list[str]:
    """Text between ``### BEGIN <begin>`` and ``### END <end>`` lines in a notebook's cells."""
    pattern = re.compile(rf"^[ \t]*### BEGIN {begin}[^\n]*\n(.*?)^[ \t]*### END {end}", re.M | re.S)
    return [m.group(1) for cell in _cells(notebook) for m in pattern.finditer(_text(cell))]


def hidden_lines(notebook: Path, minimum: int = 16) -> set[str]:
    """Distinctive lines of a source notebook's hidden tests (stripped, at least ``minimum`` characters)."""
    lines = {line.strip() for block in marked_blocks(notebook, "HIDDEN TESTS", "HIDDEN TESTS")
             for line in block.splitlines()}
    return {line for line in lines if len(line) >= minimum}


def leaked_lines(feedback: Path, source_notebook: Path, submitted_notebook: Path) -> list[str]:
    """Hidden-test lines visible in a feedback page (lines the student wrote themselves excepted)."""
    own = {line.strip() for cell in _cells(submitted_notebook) for line in _text(cell).splitlines()}
    shown = html_text(feedback)
    return sorted(line for line in hidden_lines(source_notebook) - own if line in shown)


def withhold_leaking_feedback(root: Path, course: Any, pair: tuple[str, str]) -> str:
    """Delete a feedback page that shows hidden-test lines; the remark for grades.csv ('' if none)."""
    assignment, student = pair
    folder = root / course.feedback_directory / student / assignment
    for page in sorted(folder.glob("*.html")):
        source = root / course.source_directory / assignment / f"{page.stem}.ipynb"
        submitted = root / course.submitted_directory / student / assignment / f"{page.stem}.ipynb"
        if leaked_lines(page, source, submitted):
            page.unlink()
            return f"feedback {page.name} withheld: it showed hidden test lines"
    return ""


# --- reports: grades.csv and the summary figure -------------------------------------------------

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
    fig, (left, right) = new_figure(2, 1, width=max(4.5, 0.9 * max(len(assignments), len(tasks)) + 2), height=3.6)
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
                        [a if t is None else f"{a.split('_')[0]}/{t}" for a, t in groups], rotation=30, ha="right")
        axis.set(ylim=(-0.05, 1.13), ylabel="fraction of the points (triangle: mean)", title=title)
    return fig


# --- make grade ------------------------------------------------------------------------------

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


def grade(root: Path, assignment: str | None = None, student: str | None = None, workers: int | None = None,
          timeout_per_submission: float = 1800.0, report_only: bool = False, unsafe: bool = False) -> list[Row]:
    """``make grade``: autograde, merge into the course gradebook, write grades.csv, feedback, the figure.
    Student kernels run in the sandbox (helpers/sandbox.py) unless ``unsafe``."""
    root = Path(root).resolve()
    config = load_config(root)
    course = course_directory(root, config)
    assignments = assignments_in(source_root(root, config), assignment)
    if not assignments:
        raise SystemExit(f"no assignment {assignment or ''} in {course.source_directory}/")
    pairs = submissions_in(root / course.submitted_directory, assignments, student)
    if not pairs:
        raise SystemExit(f"no submissions in {course.submitted_directory}/<student>/<assignment>/ to grade")
    if report_only:
        return write_reports(root, config, course, pairs, {})
    require_sandbox(unsafe)
    count = min(workers or os.cpu_count() or 1, len({s for _, s in pairs}))
    print(f"grading {len(pairs)} submissions of {len(assignments)} assignment(s) with {count} worker(s)")
    outcomes: dict[tuple[str, str], Outcome] = {}
    printer = progress_printer(len(pairs))

    def report(outcome: Outcome) -> None:
        outcomes[(outcome.assignment, outcome.student)] = outcome
        printer(outcome)

    run_workers(root, config, course, assignments, pairs, count, timeout_per_submission, report, not unsafe)
    return write_reports(root, config, course, pairs, outcomes)


def run_workers(root: Path, config: Any, course: Any, assignments: list[str], pairs: list[tuple[str, str]],
                count: int, timeout: float, report: Callable[[Outcome], None], sandboxed: bool = True) -> None:
    """Grade ``pairs`` with ``count`` workers in scratch shards, then merge the shards into the course."""
    jobs = student_jobs(pairs, Path(root) / course.submitted_directory)
    with tempfile.TemporaryDirectory(prefix="grading-") as scratch_name:
        scratch, dates = Path(scratch_name), due_dates(course)
        workers = [Worker(scratch / f"shard{k}") for k in range(count)]
        for slot, worker in enumerate(workers):
            prepare_shard(worker.shard, root, source_root(root, config), assignments, dates, sandboxed, slot)
        graded: dict[Path, list] = {}

        def work(worker: Worker) -> None:
            graded[worker.shard] = grade_shard(worker, jobs, timeout, report)
        threads = [threading.Thread(target=work, args=(worker,)) for worker in workers]
        for thread in threads:
            thread.start()
        register_in_course(root, config, assignments, scratch)  # meanwhile, as `make release` would
        for thread in threads:
            thread.join()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # SQLAlchemy's autoflush notes while nbgrader adds submissions
            for shard, part in graded.items():
                if part:
                    merge_shard(shard, course, part)


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
        remarks = [problem_of(outcomes.get(pair), folder, expected), withhold_leaking_feedback(root, course, pair)]
        row.problem = "; ".join(r for r in remarks if r)
    write_csv(list(rows.values()), root / "grades.csv")
    summary_figure(list(rows.values())).savefig(root / "grades-summary.png", dpi=110)
    failed = sum(not o.ok for o in outcomes.values())
    print(f"wrote grades.csv ({len(rows)} rows), grades-summary.png and {course.feedback_directory}/"
          + (f"; {failed} submission(s) could not be graded: see the problem column" if failed else ""))
    return list(rows.values())


# --- make check (self-learners) -----------------------------------------------------------------

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
        print(f"no single exercise set matches {exercise!r}; choose from {assignments_in(source)}", file=sys.stderr)
        return 2
    assignment, work = matches[0], Path(work or root / "work")
    if not (work / assignment).is_dir():
        print(f"no {work / assignment}/: run `make lab` first, which copies the exercises to work/", file=sys.stderr)
        return 2
    require_sandbox(unsafe)
    with tempfile.TemporaryDirectory(prefix="check-") as scratch_name:
        scratch = Path(scratch_name)
        (scratch / "source").symlink_to(source, target_is_directory=True)
        shutil.copytree(work / assignment, scratch / "submitted" / "learner" / assignment,
                        ignore=shutil.ignore_patterns(".ipynb_checkpoints", "feedback"))
        box = None if unsafe else sandbox_kernel(scratch, root, config, source, [assignment])
        api = shard_api(scratch, root, box)
        for step in (lambda: api.generate_assignment(assignment), lambda: api.autograde(assignment, "learner"),
                     lambda: api.generate_feedback(assignment, "learner")):
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


def print_scores(scratch: Path, assignment: str) -> None:
    """The learner's score per task from the scratch gradebook."""
    from nbgrader.api import Gradebook

    with Gradebook(f"sqlite:///{scratch / 'gradebook.db'}") as gradebook:
        submission = gradebook.find_submission(assignment, "learner")
        print(f"{assignment}: autograded tasks")
        auto = [g for nb in submission.notebooks for g in nb.grades if g.cell.cell_type == "code"]
        for g in auto:
            print(f"  {g.name:40s} {g.score or 0:g} / {g.max_score:g}" + ("  (test cell missing)" if g.auto_score is None else ""))
        written = [g for nb in submission.notebooks for g in nb.grades if g.cell.cell_type != "code"]
        print(f"  {'total':40s} {sum(g.score or 0 for g in auto):g} / {sum(g.max_score for g in auto):g}")
        if written:
            print(f"  written answers ({sum(g.max_score for g in written):g} points) are graded by a person")


def keep_feedback(folder: Path, target: Path) -> list[Path]:
    """Copy the feedback pages to ``target`` (replacing older ones); their paths."""
    target.mkdir(parents=True, exist_ok=True)
    return [Path(shutil.copy(page, target / page.name)) for page in sorted(folder.glob("*.html"))]


# --- make bundle -------------------------------------------------------------------------------

BUNDLE_ITEMS = ("README.md", "LICENSE", "environment.yml", "pyproject.toml", "Makefile", "nbgrader_config.py",
                "chapters", "exercises", "helpers")
BUNDLE_SKIP = ("__pycache__", ".ipynb_checkpoints", ".pyc", ".egg-info")


def bundle_files(root: Path) -> list[Path]:
    """What students get: the items above that exist, without caches (never solutions/ or tests/)."""
    files = []
    for item in BUNDLE_ITEMS:
        path = root / item
        candidates = [path] if path.is_file() else sorted(p for p in path.rglob("*") if p.is_file())
        files += [p for p in candidates if not any(s in part for part in p.relative_to(root).parts for s in BUNDLE_SKIP)]
    return files


def bundle(root: Path, out: Path | None = None) -> Path:
    """``make bundle``: dist/multimodal-course-student.tar.gz, everything under multimodal-course/."""
    root = Path(root).resolve()
    out = Path(out or root / "dist" / "multimodal-course-student.tar.gz")
    out.parent.mkdir(parents=True, exist_ok=True)
    files = bundle_files(root)
    with tarfile.open(out, "w:gz", dereference=True) as archive:
        for path in files:
            archive.add(path, arcname=f"multimodal-course/{path.relative_to(root)}", recursive=False)
    print(f"wrote {out} ({len(files)} files, {out.stat().st_size / 1e6:.1f} MB)")
    return out


# --- command line --------------------------------------------------------------------------------

def main(argv: list[str] | None = None) -> int:
    """``python -m helpers.grading {grade,check,bundle} ...``."""
    parser = argparse.ArgumentParser(prog="python -m helpers.grading", description=__doc__.split("\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    grading = commands.add_parser("grade", help="autograde submitted/, write grades.csv, feedback and a figure")
    grading.add_argument("--assignment", default=None, help="grade only this assignment (e.g. ex01_principles)")
    grading.add_argument("--student", default=None, help="grade only this student")
    grading.add_argument("--workers", type=int, default=None, help="parallel workers (default: one per core)")
    grading.add_argument("--report-only", action="store_true",
                         help="grade nothing: rewrite grades.csv and the figure from the gradebook")
    checking = commands.add_parser("check", help="grade your own work/exNN_*/ against the hidden tests")
    checking.add_argument("exercise", help="exercise set, e.g. ex01 or ex01_principles")
    checking.add_argument("--work", default=None, help="your working folder (default: work/)")
    for sub in (grading, checking):
        sub.add_argument("--unsafe-no-sandbox", action="store_true",
                         help="run student code WITHOUT the sandbox, with your rights (only for code you trust)")
    bundling = commands.add_parser("bundle", help="write the student archive (no solutions, no hidden tests)")
    bundling.add_argument("--out", default=None, help="archive path (default: dist/multimodal-course-student.tar.gz)")
    shard = commands.add_parser("shard", help=argparse.SUPPRESS)
    shard.add_argument("folder")
    for sub in (grading, checking, bundling):
        sub.add_argument("--root", default=".", help="the course folder (default: here)")
    args = parser.parse_args(argv)
    os.environ.update(worker_env())  # nbgrader runs alembic from PATH; kernels inherit one thread each
    warnings.simplefilter("ignore")  # SQLAlchemy's notes while nbgrader creates submissions
    if args.command == "shard":
        run_shard(Path(args.folder))
    elif args.command == "grade":
        grade(Path(args.root), args.assignment, args.student, args.workers, report_only=args.report_only,
              unsafe=args.unsafe_no_sandbox)
    elif args.command == "check":
        return check(args.exercise, Path(args.root), args.work and Path(args.work), args.unsafe_no_sandbox)
    else:
        bundle(Path(args.root), args.out and Path(args.out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
