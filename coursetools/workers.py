"""Grading workers: each grades submissions one at a time in its shard, a scratch course with its own
SQLite gradebook (a copy of the one the run registered its assignments in once), and reports one JSON line
per submission; a worker that dies costs one submission. The canaries are their first jobs."""

from __future__ import annotations

import json
import os
import queue
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from coursetools import sandbox
from coursetools.canary import CANARY, NAME_TAKEN
from coursetools.collect import Job, JobQueue, refused, symbolic_links
from coursetools.course import largest_code_cell_count, load_config, nbgrader_api
from coursetools.feedback import feedback_config
from coursetools.judge import judged_config
from coursetools.merge import register, set_due_dates

BIN = Path(sys.executable).parent
REPO = Path(__file__).resolve().parents[1]
OUTCOME_FIELDS = ("assignment", "student", "ok", "seconds", "feedback", "log")
THREAD_VARIABLES = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS", "NUMEXPR_NUM_THREADS")
RETRYABLE = ("Address already in use", "Kernel didn't respond", "Kernel died before replying")
RECORDED = "recorded"  # the shard's folder where its canaries record their observations
SHARD_DIRS = {"source_directory": "source", "release_directory": "release",
              "submitted_directory": "submitted", "autograded_directory": "autograded",
              "feedback_directory": "feedback"}


def worker_env() -> dict[str, str]:
    """One BLAS/torch thread per worker and kernel; the venv's bin/ first (nbgrader runs alembic)."""
    env = dict(os.environ, PATH=f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}", PYTHONWARNINGS="ignore")
    env.update({name: "1" for name in THREAD_VARIABLES})
    return env


def shard_api(shard: Path, course_root: Path, box: dict[str, Any] | None = None,
              judging: dict[str, str] | None = None) -> Any:
    """NbGraderAPI on a shard folder: the course's config, the shard's own SQLite gradebook.
    ``box`` (from ``sandbox_kernel``) runs every kernel in the grading sandbox; ``judging`` (paths of the
    run's ``plan``, the ``reference`` observations, or where the canary should ``record`` them) has the
    judge decide every judged test (coursetools/judge.py)."""
    from traitlets.config import Config

    config = Config(feedback_config(load_config(course_root)))
    if box:
        config.merge(Config(box["config"]))
        os.environ["JUPYTER_PATH"] = os.pathsep.join(filter(None, [box["jupyter_path"],
                                                                    os.environ.get("JUPYTER_PATH")]))
    if judging:
        config.merge(Config(judged_config(**judging)))
    return nbgrader_api(shard, config, db_url=f"sqlite:///{shard / 'gradebook.db'}", **SHARD_DIRS)


def sandbox_kernel(folder: Path, course_root: Path, config: Any, source: Path, assignments: list[str],
                   use_cgroups: bool = True) -> dict[str, Any]:
    """Write the sandbox kernelspec into ``folder``; what ``shard_api`` needs to use it (JSON-able)."""
    timeout = config.Execute.get("timeout", 30) if "Execute" in config else 30
    limits = sandbox.limits_from(config, float(timeout or 30), largest_code_cell_count(source, assignments))
    hide = [course_root, source.resolve(), folder.parent]
    return sandbox.kernelspec(folder / "jupyter", limits, hide, folder / "ipc", use_cgroups)


def grade_one(api: Any, assignment: str, student: str, box: dict[str, Any] | None = None) -> dict[str, Any]:
    """Autograde one submission (its kernels isolated from every other student's) and write its feedback;
    retried once when the kernel failed to start."""
    start = time.perf_counter()
    for _ in range(2):
        with sandbox.isolated_student(box):
            result = api.autograde(assignment, student)
        text = f"{result.get('log', '')}\n{result.get('error', '')}"
        if result["success"] or not any(marker in text for marker in RETRYABLE):
            break
    feedback = api.generate_feedback(assignment, student) if result["success"] else {"success": False}
    return {"assignment": assignment, "student": student, "ok": bool(result["success"]),
            "feedback": bool(feedback["success"]), "seconds": time.perf_counter() - start,
            "log": text[-4000:]}


def run_shard(shard: Path) -> None:
    """Worker entry point: grade each ``[assignment, student, canary]`` line read from stdin, one JSON line
    each. ``canary`` (true only for the jobs the grader made of the reference solutions) records the
    observations the students are judged against; a student's submission is judged against them."""
    protocol = os.fdopen(os.dup(1), "w")  # not inherited: no kernel can write (or hold) the grader's pipe
    os.dup2(2, 1)  # what the kernels get as their standard output: the worker's log
    job = json.loads((shard / "job.json").read_text())
    root, box = Path(job["course_root"]), job["sandbox"]
    apis = {canary: shard_api(shard, root, box, job[key]) for canary, key in ((False, "judging"),
                                                                            (True, "recording"))}
    with sandbox.warm_kernels(box):
        for line in sys.stdin:
            assignment, student, canary = json.loads(line)
            links = symbolic_links(shard / "submitted" / student / assignment)
            outcome = refused(assignment, student, links) if links else grade_one(apis[canary], assignment,
                                                                                  student, box)
            print(json.dumps({"event": "done", **outcome}), file=protocol, flush=True)


def scratch_course(folder: Path, source: Path) -> None:
    """A scratch course folder: a link to the sources, an empty submitted/."""
    (folder / "submitted").mkdir(parents=True)
    (folder / "source").symlink_to(source.resolve(), target_is_directory=True)


def shard_gradebook(folder: Path, course_root: Path, source: Path, assignments: list[str],
                    dates: dict[str, str]) -> Path:
    """The gradebook every shard of a run starts from (a copy each), made once in the scratch course
    ``folder``: the assignments registered, the course's due dates set (late penalties as the course's)."""
    scratch_course(folder, source)
    register(shard_api(folder, course_root), assignments, "the shards' gradebook")
    set_due_dates(folder, dates)
    return folder / "gradebook.db"


def prepare_shard(shard: Path, course_root: Path, source: Path, assignments: list[str],
                  sandboxed: bool = True, use_cgroups: bool = True,
                  judging: dict[str, Any] | None = None) -> None:
    """A scratch course for one worker: a link to the sources; students are linked in as it takes them,
    its gradebook is copied in before its first job. ``sandboxed``: its kernels run in the grading sandbox
    (kernelspec in the shard), each student's in a cgroup of their own unless not ``use_cgroups``;
    ``judging``: as for ``shard_api``, for the students (the canaries record in the shard's RECORDED)."""
    scratch_course(shard, source)
    config = load_config(course_root)
    box = sandbox_kernel(shard, course_root, config, source, assignments, use_cgroups) if sandboxed else None
    recording = judging and {"plan": judging["plan"], "record": str(shard / RECORDED)}
    (shard / "job.json").write_text(json.dumps({"course_root": str(course_root), "sandbox": box,
                                                "judging": judging, "recording": recording}))


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


def _pump(stream: Any, lines: queue.Queue) -> None:
    for line in stream:
        lines.put(line)
    lines.put(None)


class Worker:
    """A grading process on one shard folder, fed one submission at a time; restarted if it dies, until
    grading is called off (``stop``, from any thread)."""

    def __init__(self, shard: Path, command: list[str] | None = None) -> None:
        self.shard = shard
        self.command = command or [sys.executable, "-m", "coursetools", "shard", str(shard)]
        self.process: subprocess.Popen[str] | None = None
        self.lines: queue.Queue[str | None] = queue.Queue()
        self.stopped = False
        self.lock = threading.Lock()

    def start(self) -> None:
        """Start the process (none once grading was called off)."""
        with self.lock:
            if self.stopped:
                return
            with open(self.shard / "worker.log", "a") as log:
                self.process = subprocess.Popen(self.command, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                                stderr=log, text=True, env=worker_env(), cwd=str(REPO))
            self.lines = queue.Queue()
            threading.Thread(target=_pump, args=(self.process.stdout, self.lines), daemon=True).start()

    def grade(self, pair: tuple[str, str], timeout: float, canary: bool = False) -> Outcome:
        """Grade one submission (``canary``: a reference solution, see ``run_shard``); a worker that dies or
        stays silent for ``timeout`` s costs only this one."""
        if self.process is None:
            self.start()
        if self.stopped:
            return Outcome(*pair, ok=False, problem="grading was called off")
        try:
            self.process.stdin.write(json.dumps([*pair, canary]) + "\n")
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
                return Outcome(**{k: event[k] for k in OUTCOME_FIELDS})

    def lost(self, pair: tuple[str, str], why: str) -> Outcome:
        """Stop the process (the next submission starts a fresh one) and report this submission failed."""
        self.process.kill()
        self.process.wait()
        self.process = None
        return Outcome(*pair, ok=False, problem=f"grading failed: {why}")

    def close(self) -> None:
        """Let the process finish (no more submissions) and wait for it."""
        if self.process is not None:
            self.process.stdin.close()
            self.process.wait()

    def stop(self) -> None:
        """End the process now and start no other (grading was called off)."""
        with self.lock:
            self.stopped, process = True, self.process
            if process is not None:
                process.kill()
                process.wait()


def grade_shard(worker: Worker, jobs: JobQueue, timeout: float, report: Callable[[Outcome], None],
                canary_graded: Callable[[Worker, Outcome], None] | None = None) -> list:
    """Take jobs from ``jobs`` until none is left or grading is called off: a student's outcomes go to
    ``report``, a canary's to ``canary_graded``; the students' pairs graded here."""
    graded = []
    while not worker.stopped:
        try:
            job: Job = jobs.get_nowait()
        except queue.Empty:
            break
        pair = (job.assignment, job.student)
        if job.student == CANARY and not job.canary:  # it would take the canary's place in the shard
            report(Outcome(*pair, ok=False, problem=NAME_TAKEN))
            continue
        link = worker.shard / "submitted" / job.student
        if not link.exists():
            link.symlink_to(Path(job.folder).resolve(), target_is_directory=True)
        outcome = worker.grade(pair, timeout, job.canary)
        if worker.stopped:
            break
        if job.canary:
            canary_graded(worker, outcome)
        else:
            report(outcome)
            graded.append(pair)
    worker.close()
    return graded
