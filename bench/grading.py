"""Grading throughput: ``make grade`` in parallel against the same grading one submission at a time.

Every exercise set present in solutions/ (with its release in exercises/) gets ``COPIES`` students
submitting the solution and ``COPIES`` submitting the untouched exercise. The same class is graded in
fresh scratch courses, all with one seed for the hidden inputs: by ``python -m coursetools grade
--workers 1`` (sequential: the sandbox, canary and judge, one submission after another), then twice by
``python -m coursetools grade`` (what ``make grade`` runs: one worker per core) and twice by the same
without the sandbox and cgroups (``--unsafe-no-sandbox``), in the order sandboxed, unsandboxed,
unsandboxed, sandboxed; and by plain sequential ``nbgrader autograde``, the yardstick of the speed target
(it does less: no judge, no canary, no sandbox, no feedback pages). Prints seconds per submission, how
much faster ``make grade`` is than plain nbgrader and than its own single worker, the isolation's cost
per submission (the sandbox is also what lets kernels start warm, ``coursetools/zygote.py``), and whether
the grades agree. A benchmark: it prints and never fails.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
COPIES = int(os.environ.get("BENCH_GRADING_COPIES", "2"))
TARGET_RATIO = 1.7
TARGET_SANDBOX_OVERHEAD = 0.10
SEED = "20261201"  # one draw of the hidden inputs for every run, so that their grades can be compared


def exercise_sets() -> list[str]:
    """Assignments with both a source in solutions/ and a release in exercises/."""
    return sorted(p.parent.name for p in ROOT.glob("solutions/*/*.ipynb")
                  if (ROOT / "exercises" / p.parent.name / p.name).exists())


def make_class(course: Path, assignments: list[str]) -> int:
    """A scratch course whose submitted/ holds COPIES solutions and COPIES untouched exercises per set."""
    course.mkdir(parents=True)
    shutil.copy(ROOT / "nbgrader_config.py", course)
    (course / "solutions").symlink_to(ROOT / "solutions", target_is_directory=True)
    count = 0
    for assignment in assignments:
        for kind, folder in (("solution", "solutions"), ("untouched", "exercises")):
            for copy in range(COPIES):
                target = course / "submitted" / f"{kind}{copy}" / assignment
                shutil.copytree(ROOT / folder / assignment, target)
                count += 1
    return count


def env() -> dict[str, str]:
    """The venv first on PATH, one BLAS thread per process (as make grade sets for its workers)."""
    values = dict(os.environ, PATH=f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}")
    values.update({name: "1" for name in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS")})
    return values


def timed(command: list[str], cwd: Path) -> float:
    """Wall seconds of one command (its output discarded)."""
    start = time.perf_counter()
    subprocess.run(command, cwd=cwd, env=env(), capture_output=True, text=True)
    return time.perf_counter() - start


def plain_nbgrader(course: Path, assignments: list[str]) -> float:
    """Seconds of plain nbgrader autograde, one assignment after another (for reference)."""
    nbgrader = str(BIN / "nbgrader")
    for assignment in assignments:
        timed([nbgrader, "generate_assignment", assignment, "--force"], course)
    return sum(timed([nbgrader, "autograde", assignment], course) for assignment in assignments)


def make_grade(course: Path, *flags: str) -> float:
    """Seconds of ``python -m coursetools grade`` on ``course`` with ``flags``."""
    command = [sys.executable, "-m", "coursetools", "grade", "--root", str(course), "--seed", SEED, *flags]
    return timed(command, ROOT)


def same_grades(first: Path, second: Path) -> bool:
    """Whether two course gradebooks hold the same auto scores for every submission and cell."""
    from nbgrader.api import Gradebook

    def grades(course: Path) -> dict:
        with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gradebook:
            return {(a.name, s.student.id, g.name): (g.auto_score, g.needs_manual_grade)
                    for a in gradebook.assignments for s in a.submissions
                    for nb in s.notebooks for g in nb.grades}
    return grades(first) == grades(second)


def main() -> None:
    """Print the table: submissions, seconds per submission each way, the speed-up, the isolation's cost."""
    assignments = exercise_sets()
    if not assignments:
        print("no exercise sets in solutions/ yet: nothing to grade")
        return
    with tempfile.TemporaryDirectory(prefix="bench-grading-") as scratch:
        one = Path(scratch) / "one-worker"
        n = make_class(one, assignments)
        sequential = make_grade(one, "--workers", "1")
        plain = Path(scratch) / "plain"
        make_class(plain, assignments)
        reference = plain_nbgrader(plain, assignments)
        # in the order A B B A, so that a drifting machine load cancels out
        runs: dict[str, list[float]] = {"sandboxed": [], "unsafe": []}
        equal = True
        for k, kind in enumerate(("sandboxed", "unsafe", "unsafe", "sandboxed")):
            course = Path(scratch) / f"{kind}{k}"
            make_class(course, assignments)
            runs[kind].append(make_grade(course, *(["--unsafe-no-sandbox"] if kind == "unsafe" else [])))
            equal = equal and same_grades(one, course)
        parallel, unsafe = (sum(runs[kind]) / 2 for kind in ("sandboxed", "unsafe"))
    workers = os.cpu_count() or 1
    print(f"{n} submissions of {len(assignments)} exercise sets ({', '.join(assignments)}), {workers} cores")
    print(f"{'method':58s} {'seconds':>8s} {'s/submission':>13s}")
    rows = [("make grade --workers 1 (sandbox, canary, judge; sequential)", sequential),
            ("make grade (the same, one worker per core)", parallel),
            ("make grade UNSAFE_NO_SANDBOX=1 (no sandbox, no cgroups)", unsafe),  # each: mean of 2 runs
            ("plain nbgrader autograde, sequential (no judge, no sandbox)", reference)]
    for name, seconds in rows:
        print(f"{name:58s} {seconds:8.1f} {seconds / n:13.2f}")
    print(f"make grade is {reference / parallel:.2f}x as fast as plain sequential nbgrader autograde "
          f"(target at least {TARGET_RATIO}x)")
    print(f"speed-up of make grade over its own single worker: {sequential / parallel:.2f}x")
    print(f"isolation cost per submission: {(parallel - unsafe) / n:+.2f} s"
          f" ({(parallel - unsafe) / unsafe:+.1%}; target under {TARGET_SANDBOX_OVERHEAD:.0%})")
    print(f"same grades every way: {'yes' if equal else 'NO'}")


if __name__ == "__main__":
    main()
