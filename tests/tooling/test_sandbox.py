"""The grading sandbox (coursetools/sandbox.py): malicious submissions on the tiny fixture assignment.

One sandboxed ``make grade`` batch holds two honest students and one attacker per attack; each attack
runs inside a graded solution cell, prints what it achieved, and is asserted as designed, together
with every honest student's grade. The honest students are then graded once more without the
sandbox: the grades must be identical.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import sqlite3
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import nbformat
import pytest
from conftest import ROOT
from test_grading import ASSIGNMENT, FIXTURE, _cell, make_course, run_grading, task_grades

from coursetools import leaks, reports, sandbox

pytestmark = pytest.mark.xdist_group("grading")

CELL_TIMEOUT = 60  # a budget the attacks' own work never needs on a busy machine; the sleeper costs one
LIMITS = {"memory_mb": 3072, "processes": 64, "file_mb": 8}
WHY_NOT = sandbox.unavailable()
if WHY_NOT and os.environ.get("CI") != "true":
    pytest.skip(f"the grading sandbox cannot run here: {WHY_NOT}", allow_module_level=True)

# The searcher skips /usr (the operating system; nothing of the course is installed there) and greps
# everything else it can read, the Python install and the venv included.
# Each attack is code put into a solution cell *after* the student's (correct) function, so the
# grade stays (2, 3) unless the attack breaks it. ``COURSE`` is replaced by the course's path.
SEARCH = r'''
import os, subprocess
needles = [("hidden" + "-sentinel"), ("def jud" + "ge(case")]
skip = [f"--exclude-dir={d}" for d in ("proc", "sys", "dev", "usr")]
found = subprocess.run(["grep", "-rlsI", *skip, *[a for n in needles for a in ("-e", n)], "/"],
                       capture_output=True, text=True).stdout.split()
seen = sum(len(files) for top in os.listdir("/") if top not in ("proc", "sys", "dev", "usr")
           for _, _, files in os.walk("/" + top))
print("SEARCHED", seen, "FOUND", sorted(set(found)))
print("CWD", sorted(os.listdir(".")))
'''
WRITE_GRADEBOOK = r'''
import os, socket
for path in ["COURSE/gradebook.db", "../../../gradebook.db", "COURSE/grades.csv", "/work/x",
             "COURSE/solutions/x"]:
    try:
        with open(path, "ab") as handle:
            handle.write(b"garbage")
        print("WROTE", path)
    except OSError as error:
        print("WRITE-FAILED", path, type(error).__name__)
    try:
        os.remove(path)
        print("DELETED", path)
    except OSError as error:
        print("DELETE-FAILED", path, type(error).__name__)
try:
    socket.create_connection(("1.1.1.1", 53), timeout=3)
    print("NETWORK-OPEN")
except OSError as error:
    print("NETWORK-CLOSED", type(error).__name__)
'''
READ_OTHER = r'''
import glob
for path in ["COURSE/submitted/full/extiny/extiny.ipynb", "COURSE/autograded/full/extiny/extiny.ipynb",
             "../../full/extiny/extiny.ipynb", "../../../submitted/full/extiny/extiny.ipynb",
             "COURSE/solutions/extiny/extiny.ipynb"]:
    try:
        print("READ", path, len(open(path).read()))
    except OSError as error:
        print("READ-FAILED", path, type(error).__name__)
print("GLOB", glob.glob("COURSE/**/*.ipynb", recursive=True) + glob.glob("/tmp/**", recursive=True))
'''
MEMORY = r'''
hog = bytearray(64 * 2**30)
'''
FORK = r'''
import os, time
children = []
try:
    while len(children) < 10_000:
        pid = os.fork()
        if pid == 0:
            time.sleep(120)
            os._exit(0)
        children.append(pid)
except OSError as error:
    print("FORK-STOPPED", len(children), type(error).__name__)
for pid in children:
    os.kill(pid, 9)
    os.waitpid(pid, 0)
'''
HUGE_FILE = r'''
import os
for path in ["big.bin", "/tmp/big.bin"]:
    try:
        with open(path, "wb") as handle:
            for _ in range(1024):
                handle.write(b"x" * 2**20)
    except OSError as error:
        print("WRITE-STOPPED", path, os.path.getsize(path), type(error).__name__)
'''
SLEEP = r'''
import time
time.sleep(10**6)
'''
DISK_FILLER = r'''
written = 0
try:
    for i in range(10_000):
        with open(f"fill{i}.bin", "wb") as handle:
            handle.write(b"x" * 4 * 2**20)
        written += 4
except OSError as error:
    print("FILL-STOPPED", written, type(error).__name__)
'''
CPU_HOG = r'''
import os, time
start, children = time.time(), []
for _ in range(8):
    pid = os.fork()
    if pid == 0:
        os.setsid()
        end = time.time() + 3
        while time.time() < end:
            pass
        os._exit(0)
    children.append(pid)
for pid in children:
    os.waitpid(pid, 0)
times = os.times()
print("CPU-HOG", round(times.children_user + times.children_system, 2), round(time.time() - start, 2))
'''
FORKED_MEMORY = r'''
import os, time
children = []
for _ in range(4):
    pid = os.fork()
    if pid == 0:
        block = bytearray(1000 * 2**20)
        for i in range(0, len(block), 4096):
            block[i] = 1
        time.sleep(2)
        os._exit(0)
    children.append(pid)
print("CHILDREN", [os.waitpid(pid, 0)[1] for pid in children])
'''
HUGE_DISPLAY = r'''
from IPython.display import display
for _ in range(20):
    display({"text/plain": "x" * (8 * 2**20)}, raw=True)
'''
ATTACKS = {"searcher": SEARCH, "gradebook_writer": WRITE_GRADEBOOK, "reader": READ_OTHER,
           "memory_hog": MEMORY, "fork_bomb": FORK, "huge_file": HUGE_FILE, "sleeper": SLEEP,
           "disk_filler": DISK_FILLER, "cpu_hog": CPU_HOG, "forked_memory": FORKED_MEMORY,
           "huge_display": HUGE_DISPLAY}
HONEST = {"full": (2, 3), "wrong": (0, 3)}
# student → (test_top_k_accuracy, test_class_means): the attack never costs points, as it runs after the def.
DESIGNED = {**HONEST, **{name: (2, 3) for name in ATTACKS}}


def solution(course: Path) -> nbformat.NotebookNode:
    """The release with the fixture's answers written in."""
    nb = nbformat.read(course / "exercises" / ASSIGNMENT / "extiny.ipynb", as_version=4)
    for cell in nbformat.read(FIXTURE, as_version=4).cells:
        if cell.metadata.get("nbgrader", {}).get("solution"):
            _cell(nb, cell.metadata["nbgrader"]["grade_id"]).source = cell.source
    return nb


def write_class(course: Path, attacks: bool = True) -> None:
    """submitted/: the honest students, and (``attacks``) one attacker per attack."""
    for student in HONEST:
        nb = solution(course)
        if student == "wrong":
            _cell(nb, "top_k_accuracy").source = \
                _cell(nb, "top_k_accuracy").source.replace("-scores", "scores")
        (course / "submitted" / student / ASSIGNMENT).mkdir(parents=True)
        nbformat.write(nb, course / "submitted" / student / ASSIGNMENT / "extiny.ipynb")
    if attacks:  # links to the gradebook and the solutions: nbgrader would copy their targets as the grader
        folder = course / "submitted" / "linker" / ASSIGNMENT
        folder.mkdir(parents=True)
        nbformat.write(solution(course), folder / "extiny.ipynb")
        (folder / "gradebook.db").symlink_to(course / "gradebook.db")
        (folder / "answers").symlink_to(course / "solutions", target_is_directory=True)
    for student, code in ATTACKS.items() if attacks else ():
        nb = solution(course)
        _cell(nb, "top_k_accuracy").source += "\n" + code.replace("COURSE", str(course))
        (course / "submitted" / student / ASSIGNMENT).mkdir(parents=True)
        nbformat.write(nb, course / "submitted" / student / ASSIGNMENT / "extiny.ipynb")


def sandbox_course(folder: Path, attacks: bool = True) -> Path:
    """The fixture course with a short cell limit, small sandbox limits and the class."""
    course = make_course(folder)
    extra = f"\nc.Execute.timeout = {CELL_TIMEOUT}\n" \
        + "".join(f"c.Sandbox.{k} = {v}\n" for k, v in LIMITS.items())
    (course / "nbgrader_config.py").write_text((course / "nbgrader_config.py").read_text() + extra)
    write_class(course, attacks)
    return course


def outputs(course: Path, student: str) -> str:
    """Every output text of a student's graded top_k_accuracy cell."""
    nb = nbformat.read(course / "autograded" / student / ASSIGNMENT / "extiny.ipynb", as_version=4)
    cell = _cell(nb, "top_k_accuracy")
    return "\n".join(o.get("text", "") + o.get("ename", "") + " " + o.get("evalue", "") for o in cell.outputs)


@pytest.fixture(scope="module")
def graded(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, subprocess.CompletedProcess[str]]:
    course = sandbox_course(tmp_path_factory.mktemp("sandbox") / "course")
    done = run_grading("grade", "--root", str(course))
    assert done.returncode == 0, done.stdout + done.stderr
    return course, done


def test_every_grade_as_designed_and_honest_grades_equal_unsandboxed(graded, tmp_path: Path) -> None:
    course, done = graded
    grades = task_grades(course / "gradebook.db")
    for student, (top_k, means) in DESIGNED.items():
        assert grades[(student, "test_top_k_accuracy")][0] == top_k, (student, done.stdout)
        assert grades[(student, "test_class_means")][0] == means, (student, done.stdout)
    problems = {r["student"]: r["problem"] for r in reports.read_csv(course / "grades.csv") if r["problem"]}
    assert sorted(problems) == ["huge_display", "linker"], problems
    assert "symbolic links" in problems["linker"] and "outputs cut" in problems["huge_display"], problems
    assert not (course / "autograded" / "linker").exists()
    plain = sandbox_course(tmp_path / "plain", attacks=False)
    unsafe = run_grading("grade", "--root", str(plain), "--unsafe-no-sandbox")
    assert unsafe.returncode == 0 and "WITHOUT the sandbox" in unsafe.stderr, unsafe.stdout + unsafe.stderr
    assert task_grades(plain / "gradebook.db") == {k: v for k, v in grades.items() if k[0] in HONEST}


def test_searching_every_readable_file_finds_no_hidden_test(graded) -> None:
    course, _ = graded
    text = outputs(course, "searcher")
    searched = int(re.search(r"SEARCHED (\d+) FOUND", text).group(1))
    assert searched > 1000, text  # it did read the system (Python, the venv, helpers/)
    assert "FOUND []" in text, text
    assert "CWD []" in text, text  # the working directory's copy has no notebook (it held the hidden tests)
    for page in (course / "feedback").rglob("*.html"):
        assert "def judge(" not in leaks.html_text(page), page
    for nb in (course / "autograded").rglob("*.ipynb"):  # no output holds hidden code
        for cell in nbformat.read(nb, as_version=4).cells:
            for output in cell.get("outputs", []):
                assert "def judge(" not in str(output) and "BEGIN HIDDEN" not in str(output), nb


def test_gradebook_cannot_be_written_or_deleted_and_no_network(graded) -> None:
    course, _ = graded
    text = outputs(course, "gradebook_writer")
    assert "WROTE" not in text and "DELETED" not in text, text
    assert text.count("WRITE-FAILED") == 5 and text.count("DELETE-FAILED") == 5, text
    assert "NETWORK-CLOSED" in text, text
    with sqlite3.connect(course / "gradebook.db") as db:
        assert db.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    assert not (course / "solutions" / "x").exists()


def test_other_students_work_and_solutions_cannot_be_read(graded) -> None:
    course, _ = graded
    text = outputs(course, "reader")
    assert "READ " not in text and text.count("READ-FAILED") == 5, text
    listed = re.search(r"GLOB (.*)", text).group(1)
    # only its own folder
    assert ".ipynb" not in listed and "full" not in listed and "searcher" not in listed, text


def test_memory_hog_errors_alone(graded) -> None:
    course, done = graded
    assert "MemoryError" in outputs(course, "memory_hog")


def test_fork_bomb_is_contained(graded) -> None:
    course, _ = graded
    text = outputs(course, "fork_bomb")
    count = int(re.search(r"FORK-STOPPED (\d+)", text).group(1))
    assert count < LIMITS["processes"], text


def test_huge_file_stops_at_the_limit(graded) -> None:
    course, _ = graded
    text = outputs(course, "huge_file")
    sizes = [int(s) for s in re.findall(r"WRITE-STOPPED \S+ (\d+)", text)]
    assert len(sizes) == 2 and max(sizes) <= LIMITS["file_mb"] * 2**20, text
    # stayed in its scratch
    assert not (course / "autograded" / "huge_file" / ASSIGNMENT / "big.bin").exists()


def test_sleeper_times_out(graded) -> None:
    course, _ = graded
    text = outputs(course, "sleeper")
    assert "CellTimeoutError" in text or "KeyboardInterrupt" in text or "Timeout" in text, text


def test_limits_are_in_the_config_and_cpu_exceeds_the_cell_limits() -> None:
    from traitlets.config import Config

    config = Config({"Sandbox": {"memory_mb": 1000}})
    limits = sandbox.limits_from(config, cell_timeout=120, code_cells=10)
    assert limits.memory_mb == 1000 and limits.cpu_seconds > 120 * 10


def test_grading_stops_with_what_to_install_when_bwrap_is_missing(tmp_path: Path) -> None:
    course = tmp_path / "course"
    shutil.copytree(ROOT / "tests" / "tooling" / "fixtures", course / "solutions")
    shutil.copy(ROOT / "nbgrader_config.py", course)
    (course / "submitted" / "a" / "extiny").mkdir(parents=True)
    env_path = "/nonexistent"
    done = subprocess.run([sys.executable, "-m", "coursetools", "grade", "--root", str(course)],
                          cwd=ROOT, capture_output=True, text=True, env=dict(os.environ, PATH=env_path))
    assert done.returncode != 0 and "bubblewrap" in done.stderr and "UNSAFE_NO_SANDBOX" in done.stderr, \
        done.stderr


# --- the canary: a broken grading environment stops the run --------------------------------------------

def _one_student(folder: Path) -> Path:
    course = make_course(folder)
    (course / "submitted" / "alice" / ASSIGNMENT).mkdir(parents=True)
    nbformat.write(solution(course), course / "submitted" / "alice" / ASSIGNMENT / "extiny.ipynb")
    return course


def test_an_environment_the_sandbox_cannot_see_stops_grading(tmp_path: Path) -> None:
    """A venv outside the course folder (here under /tmp, whose packages come from another place): the
    reference solution cannot run in the sandbox, so nobody is graded and the gradebook is not created."""
    venv = tmp_path / "elsewhere" / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    site = next(venv.glob("lib/python*/site-packages"))
    packages = [p for p in sys.path if p.endswith("site-packages")]
    (site / "course.pth").write_text("\n".join([*packages, str(ROOT)]) + "\n")
    (venv / "bin" / "alembic").symlink_to(Path(sys.executable).parent / "alembic")  # nbgrader runs it
    course = _one_student(tmp_path / "course")
    done = subprocess.run([str(venv / "bin" / "python"), "-m", "coursetools", "grade", "--root", str(course)],
                          cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert done.returncode != 0, done.stdout + done.stderr
    assert "grading stopped before any student was graded" in done.stderr, done.stderr
    assert "not visible inside the grading sandbox" in done.stderr, done.stderr
    assert not (course / "gradebook.db").exists() and not (course / "grades.csv").exists()


def test_a_memory_limit_too_low_for_the_imports_stops_grading(tmp_path: Path) -> None:
    course = _one_student(tmp_path / "course")
    config = course / "nbgrader_config.py"
    config.write_text(config.read_text() + "\nc.Sandbox.memory_mb = 120\n")
    done = run_grading("grade", "--root", str(course))
    assert done.returncode != 0, done.stdout + done.stderr
    assert "grading stopped before any student was graded" in done.stderr, done.stderr
    assert "reference solution of extiny" in done.stderr and "First errors" in done.stderr, done.stderr
    assert not (course / "gradebook.db").exists() and not (course / "grades.csv").exists()


def test_a_disk_filler_stops_in_its_own_space(graded) -> None:
    course, _ = graded
    text = outputs(course, "disk_filler")
    written = int(re.search(r"FILL-STOPPED (\d+)", text).group(1))
    assert written <= sandbox.Limits().tmp_mb, text  # its private tmpfs, not the grader's disk
    assert not list((course / "autograded" / "disk_filler").rglob("fill*.bin"))


def test_many_processes_share_one_cpu(graded) -> None:
    """Eight spinners in their own sessions get one CPU between them (the kernel's cgroup); on a busy
    machine they get less, never more."""
    course, _ = graded
    found = re.search(r"CPU-HOG ([\d.]+) ([\d.]+)", outputs(course, "cpu_hog"))
    used, wall = float(found.group(1)), float(found.group(2))
    assert used <= 1.3 * wall + 0.5, (used, wall)


def test_forked_children_share_one_memory_limit(graded) -> None:
    """Four children of 1000 MB each under a 3072 MB kernel: the cgroup stops one of them."""
    course, _ = graded
    listed = re.search(r"CHILDREN \[(.*)\]", outputs(course, "forked_memory")).group(1)
    statuses = [int(v) for v in re.findall(r"-?\d+", listed)]
    assert len(statuses) == 4 and any(statuses), statuses


def test_huge_displays_are_cut_before_they_are_stored(graded) -> None:
    course, _ = graded
    notebook = course / "autograded" / "huge_display" / ASSIGNMENT / "extiny.ipynb"
    assert notebook.stat().st_size < 20 * 2**20
    assert "output cut while grading" in outputs(course, "huge_display")
    assert (course / "feedback" / "huge_display" / ASSIGNMENT / "extiny.html").stat().st_size < 2 * 2**20


PLANT = r'''
import os
for folder in (".", "/tmp", "/tmp/.ipc", "/dev/shm"):
    try:
        with open(os.path.join(folder, "planted-by-a"), "w") as handle:
            handle.write("a message for the next student")
        print("PLANTED", folder)
    except OSError as error:
        print("PLANT-FAILED", folder, type(error).__name__)
'''
FIND = r'''
import os
for folder in (".", "/tmp", "/tmp/.ipc", "/dev/shm"):
    try:
        print("LISTED", folder, sorted(os.listdir(folder)))
    except OSError as error:
        print("LIST-FAILED", folder, type(error).__name__)
'''


def test_nothing_one_student_leaves_reaches_the_next(tmp_path: Path) -> None:
    """One worker grades a planter, then a finder: the finder sees none of the planter's files."""
    course = make_course(tmp_path / "course")
    for student, code in (("a_planter", PLANT), ("b_finder", FIND)):
        nb = solution(course)
        _cell(nb, "top_k_accuracy").source += "\n" + code
        (course / "submitted" / student / ASSIGNMENT).mkdir(parents=True)
        nbformat.write(nb, course / "submitted" / student / ASSIGNMENT / "extiny.ipynb")
    done = run_grading("grade", "--root", str(course), "--workers", "1")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "PLANTED" in outputs(course, "a_planter")
    found = outputs(course, "b_finder")
    assert "LISTED ." in found and "planted-by-a" not in found, found


def test_two_courses_graded_at_once_do_not_meet(tmp_path: Path) -> None:
    """Two grading runs on one machine, one of them with a fork bomb: both grade their class as designed."""
    runs = []
    for name, attack in (("first", FORK), ("second", "")):
        course = make_course(tmp_path / name)
        for student in ("honest", "attacker"):
            nb = solution(course)
            if student == "attacker" and attack:
                _cell(nb, "top_k_accuracy").source += "\n" + attack
            (course / "submitted" / student / ASSIGNMENT).mkdir(parents=True)
            nbformat.write(nb, course / "submitted" / student / ASSIGNMENT / "extiny.ipynb")
        command = [sys.executable, "-m", "coursetools", "grade", "--root", str(course)]
        runs.append((course, subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE,
                                              stderr=subprocess.STDOUT, text=True)))
    for course, process in runs:
        output = process.communicate(timeout=900)[0]
        assert process.returncode == 0, output
        grades = task_grades(course / "gradebook.db")
        assert all(grades[(s, t)][0] == points for s in ("honest", "attacker")
                   for t, points in (("test_top_k_accuracy", 2), ("test_class_means", 3))), (course, grades)



# --- warm kernels: forks of the worker's zygote, each moved into its student's sandbox -----------------

FACTS = r'''
import json, os, resource, sys
warm = "torch" in sys.modules  # imported already: a fork of the zygote
status = dict(line.split(":\t", 1) for line in open("/proc/self/status").read().splitlines() if ":\t" in line)
import numpy, torch
print("FACTS", json.dumps({
    "warm": warm, "uid": os.getresuid()[0] >= 200_000 and len(set(os.getresuid() + os.getresgid())) == 1,
    "groups": os.getgroups(), "cwd": os.getcwd(), "files": sorted(os.listdir(".")),
    "root": sorted(os.listdir("/")), "tmp": sorted(os.listdir("/tmp")), "env": dict(os.environ),
    "path": sys.path, "argv0": os.path.basename(sys.argv[0]), "hostname": os.uname().nodename,
    "limits": {n: resource.getrlimit(getattr(resource, n)) for n in dir(resource) if n.startswith("RLIMIT_")},
    "caps": status["CapEff"], "no_new_privs": status["NoNewPrivs"],
    "cgroup": open("/proc/self/cgroup").read(),
    "tty": os.path.exists("/dev/tty") and os.system("exec 0</dev/tty 2>/dev/null") == 0,
    "own_files": os.access("/proc/self/environ", os.R_OK),
    "draw": [numpy.random.rand(), torch.rand(1).item(), torch.initial_seed()]}))
'''


def _kernel(shard: Path, box: dict, workdir: Path, code: str) -> tuple[dict, Any]:
    """Start a sandboxed kernel of ``shard`` in ``workdir``, run ``code``; the printed facts and the
    kernel manager (still running)."""
    from jupyter_client.manager import KernelManager

    manager = KernelManager(kernel_name=sandbox.KERNEL_NAME, **box["config"]["KernelManager"])
    manager.start_kernel(cwd=str(workdir))
    client = manager.client()
    client.start_channels()
    client.wait_for_ready(timeout=120)
    printed: list[str] = []
    client.execute_interactive(code, timeout=120,
                               output_hook=lambda m: printed.append(m["content"].get("text", "")))
    client.stop_channels()
    found = re.search(r"FACTS (.*)", "".join(printed))
    return (json.loads(found.group(1)) if found else {"printed": printed}), manager


@pytest.fixture
def shard(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Path, dict, Path]:
    """A worker's shard with the sandbox kernelspec (as ``make grade`` prepares it) and a submission."""
    from coursetools.workers import prepare_shard

    course = make_course(tmp_path / "course")
    folder = tmp_path / "work"
    folder.mkdir()
    (folder / "data.txt").write_text("the submission's own file")
    prepare_shard(tmp_path / "shard", course, course / "solutions", [ASSIGNMENT])
    box = json.loads((tmp_path / "shard" / "job.json").read_text())["sandbox"]
    monkeypatch.setenv("JUPYTER_PATH", box["jupyter_path"])
    return tmp_path / "shard", box, folder


@pytest.mark.skipif(not sandbox.AS_ROOT, reason="only a grader running as root forks warm kernels")
def test_a_warm_kernel_is_what_a_fresh_kernel_would_be(shard) -> None:
    """Everything a student's code can see of its process and sandbox is the same in a fork of the zygote
    as in a freshly started kernel, but for the modules already imported and its random draws."""
    folder, box, workdir = shard
    facts = {}
    with sandbox.warm_kernels(box):
        for kind in ("warm", "warm again"):
            with sandbox.isolated_student(box):
                facts[kind], manager = _kernel(folder, box, workdir, FACTS)
                manager.shutdown_kernel()
    settings = Path(box["settings"])
    settings.write_text(settings.read_text().replace(str(folder / "jupyter" / "zygote.sock"), ""))
    with sandbox.isolated_student(box):
        facts["fresh"], manager = _kernel(folder, box, workdir, FACTS)
        manager.shutdown_kernel()
    assert facts["warm"]["warm"] and facts["warm again"]["warm"] and not facts["fresh"]["warm"], facts
    draws = list(zip(facts["warm"]["draw"], facts["warm again"]["draw"]))
    assert all(mine != theirs for mine, theirs in draws), draws  # numpy and torch reseeded in every fork
    same = {k: v for k, v in facts["fresh"].items() if k not in ("warm", "draw")}
    assert {k: facts["warm"][k] for k in same} == same
    assert same["uid"] and same["caps"] == "0000000000000000" and same["no_new_privs"].strip() == "1"
    assert same["files"] == ["data.txt"] and same["cgroup"].strip().endswith(":/") and not same["tty"]
    assert same["own_files"]


@pytest.mark.skipif(not sandbox.AS_ROOT, reason="only a grader running as root forks warm kernels")
def test_a_killed_launcher_takes_its_warm_kernel_along(shard) -> None:
    """Jupyter kills a kernel by killing the process it started (the launcher): the sandbox and the warm
    kernel inside it end too, before the student's cgroup is cleaned up."""
    from coursetools import cgroups

    folder, box, workdir = shard
    with sandbox.warm_kernels(box), sandbox.isolated_student(box):
        groups = [Path(p) for p in json.loads(Path(box["settings"]).read_text())["cgroup"]]
        facts, manager = _kernel(folder, box, workdir, FACTS)
        assert facts["warm"] and len(cgroups.pids(groups)) >= 3, cgroups.pids(groups)  # launcher, box, kernel
        manager.shutdown_kernel(now=True)  # SIGKILL to the launcher
        deadline = time.monotonic() + 60
        while cgroups.pids(groups) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not cgroups.pids(groups)


HOLDER = r"""
import json, os, sys, time
from jupyter_client.manager import KernelManager
os.environ["JUPYTER_PATH"] = sys.argv[1]
manager = KernelManager(kernel_name=sys.argv[2], **json.loads(sys.argv[3]))
manager.start_kernel(cwd=sys.argv[4])
client = manager.client()
client.start_channels()
client.wait_for_ready(timeout=120)
print("READY", flush=True)
time.sleep(600)
"""


@pytest.mark.skipif(not sandbox.AS_ROOT, reason="only a grader running as root forks warm kernels")
def test_a_grader_that_dies_takes_its_warm_kernels_along(shard) -> None:
    """A worker killed while a kernel runs (say, after the submission time-out) leaves no launcher, sandbox
    or kernel behind to disturb the students graded after it."""
    from coursetools import cgroups

    folder, box, workdir = shard
    with sandbox.warm_kernels(box), sandbox.isolated_student(box):
        groups = [Path(p) for p in json.loads(Path(box["settings"]).read_text())["cgroup"]]
        holder = subprocess.Popen([sys.executable, "-c", HOLDER, box["jupyter_path"], sandbox.KERNEL_NAME,
                                   json.dumps(box["config"]["KernelManager"]), str(workdir)],
                                  stdout=subprocess.PIPE, text=True)
        assert holder.stdout.readline().strip() == "READY"
        assert len(cgroups.pids(groups)) >= 3, cgroups.pids(groups)  # launcher, sandbox, kernel
        holder.kill()
        holder.wait()
        deadline = time.monotonic() + 60
        while cgroups.pids(groups) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not cgroups.pids(groups)


@pytest.mark.skipif(not sandbox.AS_ROOT, reason="only a grader running as root forks warm kernels")
def test_a_fork_that_cannot_enter_the_sandbox_asks_for_a_fresh_kernel(shard) -> None:
    """Where the machine does not let the zygote's fork into a sandbox (here: a descriptor that is no
    namespace), the launcher is told to start a fresh kernel, so grading goes on as before."""
    import socket

    _, box, _ = shard
    request = {"namespaces": 1, "uid": 65534, "cwd": "/", "env": {}, "rlimits": {}, "argv": []}
    with sandbox.warm_kernels(box), socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as zygote, \
            open(os.devnull) as not_a_namespace:
        zygote.connect(json.loads(Path(box["settings"]).read_text())["zygote"])
        ours, theirs = socket.socketpair()
        socket.send_fds(zygote, [json.dumps(request).encode()], [theirs.fileno(), not_a_namespace.fileno()])
        theirs.close()
        assert ours.recv(len(sandbox.COLD), socket.MSG_WAITALL) == sandbox.COLD
