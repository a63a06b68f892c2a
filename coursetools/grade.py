"""``make grade``: autograde every submission in parallel workers, merge the shards into the course
gradebook, then write grades.csv, feedback pages and the summary figure."""

from __future__ import annotations

import os
import secrets
import shutil
import sys
import tempfile
import threading
import warnings
from pathlib import Path
from typing import Any, Callable

from coursetools import canary, cgroups, sandbox
from coursetools.collect import JobQueue, student_jobs, submissions_in
from coursetools.course import assignments_in, course_directory, load_config, source_root
from coursetools.judge import plan_run, publish, reference_file, write_json
from coursetools.merge import due_dates, merge_shard, register_in_course
from coursetools.reports import Row, progress_printer, write_reports
from coursetools.workers import RECORDED, Outcome, Worker, grade_shard, prepare_shard, shard_gradebook


def grade(root: Path, assignment: str | None = None, student: str | None = None, workers: int | None = None,
          timeout_per_submission: float = 1800.0, report_only: bool = False,
          unsafe: bool = False, seed: int | None = None, unsafe_no_cgroups: bool = False) -> list[Row]:
    """``make grade``: autograde, merge into the course gradebook, write grades.csv, feedback, the figure.
    Student kernels run in the sandbox (coursetools/sandbox.py) unless ``unsafe``; the judge's hidden
    inputs are drawn from ``seed`` (a fresh one each run unless given)."""
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
    sandbox.require_sandbox(unsafe)
    use_cgroups = not unsafe and require_cgroups(unsafe_no_cgroups)
    count = min(workers or os.cpu_count() or 1, len({s for _, s in pairs}))
    seed = secrets.randbits(63) if seed is None else seed
    print(f"grading {len(pairs)} submissions of {len(assignments)} assignment(s) with {count} worker(s); "
          f"hidden inputs drawn with seed {seed} (--seed {seed} draws them again)")
    outcomes: dict[tuple[str, str], Outcome] = {}
    printer = progress_printer(len(pairs))

    def report(outcome: Outcome) -> None:
        outcomes[(outcome.assignment, outcome.student)] = outcome
        printer(outcome)

    run_workers(root, config, course, assignments, pairs, count, timeout_per_submission, report,
                not unsafe, seed, use_cgroups)
    return write_reports(root, config, course, pairs, outcomes)


def run_workers(root: Path, config: Any, course: Any, assignments: list[str], pairs: list[tuple[str, str]],
                count: int, timeout: float, report: Callable[[Outcome], None],
                sandboxed: bool = True, seed: int = 0, use_cgroups: bool = True) -> None:
    """Grade ``pairs`` with ``count`` workers in scratch shards, then merge the shards into the course;
    each assignment's canary is the workers' first job, and nothing is written when one fails."""
    source = source_root(root, config)
    with tempfile.TemporaryDirectory(prefix="grading-") as scratch_name:
        scratch = Path(scratch_name)
        judging = {"plan": str(scratch / "plan.json"), "reference": str(scratch / "reference"),
                   "wait": timeout}
        workers = [Worker(scratch / f"shard{k}") for k in range(count)]
        try:
            for worker in workers:  # they start up while the plan and the shards' gradebook are made
                prepare_shard(worker.shard, root, source, assignments, sandboxed, use_cgroups, judging)
                worker.start()
            planning = threading.Thread(target=lambda: write_json(Path(judging["plan"]),
                                                                  plan_run(source, assignments, seed)))
            planning.start()  # meanwhile nbgrader's gradebook set-up waits on its own subprocess
            gradebook = shard_gradebook(scratch / "template", root, source, assignments, due_dates(course))
            planning.join()
            for worker in workers:
                shutil.copy(gradebook, worker.shard / "gradebook.db")
            jobs = student_jobs(pairs, Path(root) / course.submitted_directory,
                                canary.canary_jobs(source, scratch / "canary", assignments))
            canaries = Canaries(assignments, Path(judging["reference"]), workers, report, jobs)
            graded = grade_in_workers(workers, jobs, timeout, canaries,
                                      lambda: register_in_course(root, config, assignments, scratch))
        except BaseException:
            for worker in workers:
                worker.stop()
            raise
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # SQLAlchemy's autoflush notes while nbgrader adds submissions
            for shard, part in graded.items():
                if part:
                    merge_shard(shard, course, part)


def grade_in_workers(workers: list[Worker], jobs: JobQueue, timeout: float, canaries: Canaries,
                     meanwhile: Callable[[], None]) -> dict[Path, list]:
    """Each worker takes jobs until none is left; ``meanwhile`` runs here once every canary passed. The
    pairs each shard graded; stops the run with the reason when a canary failed."""
    graded: dict[Path, list] = {}

    def work(worker: Worker) -> None:
        graded[worker.shard] = grade_shard(worker, jobs, timeout, canaries.report, canaries.check)
    threads = [threading.Thread(target=work, args=(worker,)) for worker in workers]
    for thread in threads:
        thread.start()
    passed = canaries.passed(threads)
    if passed:
        meanwhile()
    for thread in threads:
        thread.join()
    if not passed:
        raise SystemExit(canaries.problem())
    return graded


class Canaries:
    """The run's canaries (coursetools/canary.py), graded as the workers' first jobs. A canary that passed
    publishes its assignment's reference observations; one that failed stops every worker. The students'
    outcomes are reported once every canary passed (never when one failed)."""

    def __init__(self, assignments: list[str], reference: Path, workers: list[Worker],
                 report: Callable[[Outcome], None], jobs: JobQueue) -> None:
        self.assignments, self.reference, self.workers, self.forward = assignments, reference, workers, report
        self.jobs = jobs
        self.waiting, self.problems, self.held = set(assignments), {}, []
        self.lock, self.settled = threading.Lock(), threading.Event()

    def check(self, worker: Worker, outcome: Outcome) -> None:
        """A canary's outcome in ``worker``'s shard: its reference published, or every worker stopped."""
        self.jobs.took(outcome.assignment, outcome.seconds)
        died = "" if outcome.ok else (worker.shard / "worker.log").read_text()[-3000:]
        problem = canary.verdict(worker.shard, outcome.assignment, "\n".join([outcome.log, outcome.problem,
                                                                              died]))
        if not problem:
            publish(reference_file(worker.shard / RECORDED, outcome.assignment),
                    reference_file(self.reference, outcome.assignment))
        with self.lock:
            self.waiting.discard(outcome.assignment)
            if problem:
                self.problems[outcome.assignment] = problem
                for each in self.workers:
                    each.stop()
            elif not self.waiting:
                for held in self.held:
                    self.forward(held)
            if problem or not self.waiting:
                self.settled.set()

    def report(self, outcome: Outcome) -> None:
        """A student's outcome: reported now if every canary passed, later if some still run."""
        with self.lock:
            if self.waiting:
                self.held.append(outcome)
            elif not self.problems:
                self.forward(outcome)

    def passed(self, threads: list[threading.Thread]) -> bool:
        """Whether every canary passed, once they all did, one failed, or the workers' ``threads`` ended."""
        while not self.settled.wait(0.2) and any(thread.is_alive() for thread in threads):
            pass
        return not (self.waiting or self.problems)

    def problem(self) -> str:
        """Why grading stopped: the first assignment's failed canary (or the canary never graded)."""
        failed = self.problems or {a: f"grading stopped before any student was graded: the reference "
                                      f"solution of {a} was not graded" for a in self.waiting}
        return failed[min(failed, key=self.assignments.index)]


def require_cgroups(unsafe_no_cgroups: bool) -> bool:
    """Whether kernels get a cgroup each; stop with what is missing when they cannot, unless the
    instructor chose to grade without (then one submission can slow or starve the others)."""
    why = cgroups.unavailable()
    if not why:
        return True
    if unsafe_no_cgroups:
        print(f"WARNING: grading without a cgroup per kernel ({why}): one submission's processes can slow "
              "or starve the others", file=sys.stderr)
        return False
    raise SystemExit(f"cannot give each student kernel a cgroup: {why}.\nmake grade UNSAFE_NO_CGROUPS=1 "
                     "(python -m coursetools grade --unsafe-no-cgroups) grades without them.")
