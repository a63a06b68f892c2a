"""``make grade``: autograde every submission in parallel workers, merge the shards into the course
gradebook, then write grades.csv, feedback pages and the summary figure."""

from __future__ import annotations

import json
import os
import secrets
import sys
import tempfile
import threading
import warnings
from pathlib import Path
from typing import Any, Callable

from coursetools import canary, cgroups, sandbox
from coursetools.collect import student_jobs, submissions_in
from coursetools.course import assignments_in, course_directory, load_config, source_root
from coursetools.judge import plan_run, write_json
from coursetools.merge import due_dates, merge_shard, register_in_course
from coursetools.reports import Row, progress_printer, write_reports
from coursetools.workers import Outcome, Worker, grade_shard, prepare_shard


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
    the canary first, and nothing else when it fails."""
    jobs = student_jobs(pairs, Path(root) / course.submitted_directory)
    source = source_root(root, config)
    with tempfile.TemporaryDirectory(prefix="grading-") as scratch_name:
        scratch, dates = Path(scratch_name), due_dates(course)
        plan = str(write_json(scratch / "plan.json", plan_run(source, assignments, seed)))
        reference = str(scratch / "reference.json")
        workers = [Worker(scratch / f"shard{k}") for k in range(count)]
        for worker in workers:  # they start up and register the assignments while the canary runs
            prepare_shard(worker.shard, root, source, assignments, dates, sandboxed, use_cgroups,
                          {"plan": plan, "reference": reference})
            worker.start()
        try:
            run_canary(scratch, root, source, assignments, (sandboxed, use_cgroups), timeout, plan,
                       Path(reference), count)
        except SystemExit:
            for worker in workers:
                worker.stop()
            raise
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


def run_canary(scratch: Path, root: Path, source: Path, assignments: list[str], isolation: tuple[bool, bool],
               timeout: float, plan: str, reference: Path, count: int) -> None:
    """Grade each assignment's reference solution as a student's submission (coursetools/canary.py), in up
    to ``count`` shards at once, and keep its observations in ``reference``; stop the run with the reason
    when one does not get full marks."""
    groups = [assignments[k::count] for k in range(count) if assignments[k::count]]
    problems: dict[str, str] = {}

    def check(k: int, group: list[str]) -> None:
        shard = scratch / f"canary{k}"
        prepare_shard(shard, root, source, group, {}, *isolation,
                      {"plan": plan, "record": str(scratch / f"reference{k}.json")})
        worker = Worker(shard)
        try:
            for assignment in group:
                canary.submit_reference(source, shard / "submitted", assignment)
                outcome = worker.grade((assignment, canary.CANARY), timeout)
                died = "" if outcome.ok else (shard / "worker.log").read_text()[-3000:]
                problem = canary.verdict(shard, assignment, "\n".join([outcome.log, outcome.problem, died]))
                if problem:
                    problems[assignment] = problem
                    return
        finally:
            worker.close()
    threads = [threading.Thread(target=check, args=(k, group)) for k, group in enumerate(groups)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if problems:
        raise SystemExit(problems[min(problems, key=assignments.index)])
    observed: dict[str, Any] = {}
    for k in range(len(groups)):  # a group without judged tests records nothing
        record = scratch / f"reference{k}.json"
        observed.update(json.loads(record.read_text()) if record.exists() else {})
    write_json(reference, observed)


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
