"""A class on JupyterHub, end to end: real OS users, the Hub on loopback, nbgrader's exchange.

One instructor and three students (throwaway OS users, removed afterwards) run the whole cycle with one
of the course's exercise sets through the Hub's REST API, set up by deploy/setup_course.sh and served by
deploy/jupyterhub_config.py: release → fetch → solve (fully, partly, not at all) → submit → collect →
autograde → generate and release feedback → fetch feedback. Then the same submissions are graded again
with the gradebook on a throwaway PostgreSQL cluster, and must get exactly the SQLite grades.

CLASSROOM_COURSE_ENV=DIR runs the class in a course environment that deploy/setup_course.sh built (a real
`pip install`) instead of the quick one made here; CLASSROOM_EXERCISE_SOURCE=DIR takes the exercise set
from DIR; CLASSROOM_KEEP_LOG=FILE keeps the Hub's log.

Needs root (to create users), /usr/bin/python3, configurable-http-proxy and, for PostgreSQL, initdb/pg_ctl
and the postgres user: CI has them (.ci/run installs them); elsewhere the tests skip with one line.
"""

from __future__ import annotations

import copy
import json
import os
import pwd
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator

import pytest
from conftest import BIN, ROOT

COURSE_ID = "multimodal-learning"
VENV = BIN.parent
VENV_SITE = VENV / "lib" / f"python{sys.version_info.major}.{sys.version_info.minor}" / "site-packages"
SYSTEM_PYTHON = Path("/usr/bin/python3")
# The course's own exercise sets first; a small fixture set only while none exists.
SOURCE_ROOTS = [ROOT / "solutions", ROOT / "tests" / "tooling" / "fixtures"]


def _exercise_set() -> Path | None:
    """The first exercise set (a folder holding one source notebook) under solutions/ (or
    tests/tooling/fixtures/)."""
    roots = [Path(os.environ["CLASSROOM_EXERCISE_SOURCE"])] if os.environ.get("CLASSROOM_EXERCISE_SOURCE") \
        else SOURCE_ROOTS
    for root in roots:
        for folder in sorted(root.glob("*/")) if root.is_dir() else []:
            if len(list(folder.glob("*.ipynb"))) == 1:
                return folder
    return None


def _why_not() -> str | None:
    if os.geteuid() != 0:
        return "test_classroom needs root to create throwaway OS users (CI runs it as root)"
    for tool in ("useradd", "userdel", "runuser", "configurable-http-proxy"):
        if shutil.which(tool) is None:
            return f"test_classroom needs {tool} on PATH (.ci/run installs it)"
    if not SYSTEM_PYTHON.exists():
        return "test_classroom needs /usr/bin/python3 for the users' course environment"
    try:
        import jupyterhub  # noqa: F401
    except ImportError:
        return "test_classroom needs the hub extra: pip install -e '.[test,hub]'"
    if _exercise_set() is None:
        return "test_classroom needs an exercise set under solutions/"
    return None


pytestmark = [pytest.mark.xdist_group("classroom"),
              pytest.mark.skipif(_why_not() is not None, reason=_why_not() or "")]


# --- small tools ------------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _run(args: list[str], **kwargs: Any) -> subprocess.CompletedProcess[str]:
    return subprocess.run(args, capture_output=True, text=True, timeout=kwargs.pop("timeout", 300), **kwargs)


def _as_user(user: str, args: list[str], env: Path, cwd: str = "/") -> subprocess.CompletedProcess[str]:
    """Run ``args`` as ``user`` with a clean environment and the course environment's bin/ first."""
    home = pwd.getpwnam(user).pw_dir
    return _run(["runuser", "-u", user, "--", "env", "-i", f"HOME={home}", f"USER={user}",
                 f"PATH={env}/bin:/usr/bin:/bin", "JUPYTER_PREFER_ENV_PATH=0", *args], cwd=cwd)


def _readable_by_others(path: Path) -> bool:
    """Whether every user can reach ``path`` (each parent searchable, the folder itself readable)."""
    parents = [p for p in [path, *path.parents]]
    return all(p.stat().st_mode & 0o001 for p in parents) and bool(path.stat().st_mode & 0o004)


def _link_or_copy(source: Path, target: Path) -> None:
    """``target``: a tree of hard links to ``source`` (a copy when they are on different file systems)."""
    if _run(["cp", "-al", str(source), str(target)]).returncode != 0:
        shutil.rmtree(target, ignore_errors=True)
        _run(["cp", "-a", str(source), str(target)], check=True, timeout=900)


def _build_course_env(dest: Path, private: bool | None = None) -> None:
    """A course environment every user can run, in seconds: a venv of /usr/bin/python3 (pyenv's python
    lives under /root) that reuses this checkout's installed packages. deploy/setup_course.sh keeps an
    existing environment, so this stands in for its `pip install` of a few minutes."""
    _run([str(SYSTEM_PYTHON), "-m", "venv", "--without-pip", str(dest)], check=True)
    site = dest / "lib" / f"python{sys.version_info.major}.{sys.version_info.minor}" / "site-packages"
    packages, data = VENV_SITE, VENV / "share" / "jupyter"
    if private is None:
        private = not all(_readable_by_others(p) for p in (VENV_SITE, data, ROOT / "helpers"))
    if private:  # a checkout inside a private folder: the packages linked (or copied) to a public place
        packages, data = dest / "course-packages", dest / "course-data"
        _link_or_copy(VENV_SITE, packages)
        _link_or_copy(VENV / "share" / "jupyter", data)
        shutil.copytree(ROOT / "helpers", site / "helpers")  # ahead of the editable install's finder
    (site / "course_packages.pth").write_text(f"import site; site.addsitedir({str(packages)!r})\n")
    for name in ("jupyterhub-singleuser", "jupyter", "jupyter-server", "nbgrader", "alembic"):
        script = (BIN / name).read_text().split("\n", 1)[1]
        (dest / "bin" / name).write_text(f"#!{dest}/bin/python\n{script}")
        (dest / "bin" / name).chmod(0o755)
    shutil.copytree(VENV / "etc" / "jupyter", dest / "etc" / "jupyter")
    (dest / "share").mkdir()
    (dest / "share" / "jupyter").symlink_to(data)


def _remove_user(user: str) -> None:
    """Stop whatever still runs as ``user`` (only this test's throwaway users), then remove it and its
    home."""
    try:
        uid = pwd.getpwnam(user).pw_uid
    except KeyError:
        return
    for _ in range(3):
        pids = [int(entry.name) for entry in Path("/proc").iterdir()
                if entry.name.isdigit() and _owner(entry) == uid]
        if not pids:
            break
        for pid in pids:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        time.sleep(0.5)
    _run(["userdel", "-r", "-f", user])


def _owner(process: Path) -> int | None:
    """The uid of a process (None once it is gone)."""
    try:
        return process.stat().st_uid
    except FileNotFoundError:
        return None


# --- the Hub, through its REST API ------------------------------------------------------------


class Hub:
    """A running JupyterHub and the requests a script makes to it with a service token."""

    def __init__(self, url: str, token: str) -> None:
        import requests

        self.url, self.session = url, requests.Session()
        self.session.headers["Authorization"] = f"token {token}"

    def api(self, method: str, path: str, **kwargs: Any) -> Any:
        response = self.session.request(method, f"{self.url}/hub/api/{path}", timeout=120, **kwargs)
        assert response.status_code < 400, f"{method} {path}: {response.status_code} {response.text[:500]}"
        return response.json() if response.content else None

    def user(self, name: str, method: str, path: str, **kwargs: Any) -> Any:
        """A request to ``name``'s own server (``/user/NAME/PATH``)."""
        response = self.session.request(method, f"{self.url}/user/{name}/{path}", timeout=300, **kwargs)
        assert response.status_code < 400, \
            f"{method} {name}/{path}: {response.status_code} {response.text[:800]}"
        return response.json() if response.content else None

    def start_servers(self, names: list[str], timeout: float = 150) -> None:
        with ThreadPoolExecutor(len(names)) as pool:  # a POST waits until its server is up (or 10 s)
            list(pool.map(lambda name: self.session.post(f"{self.url}/hub/api/users/{name}/server",
                                                         timeout=120),
                          names))
        deadline = time.monotonic() + timeout
        waiting = set(names)
        while waiting and time.monotonic() < deadline:
            for name in list(waiting):
                server = self.api("GET", f"users/{name}").get("servers", {}).get("", {})
                if server.get("ready"):
                    waiting.discard(name)
            time.sleep(0.5)
        assert not waiting, f"servers not ready after {timeout} s: {sorted(waiting)}"

    def stop_servers(self, names: list[str]) -> None:
        with ThreadPoolExecutor(len(names)) as pool:
            list(pool.map(lambda name: self.session.delete(f"{self.url}/hub/api/users/{name}/server",
                                                           timeout=120),
                          names))

    def formgrader(self, instructor: str, action: str) -> dict[str, Any]:
        result = self.user(instructor, "POST", f"formgrader/api/{action}")
        assert result.get("success"), f"formgrader {action}: {result}"
        return result

    def assignments(self, student: str, action: str, assignment: str) -> list[dict[str, Any]]:
        """A student's Assignments tab: fetch, submit or fetch_feedback; the student's assignment list
        after."""
        result = self.user(student, "POST", f"assignments/{action}",
                           data={"course_id": COURSE_ID, "assignment_id": assignment})
        assert result.get("success"), f"{student} {action}: {result}"
        return [item for item in result["value"] if item["assignment_id"] == assignment]


# --- the exercise set: who solves what, and the scores that follow ----------------------------


def _nbgrader(cell: dict[str, Any]) -> dict[str, Any]:
    return cell.get("metadata", {}).get("nbgrader", {})


def _is_code_test(cell: dict[str, Any]) -> bool:
    return (cell["cell_type"] == "code" and _nbgrader(cell).get("grade")
            and not _nbgrader(cell).get("solution"))


def _is_code_solution(cell: dict[str, Any]) -> bool:
    return cell["cell_type"] == "code" and bool(_nbgrader(cell).get("solution"))


def _first_task(source: dict[str, Any]) -> tuple[set[str], set[str]]:
    """(solution cells before the first test cell, test cells from there to the next solution cell)."""
    solutions, tests = set(), set()
    for cell in source["cells"]:
        if _is_code_solution(cell):
            if tests:
                break
            solutions.add(_nbgrader(cell)["grade_id"])
        elif _is_code_test(cell) and solutions:
            tests.add(_nbgrader(cell)["grade_id"])
    return solutions, tests


def _solve(student_nb: dict[str, Any], source: dict[str, Any], only: set[str] | None) -> dict[str, Any]:
    """The student's notebook with the source's answers pasted into its answer cells (``only``: those)."""
    answers = {_nbgrader(c)["grade_id"]: c["source"] for c in source["cells"] if _nbgrader(c).get("solution")}
    solved = copy.deepcopy(student_nb)
    for cell in solved["cells"]:
        grade_id = _nbgrader(cell).get("grade_id")
        if _nbgrader(cell).get("solution") and grade_id in answers and (only is None or grade_id in only):
            cell["source"] = answers[grade_id]
    return solved


# --- the class --------------------------------------------------------------------------------


@dataclass
class ClassRun:
    """What the classroom run leaves for the assertions."""

    assignment: str
    notebook: str
    instructor: str
    students: dict[str, str]  # role ("full", "partial", "untouched") → user name
    course_dir: Path
    expected: dict[str, dict[str, float]]  # role → test cell → points
    grades: dict[str, dict[str, float | None]] = field(default_factory=dict)  # role → graded cell → score
    feedback: dict[str, list[str]] = field(default_factory=dict)  # role → feedback HTML files' text
    denied: dict[str, bool] = field(default_factory=dict)  # what a student tried → refused
    graded_copy: Path | None = None  # the instructor's course directory, copied before teardown
    seconds: dict[str, float] = field(default_factory=dict)
    # HTTP status of a login with the right, then a wrong password
    logins: list[int] = field(default_factory=list)


def _grades(db_url: str, notebook: str, assignment: str, student: str) -> dict[str, float | None]:
    """Every graded cell's score of one student's notebook (written answers too: 0 until graded by hand)."""
    from nbgrader.api import Gradebook

    with Gradebook(db_url) as gradebook:
        submission = gradebook.find_submission_notebook(notebook, assignment, student)
        return {g.name: g.score for g in submission.grades}


@pytest.fixture(scope="module")
def classroom(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ClassRun]:
    started = time.monotonic()
    exercise = _exercise_set()
    assert exercise is not None
    source_nb_path = next(exercise.glob("*.ipynb"))
    source_nb = json.loads(source_nb_path.read_text())
    tag = secrets.token_hex(3)
    instructor = f"mmc{tag}i"
    students = {role: f"mmc{tag}s{i}" for i, role in enumerate(("full", "partial", "untouched"), 1)}
    users = [instructor, *students.values()]

    scratch = Path(tempfile.mkdtemp(prefix="classroom-", dir="/tmp"))
    scratch.chmod(0o755)
    env_dir, exchange, state = scratch / "course-env", scratch / "exchange", scratch / "hub"
    if os.environ.get("CLASSROOM_COURSE_ENV"):  # a course environment installed by setup_course.sh
        env_dir = Path(os.environ["CLASSROOM_COURSE_ENV"])
    hub_process: subprocess.Popen[bytes] | None = None
    hub_log = scratch / "hub.log"
    try:
        for user in users:
            _run(["useradd", "--create-home", "--shell", "/bin/bash", user], check=True)
        if not env_dir.exists():
            _build_course_env(env_dir)

        marks = {"users and environment": time.monotonic()}
        # The course as an instructor sets it up: a source folder holding just this exercise set.
        source = scratch / "source"
        (source / "solutions").mkdir(parents=True)
        shutil.copytree(exercise, source / "solutions" / exercise.name)
        shutil.copy(ROOT / "nbgrader_config.py", source / "nbgrader_config.py")
        (source / "deploy").symlink_to(ROOT / "deploy")
        setup = ["bash", str(ROOT / "deploy" / "setup_course.sh"), "--instructor", instructor, "--students",
                 " ".join(students.values()), "--course-env", str(env_dir), "--exchange", str(exchange),
                 "--source", str(source)]
        for _ in range(2):  # the second time changes nothing (students who join later: run it again)
            done = _run(setup)
            assert done.returncode == 0, done.stdout + done.stderr
        course_dir = Path(pwd.getpwnam(instructor).pw_dir) / COURSE_ID
        marks["setup_course.sh (twice)"] = time.monotonic()

        # The Hub on free loopback ports, started as an administrator would.
        port, hub_port, proxy_port = _free_port(), _free_port(), _free_port()
        token = secrets.token_hex(32)
        env = {**os.environ, "PATH": f"{BIN}:{os.environ.get('PATH', '')}", "COURSE_ENV": str(env_dir),
               "COURSE_HUB_STATE": str(state), "COURSE_HUB_BIND_URL": f"http://127.0.0.1:{port}",
               "COURSE_HUB_API_URL": f"http://127.0.0.1:{hub_port}",
               "COURSE_PROXY_API_URL": f"http://127.0.0.1:{proxy_port}",
               "COURSE_INSTRUCTORS": instructor, "COURSE_STUDENTS": ",".join(students.values()),
               "COURSE_SERVICE_TOKEN": token}
        with hub_log.open("wb") as log:
            hub_process = subprocess.Popen([str(BIN / "jupyterhub"), "-f",
                                            str(ROOT / "deploy" / "jupyterhub_config.py")],
                                           cwd=scratch, env=env, stdout=log, stderr=subprocess.STDOUT,
                                           start_new_session=True)
        hub = Hub(f"http://127.0.0.1:{port}", token)
        deadline = time.monotonic() + 60
        while True:
            try:
                if hub.session.get(f"{hub.url}/hub/api/", timeout=5).status_code == 200:
                    break
            except Exception:
                pass
            assert hub_process.poll() is None and time.monotonic() < deadline, hub_log.read_text()[-3000:]
            time.sleep(0.3)
        existing = {u["name"] for u in hub.api("GET", "users")}
        for user in users:
            if user not in existing:
                hub.api("POST", f"users/{user}")
        marks["Hub up"] = time.monotonic()
        hub.start_servers(users)
        marks["4 servers started"] = time.monotonic()
        run = ClassRun(assignment=exercise.name, notebook=source_nb_path.stem, instructor=instructor,
                       students=students, course_dir=course_dir, expected={})
        previous = started
        for phase, mark in marks.items():
            run.seconds[phase], previous = mark - previous, mark

        # Release, fetch, solve, submit.
        t0 = time.monotonic()
        a, nb_file = exercise.name, source_nb_path.name
        hub.formgrader(instructor, f"assignment/{a}/assign")
        hub.formgrader(instructor, f"assignment/{a}/release")
        first_solutions, first_tests = _first_task(source_nb)
        points = {_nbgrader(c)["grade_id"]: float(_nbgrader(c)["points"])
                  for c in source_nb["cells"] if _is_code_test(c)}
        run.expected = {"full": dict(points),
                        "partial": {g: (p if g in first_tests else 0.0) for g, p in points.items()},
                        "untouched": {g: 0.0 for g in points}}
        for role, student in students.items():
            listing = hub.assignments(student, "fetch", a)
            assert any(item["status"] == "fetched" for item in listing), listing
            model = hub.user(student, "GET", f"api/contents/{a}/{nb_file}", params={"content": 1})
            if role != "untouched":
                content = _solve(model["content"], source_nb, None if role == "full" else first_solutions)
                hub.user(student, "PUT", f"api/contents/{a}/{nb_file}",
                         json={"type": "notebook", "format": "json", "content": content})
            listing = hub.assignments(student, "submit", a)
            assert any(item["status"] == "submitted" for item in listing), listing

        run.seconds["release, fetch, solve, submit"] = time.monotonic() - t0
        # Collect, grade, feedback.
        t0 = time.monotonic()
        hub.formgrader(instructor, f"assignment/{a}/collect")
        for student in students.values():
            hub.formgrader(instructor, f"submission/{a}/{student}/autograde")
        run.seconds["autograde (SQLite, via the Hub)"] = time.monotonic() - t0
        hub.formgrader(instructor, f"assignment/{a}/generate_feedback")
        hub.formgrader(instructor, f"assignment/{a}/release_feedback")
        for role, student in students.items():
            hub.assignments(student, "fetch_feedback", a)
            folder = hub.user(student, "GET", f"api/contents/{a}/feedback", params={"content": 1})
            run.feedback[role] = [
                hub.user(student, "GET", f"api/contents/{page['path']}",
                         params={"content": 1, "format": "text"})["content"]
                for stamp in folder["content"] if stamp["type"] == "directory"
                for page in hub.user(student, "GET", f"api/contents/{stamp['path']}",
                                     params={"content": 1})["content"]
                if page["name"].endswith(".html")]
            run.grades[role] = _grades(f"sqlite:///{course_dir}/gradebook.db", run.notebook, a, student)

        # What one student tries to read of the others' work and of the instructor's.
        spy, victim = students["partial"], students["full"]
        victim_home = Path(pwd.getpwnam(victim).pw_dir)
        course_exchange = exchange / COURSE_ID
        attempts = {
            "instructor's course directory": ["ls", str(course_dir)],
            "instructor's gradebook": ["cat", str(course_dir / "gradebook.db")],
            "instructor's solutions": ["cat", str(course_dir / "solutions" / a / nb_file)],
            "another student's home copy": ["cat", str(victim_home / a / nb_file)],
            "list of submissions in the exchange": ["ls", str(course_exchange / "inbound")],
            "list of feedback in the exchange": ["ls", str(course_exchange / "feedback")],
        }
        run.denied = {what: _as_user(spy, args, env_dir).returncode != 0 for what, args in attempts.items()}
        # ... and over the Hub, with the student's own API token.
        own_token = hub.api("POST", f"users/{spy}/tokens", json={"note": "classroom test"})["token"]
        import requests

        as_spy = {"Authorization": f"token {own_token}"}
        own = requests.get(f"{hub.url}/user/{spy}/api/contents", headers=as_spy, timeout=60,
                           allow_redirects=False)
        other = requests.get(f"{hub.url}/user/{victim}/api/contents/{a}", headers=as_spy, timeout=60,
                             allow_redirects=False)
        run.denied["own server over the Hub (control: allowed)"] = own.status_code >= 400
        run.denied["another student's server over the Hub"] = \
            other.status_code >= 400 or "content" not in other.text
        # Logging in as a person does: the login form, checked against the OS password by PAM.
        password = secrets.token_urlsafe(16)
        _run(["chpasswd"], input=f"{spy}:{password}\n", check=True)
        for attempt in (password, password + "x"):
            browser = requests.Session()
            form = browser.get(f"{hub.url}/hub/login", timeout=60).text
            xsrf = re.search(r'name="_xsrf" value="([^"]+)"', form).group(1)
            reply = browser.post(f"{hub.url}/hub/login",
                                 data={"username": spy, "password": attempt, "_xsrf": xsrf},
                                 timeout=60, allow_redirects=False)
            run.logins.append(reply.status_code)
        formgrader = requests.get(f"{hub.url}/user/{spy}/formgrader/api/status", headers=as_spy, timeout=60,
                                  allow_redirects=False)
        run.denied["formgrader in a student's own server"] = formgrader.status_code >= 400

        # Keep the graded course for the PostgreSQL comparison, then stop everything.
        run.graded_copy = tmp_path_factory.mktemp("graded") / COURSE_ID
        shutil.copytree(course_dir, run.graded_copy)
        t0 = time.monotonic()
        hub.stop_servers(users)
        run.seconds["stop servers"] = time.monotonic() - t0
        run.seconds["whole class"] = time.monotonic() - started
        yield run
    finally:
        if hub_process is not None and hub_process.poll() is None:
            os.killpg(hub_process.pid, signal.SIGTERM)  # the Hub stops the users' servers and its proxy
            try:
                hub_process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(hub_process.pid, signal.SIGKILL)
                hub_process.wait(timeout=10)
        for user in users:
            _remove_user(user)
        if os.environ.get("CLASSROOM_KEEP_LOG") and hub_log.exists():
            shutil.copy(hub_log, os.environ["CLASSROOM_KEEP_LOG"])
        shutil.rmtree(scratch, ignore_errors=True)


def test_class_on_jupyterhub(classroom: ClassRun) -> None:
    run = classroom
    print(f"\n{run.assignment}: " + ", ".join(f"{k} {v:.1f} s" for k, v in run.seconds.items()))
    for role in ("full", "partial", "untouched"):
        graded = {cell: run.grades[role][cell] for cell in run.expected[role]}
        assert graded == run.expected[role], f"{role} student: graded {graded}, expected {run.expected[role]}"
    assert sum(run.expected["full"].values()) > sum(run.expected["partial"].values()) > 0
    # Each student fetched exactly one feedback page, their own: its total is their score (all three differ).
    for role, pages in run.feedback.items():
        assert len(pages) == 1, f"{role}: {len(pages)} feedback pages"
        assert "BEGIN HIDDEN TESTS" not in pages[0], f"{role}'s feedback shows hidden tests"
        shown = re.search(rf"{re.escape(run.notebook)} \(Score: ([0-9.]+) / ([0-9.]+)\)", pages[0])
        assert shown, f"{role}'s feedback shows no score"
        total = sum(score or 0.0 for score in run.grades[role].values())
        assert float(shown.group(1)) == pytest.approx(total, abs=0.01), \
            f"{role}'s feedback: {shown.group(0)}, graded {total}"
    allowed = [what for what, refused in run.denied.items() if not refused and "control" not in what]
    assert not allowed, f"a student could read: {allowed}"
    assert not run.denied["own server over the Hub (control: allowed)"]
    assert run.logins == [302, 403], f"login with the OS password, then a wrong one: {run.logins}"


# --- the same grading with the gradebook on PostgreSQL -----------------------------------------


def _postgres_tool(name: str) -> str | None:
    found = shutil.which(name) or sorted(Path("/usr/lib/postgresql").glob(f"*/bin/{name}"))
    return found if isinstance(found, str) else (str(found[-1]) if found else None)


@pytest.fixture(scope="module")
def postgres() -> Iterator[str]:
    """A throwaway PostgreSQL cluster on a free loopback port, run by the postgres user: its db_url."""
    tools = {name: _postgres_tool(name) for name in ("initdb", "pg_ctl", "psql")}
    if None in tools.values():
        pytest.skip("PostgreSQL is not installed (.ci/run installs it)")
    try:
        pwd.getpwnam("postgres")
    except KeyError:
        pytest.skip("PostgreSQL is not installed (no postgres user)")
    scratch = Path(tempfile.mkdtemp(prefix="classroom-pg-", dir="/tmp"))
    password, port = secrets.token_hex(12), _free_port()
    (scratch / "pw").write_text(password + "\n")
    shutil.chown(scratch, "postgres")
    shutil.chown(scratch / "pw", "postgres")
    as_postgres = ["runuser", "-u", "postgres", "--"]
    data = scratch / "data"
    try:
        done = _run([*as_postgres, tools["initdb"], "-D", str(data), "-U", "postgres",
                     f"--pwfile={scratch / 'pw'}", "--auth-local=trust", "--auth-host=scram-sha-256",
                     "-E", "UTF8"], cwd=scratch)
        assert done.returncode == 0, done.stderr
        done = _run([*as_postgres, tools["pg_ctl"], "-D", str(data), "-l", str(scratch / "log"), "-w", "-o",
                     f"-c listen_addresses=127.0.0.1 -p {port} -k {scratch}", "start"],
                    cwd=scratch, timeout=60)
        assert done.returncode == 0, done.stderr + (scratch / "log").read_text()
        done = _run([*as_postgres, tools["psql"], "-h", str(scratch), "-p", str(port), "-U", "postgres",
                     "-c", "CREATE DATABASE gradebook"], cwd=scratch)
        assert done.returncode == 0, done.stderr
        yield f"postgresql+psycopg2://postgres:{password}@127.0.0.1:{port}/gradebook"
    finally:
        if (data / "postmaster.pid").exists():
            _run([*as_postgres, tools["pg_ctl"], "-D", str(data), "-m", "fast", "-w", "stop"],
                 cwd=scratch, timeout=60)
        shutil.rmtree(scratch, ignore_errors=True)


def test_postgres_gradebook_gives_the_sqlite_grades(classroom: ClassRun, postgres: str,
                                                    tmp_path: Path) -> None:
    """The class's collected submissions graded again with the gradebook on PostgreSQL (set
    CLASSROOM_SQLITE_TOO=1 to time the same commands on SQLite as well): the grades equal the class's
    own SQLite grades, cell by cell."""
    from conftest import run_nbgrader

    assert classroom.graded_copy is not None
    seconds = {}
    runs = [("PostgreSQL", postgres)] + ([("SQLite", None)] if os.environ.get("CLASSROOM_SQLITE_TOO") else [])
    for name, db_url in runs:
        course = tmp_path / name
        course.mkdir()
        for part in ("solutions", "submitted"):
            shutil.copytree(classroom.graded_copy / part, course / part)
        config = (classroom.graded_copy / "nbgrader_config.py").read_text()
        if db_url:
            config += f"\nc.CourseDirectory.db_url = {db_url!r}\n"
        (course / "nbgrader_config.py").write_text(config)
        done = run_nbgrader(["generate_assignment", classroom.assignment, "--force"], course)
        assert done.returncode == 0, done.stdout + done.stderr
        started = time.monotonic()
        done = run_nbgrader(["autograde", classroom.assignment], course)
        seconds[name] = time.monotonic() - started
        assert done.returncode == 0, done.stdout + done.stderr
        url = db_url or f"sqlite:///{course / 'gradebook.db'}"
        for role, student in classroom.students.items():
            grades = _grades(url, classroom.notebook, classroom.assignment, student)
            assert grades == classroom.grades[role], \
                f"{name}, {role} student: {grades} ≠ {classroom.grades[role]}"
    print(f"\nnbgrader autograde of {len(classroom.students)} submissions: "
          + ", ".join(f"{name} {s:.1f} s" for name, s in seconds.items()))
