"""``python -m coursetools {grade,check,bundle}``: what ``make grade``, ``check`` and ``bundle`` run."""

from __future__ import annotations

import argparse
import os
import sys
import warnings
from pathlib import Path

# jsonschema's optional IRI format check compiles a grammar (rfc3987_syntax) for 0.7 s of CPU when nbformat
# is imported, in the grader and in every worker; no notebook schema has an IRI field, so it is left out.
sys.modules.setdefault("rfc3987_syntax", None)  # before nbformat is imported below

from coursetools.bundle import bundle  # noqa: E402
from coursetools.grade import grade  # noqa: E402
from coursetools.selfcheck import check  # noqa: E402
from coursetools.workers import run_shard, worker_env  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    """``python -m coursetools {grade,check,bundle} ...``."""
    parser = argparse.ArgumentParser(prog="python -m coursetools", description=__doc__.split("\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    grading = commands.add_parser("grade", help="autograde submitted/; write grades.csv, feedback, a figure")
    grading.add_argument("--assignment", default=None,
                         help="grade only this assignment (e.g. ex01_principles)")
    grading.add_argument("--student", default=None, help="grade only this student")
    grading.add_argument("--workers", type=int, default=None, help="parallel workers (default: one per core)")
    grading.add_argument("--seed", type=int, default=None,
                         help="draw the hidden inputs from this seed (default: a fresh one each run)")
    grading.add_argument("--unsafe-no-cgroups", action="store_true",
                         help="grade without a cgroup per kernel (one submission can then slow the others)")
    grading.add_argument("--report-only", action="store_true",
                         help="grade nothing: rewrite grades.csv and the figure from the gradebook")
    checking = commands.add_parser("check", help="grade your own work/exNN_*/ against the hidden tests")
    checking.add_argument("exercise", help="exercise set, e.g. ex01 or ex01_principles")
    checking.add_argument("--work", default=None, help="your working folder (default: work/)")
    for sub in (grading, checking):
        sub.add_argument("--unsafe-no-sandbox", action="store_true",
                         help="run student code WITHOUT the sandbox, with your rights "
                              "(only for code you trust)")
    bundling = commands.add_parser("bundle", help="write the student archive (no solutions, no hidden tests)")
    bundling.add_argument("--out", default=None,
                          help="archive path (default: dist/multimodal-course-student.tar.gz)")
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
              unsafe=args.unsafe_no_sandbox, seed=args.seed, unsafe_no_cgroups=args.unsafe_no_cgroups)
    elif args.command == "check":
        return check(args.exercise, Path(args.root), args.work and Path(args.work), args.unsafe_no_sandbox)
    else:
        bundle(Path(args.root), args.out and Path(args.out))
    return 0



if __name__ == "__main__":
    sys.exit(main())
