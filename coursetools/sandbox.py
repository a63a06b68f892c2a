"""The grading sandbox: every student kernel of ``make grade`` and ``make check`` runs inside bubblewrap.

The rule: nothing the kernel can read holds a hidden test or another student's work, and nothing
outside its own scratch is writable. ``kernelspec(...)`` writes a Jupyter kernelspec whose argv is
``python -I coursetools/sandbox.py <settings.json> <connection file>``; that launcher runs where nbgrader
starts the kernel (the submission's ``autograded/<student>/<assignment>/``) and execs

    bwrap  (a read-only view of /, new mount/PID/IPC/UTS/network namespaces, no network at all)
      prlimit  (address space, processes, CPU seconds, file size)
        setpriv --reuid 65534-k  (nobody, one uid per worker k: RLIMIT_NPROC does not bind root)
          python -m ipykernel_launcher -f <connection file>

In that view the course folder, the code repository, their parent folders, the home folder, /tmp,
/var/tmp, /run and every top-level folder but the system's (``SYSTEM_DIRS``) are empty; only the Python
installation, ``helpers/`` and this submission's scratch folder come back. The scratch folder is a
*copy* of the working directory without its notebooks (the notebook being graded holds the restored
hidden tests; the kernel gets its code over the kernel protocol instead), mounted at the working
directory's own path, writable, with a private /tmp beside it. The kernel talks to nbgrader over Unix
sockets (zmq ``ipc``) in a folder of its own, so it needs no network namespace of the host.

When the grader is root, ``make grade``'s kernels are *warm*: forks of the worker's zygote (``zygote.py``),
moved into a sandbox that bwrap built around a placeholder (``run_warm_kernel``), with the same limits,
uid and environment as the chain above.

Limits come from ``Limits`` below; a course changes them in nbgrader_config.py, e.g.
``c.Sandbox.memory_mb = 8192`` (names as in ``Limits``).
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any, Iterator

KERNEL_NAME = "course-sandbox"
# the namespaces a warm kernel joins (zygote.py), in nsenter's order: the mount namespace last
ZYGOTE_NAMESPACES = ("cgroup", "uts", "ipc", "net", "pid", "mnt")
REPO = Path(__file__).resolve().parents[1]
NOBODY = 65534
SYSTEM_TEMP = ("/tmp", "/var/tmp", "/run", "/dev/shm")
# Top-level folders the kernel sees (read-only); every other one (/work, /home, /root, /srv, ...) is empty.
SYSTEM_DIRS = frozenset({"usr", "bin", "sbin", "lib", "lib32", "lib64", "libx32", "etc", "opt", "var",
                         "dev", "proc", "sys"})
INSTALL = ("apt-get install bubblewrap (Debian/Ubuntu; util-linux provides prlimit and setpriv), "
           "or dnf install bubblewrap")
# Every namespace but the user one: bwrap runs as root, so setpriv can then become nobody (in a new user
# namespace only root would be mapped). The new network namespace holds only loopback.
# A grader who is not root (a self-learner's `make check`) already runs as a user RLIMIT_NPROC binds: bwrap
# then needs a user namespace too, and no uid switch.
AS_ROOT = os.geteuid() == 0
NAMESPACES = ("--unshare-pid", "--unshare-ipc", "--unshare-uts", "--unshare-net", "--unshare-cgroup-try",
              *(() if AS_ROOT else ("--unshare-user",)))


def become(uid: int) -> list[str]:
    """The command prefix that switches to the sandbox's uid (nothing when not root)."""
    return ["setpriv", f"--reuid={uid}", f"--regid={uid}", "--clear-groups", "--"] if AS_ROOT else []


def give(path: Path, uid: int) -> None:
    """Make ``path`` the sandbox user's (root only: otherwise it is already the grader's own)."""
    if AS_ROOT:
        os.chown(path, uid, uid, follow_symlinks=False)


@dataclass
class Limits:
    """Resource limits of one student kernel (override any as ``c.Sandbox.<name>`` in nbgrader_config.py).

    memory_mb: address space (RLIMIT_AS); an allocation above it raises MemoryError in the cell.
    processes: processes and threads of the sandbox user (RLIMIT_NPROC, bound by running as a
        non-root uid, one per worker, so one worker's fork bomb cannot starve another's kernel).
    cpu_seconds: CPU time of the whole kernel (RLIMIT_CPU; reaching it kills the kernel); 0 means
        the sum of the cell time limits of the largest assignment plus ``cpu_margin_seconds``.
    file_mb: the largest file the kernel can write (RLIMIT_FSIZE); a bigger write fails with EFBIG.
    open_files: file descriptors (RLIMIT_NOFILE).
    tmp_mb: size of the kernel's only writable space, a private tmpfs holding /tmp and its working
        folder (so it takes memory, counted in its cgroup): a disk filler stops there.
    cpus: CPU time per second of wall time for all the kernel's processes together (its cgroup), so
        that no kernel, however many processes it starts, slows another's.
    memory_mb and processes also bound the kernel's cgroup: all its processes together.
    """

    memory_mb: int = 4096
    processes: int = 256
    cpu_seconds: int = 0
    cpu_margin_seconds: int = 60
    file_mb: int = 64
    open_files: int = 1024
    tmp_mb: int = 256
    cpus: int = 1


def limits_from(config: Any, cell_timeout: float, code_cells: int) -> Limits:
    """The course's limits: ``Limits`` defaults, ``c.Sandbox.*`` overrides, the CPU bound derived."""
    section = config.get("Sandbox", {}) if hasattr(config, "get") else {}
    limits = Limits(**{f.name: int(section[f.name]) for f in fields(Limits) if f.name in section})
    if limits.cpu_seconds <= 0:
        limits.cpu_seconds = int(max(cell_timeout, 1) * max(code_cells, 1)) + limits.cpu_margin_seconds
    return limits


# --- can this machine sandbox? -------------------------------------------------------------------

def unavailable() -> str:
    """Why the sandbox cannot run here ('' when it can): a missing tool, or no namespaces."""
    missing = [tool for tool in ("bwrap", "prlimit", *become(0)[:1]) if shutil.which(tool) is None]
    if missing:
        return f"{', '.join(missing)} not found: {INSTALL}"
    probe = subprocess.run(["bwrap", "--ro-bind", "/", "/", "--dev", "/dev", "--proc", "/proc", *NAMESPACES,
                            "--die-with-parent", *become(NOBODY), "true"], capture_output=True, text=True)
    if probe.returncode != 0:
        return (f"bwrap cannot create namespaces here ({probe.stderr.strip() or probe.returncode}): "
                "run grading "
                "as root, or allow unprivileged user namespaces (sysctl kernel.unprivileged_userns_clone=1)")
    return ""


UNSAFE_HINT = ("make grade UNSAFE_NO_SANDBOX=1 (python -m coursetools grade --unsafe-no-sandbox) grades "
               "without it: student code then runs with your rights and can read the hidden tests and the "
               "gradebook")



def require_sandbox(unsafe: bool) -> None:
    """Stop with what to install when the sandbox cannot run, unless the instructor chose to grade
    unsafely."""
    if unsafe:
        print("WARNING: grading WITHOUT the sandbox: student code runs with your rights "
              "(it can read solutions/, the gradebook and other students' work)", file=sys.stderr)
        return
    why = unavailable()
    if why:
        raise SystemExit(f"cannot sandbox student code: {why}.\n{UNSAFE_HINT}.")


# --- what the grading side sets up --------------------------------------------------------------

def kernelspec(folder: Path, limits: Limits, hide: list[Path], ipc_dir: Path,
               use_cgroups: bool) -> dict[str, Any]:
    """Write ``folder/kernels/course-sandbox`` and the launcher's settings; what a worker needs to use it
    (the nbgrader config, JUPYTER_PATH, the settings file).

    ``folder`` goes first on JUPYTER_PATH (the caller sets it). ``hide``: folders the kernel must not see
    besides the defaults (the course root, this repository, the home folder). Each student's kernels get
    their own uid and cgroup from ``isolated_student``, which rewrites the settings before they start.
    """
    spec = folder / "kernels" / KERNEL_NAME
    spec.mkdir(parents=True, exist_ok=True)
    ipc_dir.mkdir(parents=True, exist_ok=True)
    settings = {"limits": asdict(limits), "hide": [str(p) for p in hide], "python": sys.executable,
                "ipc_dir": str(ipc_dir), "uid": os.getuid(), "use_cgroups": use_cgroups, "cgroup": [],
                "zygote": str(folder / "zygote.sock") if AS_ROOT else ""}
    (spec / "settings.json").write_text(json.dumps(settings, indent=1))
    # -I: the launcher runs as the grader in the student's folder, so it must never import from there.
    argv = [sys.executable, "-I", str(Path(__file__).resolve()), str(spec / "settings.json"),
            "{connection_file}"]
    (spec / "kernel.json").write_text(json.dumps({"argv": argv, "display_name": "Python 3 (grading sandbox)",
                                                  "language": "python", "interrupt_mode": "message"}))
    config = {"Execute": {"kernel_name": KERNEL_NAME},
              "KernelManager": {"transport": "ipc", "ip": str(ipc_dir / "kernel")}}
    return {"config": config, "jupyter_path": str(folder), "settings": str(spec / "settings.json")}


# --- one student at a time: a uid of its own, a cgroup, an emptied ipc folder ----------------------------

UID_FIRST, UID_COUNT = 200_000, 10_000
UID_LOCKS = Path(tempfile.gettempdir()) / "multimodal-course-uids"


@contextlib.contextmanager
def unique_uid() -> Iterator[int]:
    """A uid no other grading run on this machine holds while the block runs (a lock file per uid,
    released by the kernel even when the worker dies); the grader's own uid when it is not root."""
    if not AS_ROOT:
        yield os.getuid()
        return
    UID_LOCKS.mkdir(mode=0o700, exist_ok=True)
    start = secrets.randbelow(UID_COUNT)
    for offset in range(UID_COUNT):
        uid = UID_FIRST + (start + offset) % UID_COUNT
        handle = os.open(UID_LOCKS / str(uid), os.O_CREAT | os.O_RDWR, 0o600)
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(handle)
            continue
        try:
            yield uid
        finally:
            os.close(handle)  # closing releases the lock
        return
    raise RuntimeError(f"all {UID_COUNT} grading uids are in use")


def renew(folder: Path) -> None:
    """Replace ``folder`` by a new empty one (nothing one student's kernel left there, files or modes,
    reaches the next; a process still holding the old one holds a deleted folder)."""
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(mode=0o700, parents=True)


@contextlib.contextmanager
def isolated_student(box: dict[str, Any] | None) -> Iterator[None]:
    """The kernels started in the block (one student's) run as a uid of their own, in a fresh cgroup
    (``cgroups.py``) that is emptied and removed afterwards, with an ipc folder nobody left files in."""
    if not box:
        yield
        return
    from coursetools import cgroups

    path = Path(box["settings"])
    settings = json.loads(path.read_text())
    limits = Limits(**settings["limits"])
    with unique_uid() as uid:
        folders = (cgroups.create(f"{cgroups.PARENT}/{uid}", cgroups.Limits(
            limits.memory_mb * 2**20, limits.processes, limits.cpus)) if settings["use_cgroups"] else [])
        path.write_text(json.dumps({**settings, "uid": uid, "cgroup": [str(f) for f in folders]}, indent=1))
        ipc = Path(settings["ipc_dir"])
        renew(ipc)
        give(ipc, uid)
        try:
            yield
        finally:
            cgroups.remove(folders)
            renew(ipc)


@contextlib.contextmanager
def warm_kernels(box: dict[str, Any] | None) -> Iterator[None]:
    """While the block runs, the worker's zygote (``zygote.py``) forks its sandboxed kernels."""
    settings = json.loads(Path(box["settings"]).read_text()) if box else {}
    if not settings.get("zygote"):
        yield
        return
    import socket

    path = Path(settings["zygote"])
    path.unlink(missing_ok=True)
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as listener:
        listener.bind(str(path))
        listener.listen(16)
        zygote = subprocess.Popen(zygote_command(settings, listener.fileno()), pass_fds=[listener.fileno()],
                                  stdin=subprocess.DEVNULL)
    try:
        yield
    finally:
        zygote.kill()
        zygote.wait()
        path.unlink(missing_ok=True)


def zygote_command(settings: dict[str, Any], fd: int) -> list[str]:
    """The zygote in the kernel's environment: a read-only view of the machine with a private /tmp (its
    home), so what it caches while importing is what a fresh kernel would; root, to enter namespaces."""
    under_tmp = [f for f in {*visible_again(["/tmp"]), str(REPO)} if Path(f).is_relative_to("/tmp")]
    binds = [arg for folder in sorted(under_tmp)
             for arg in (*mountpoint(folder, ["/tmp"]), "--ro-bind", folder, folder)]
    env = [arg for name, value in kernel_env(settings["python"]).items() for arg in ("--setenv", name, value)]
    return ["bwrap", "--ro-bind", "/", "/", "--dev", "/dev", "--perms", "1777", "--tmpfs", "/tmp", *binds,
            "--chdir", "/tmp", "--die-with-parent", "--clearenv", *env, "--cap-add", "ALL",
            settings["python"], "-m", "coursetools.zygote", str(fd)]


# --- the launcher (runs in the kernel's working directory, then becomes bwrap) -----------------------

def hidden_folders(settings: dict[str, Any]) -> list[str]:
    """Folders replaced by an empty tmpfs: system temp dirs, home, the course, the repo and their parents,
    and every top-level folder but the system's (``SYSTEM_DIRS``)."""
    home = Path(os.path.expanduser("~")).resolve()
    folders = {Path(p).resolve() for p in settings["hide"]} | {REPO}
    folders |= {p.parent for p in folders} | {home} | {Path(p) for p in SYSTEM_TEMP}
    folders |= {p for p in Path("/").iterdir()  # every other top-level folder: another copy of the course
                if p.is_dir() and not p.is_symlink() and p.name not in SYSTEM_DIRS}  # may lie anywhere
    folders = {p for p in folders - {Path("/")} if p.exists()}
    return sorted(str(p) for p in folders if not any(a in folders for a in p.parents))  # outermost only


def visible_again(hidden: list[str]) -> list[str]:
    """Read-only folders the kernel needs that lie inside a hidden one: Python, the venv, helpers/."""
    needed = {Path(sys.prefix), Path(sys.base_prefix).resolve(), Path(sys.executable).resolve().parent.parent,
              REPO / "helpers"}
    inside = [p for p in needed if any(p == Path(h) or Path(h) in p.parents for h in hidden)]
    return sorted(str(p) for p in inside if p.exists())


def mountpoint(target: str, hidden: list[str]) -> list[str]:
    """bwrap arguments creating the folders above ``target`` inside hidden (tmpfs) folders as 0755
    (bwrap would make them 0700, which the kernel's uid cannot enter)."""
    above = [p for p in reversed(Path(target).parents) if any(Path(h) in p.parents for h in hidden)]
    return [arg for p in above for arg in ("--perms", "0755", "--dir", str(p))]


WORK = "/tmp/work"          # the kernel's working folder, in its private tmpfs
IPC = "/tmp/.ipc"           # where the kernel sees the worker's ipc folder
CONNECTION = "/tmp/.kernel/connection.json"
MAX_FILES = 500


def submission_files(workdir: Path) -> list[Path]:
    """The files of the working directory the kernel gets a copy of (no notebook, no link), relative."""
    files = [p.relative_to(workdir) for p in sorted(workdir.rglob("*"))
             if p.is_file() and not p.is_symlink() and p.suffix != ".ipynb"
             and ".ipynb_checkpoints" not in p.parts]
    return files[:MAX_FILES]


def file_arguments(workdir: Path, files: list[Path], connection: bytes) -> tuple[list[str], list[int]]:
    """bwrap arguments that copy the submission's files and the connection file into the private tmpfs
    (from open descriptors, so no host path appears), and those descriptors."""
    argv = ["--perms", "0777", "--dir", WORK, "--perms", "0755", "--dir", str(Path(CONNECTION).parent)]
    fds = []
    for folder in sorted({f.parent for f in files} - {Path(".")}, key=lambda f: len(f.parts)):
        argv += ["--perms", "0777", "--dir", f"{WORK}/{folder}"]
    for relative in files:
        fds.append(os.open(workdir / relative, os.O_RDONLY))
        argv += ["--perms", "0666", "--file", str(fds[-1]), f"{WORK}/{relative}"]
    fds.append(in_memory(connection))
    argv += ["--perms", "0444", "--file", str(fds[-1]), CONNECTION]
    return argv, fds


def in_memory(data: bytes) -> int:
    """A descriptor reading ``data`` from its start (an anonymous in-memory file)."""
    fd = os.memfd_create("sandbox", 0)
    os.write(fd, data)
    os.lseek(fd, 0, os.SEEK_SET)
    return fd


def bwrap_options(settings: dict[str, Any], files: list[str]) -> list[str]:
    """bwrap's options: the mounts, namespaces and environment (they name the host's folders, so they
    reach bwrap through a descriptor)."""
    limits = Limits(**settings["limits"])
    hidden = hidden_folders(settings)
    # The private /tmp comes first: a tmpfs mounted later would hide what is bound below it (the venv
    # and helpers/ when the course itself lives under /tmp).
    argv = ["--ro-bind", "/", "/", "--dev", "/dev", "--proc", "/proc",
            "--perms", "1777", "--size", str(limits.tmp_mb * 2**20), "--tmpfs", "/tmp"]
    for folder in hidden:
        if folder != "/tmp":
            argv += ["--tmpfs", folder]
    for folder in visible_again(hidden):
        argv += [*mountpoint(folder, hidden), "--ro-bind", folder, folder]
    argv += [*files, "--bind", settings["ipc_dir"], IPC]
    argv += ["--chdir", WORK, *NAMESPACES, "--die-with-parent", "--new-session", "--clearenv"]
    for name, value in kernel_env(settings["python"]).items():
        argv += ["--setenv", name, value]
    return argv


def kernel_env(python: str) -> dict[str, str]:
    """The kernel's whole environment."""
    return {"PATH": f"{Path(python).parent}:/usr/local/bin:/usr/bin:/bin", "HOME": "/tmp",
            "IPYTHONDIR": "/tmp/.ipython", "MPLCONFIGDIR": "/tmp/.matplotlib", "MPLBACKEND": "agg",
            "LANG": "C.UTF-8", "PYTHONDONTWRITEBYTECODE": "1", "PYTHONWARNINGS": "ignore",
            **{k: "1" for k in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS",
                                "NUMEXPR_NUM_THREADS")}}


def kernel_rlimits(settings: dict[str, Any]) -> dict[str, int]:
    """The kernel's per-process limits (``resource`` names), as ``Limits`` sets them."""
    limits = Limits(**settings["limits"])
    return {"RLIMIT_AS": limits.memory_mb * 2**20, "RLIMIT_NPROC": limits.processes,
            "RLIMIT_CPU": limits.cpu_seconds, "RLIMIT_FSIZE": limits.file_mb * 2**20,
            "RLIMIT_NOFILE": limits.open_files, "RLIMIT_CORE": 0}


def kernel_arguments() -> list[str]:
    """The kernel's command-line arguments after ``python -m ipykernel_launcher``."""
    return ["-f", CONNECTION, "--HistoryManager.enabled=False", "--IPKernelApp.log_level=CRITICAL",
            *sys_argv_extra()]  # no start-up notes


def kernel_command(settings: dict[str, Any]) -> list[str]:
    """What bwrap runs: prlimit, setpriv, the kernel (nothing of the host's folders but Python's)."""
    flags = [f"--{name[len('RLIMIT_'):].lower()}={value}" for name, value in kernel_rlimits(settings).items()]
    return ["prlimit", *flags, "--", *become(settings["uid"]), settings["python"], "-m", "ipykernel_launcher",
            *kernel_arguments()]


def sys_argv_extra() -> list[str]:
    """Arguments nbgrader passes after the connection file (c.Execute.extra_arguments)."""
    return sys.argv[3:]


def kernel_connection(connection_file: str) -> bytes:
    """The connection file as the kernel inside sees it: its ipc sockets under ``IPC``."""
    info = json.loads(Path(connection_file).read_text())
    info["ip"] = f"{IPC}/{Path(info['ip']).name}"
    return json.dumps(info).encode()


def launch(settings_file: str, connection_file: str) -> None:
    """Kernelspec entry point: join the student's cgroup, then build the sandbox with bwrap, its arguments
    passed through a descriptor (``--args``), so that no process in the sandbox shows the host's folders.
    The kernel is a fork of the worker's warm process (``zygote.py``) when one answers, else bwrap
    starts a fresh one."""
    settings = json.loads(Path(settings_file).read_text())
    if settings.get("cgroup"):
        from coursetools import cgroups

        cgroups.join(settings["cgroup"])
    workdir = Path.cwd().resolve()
    files, fds = file_arguments(workdir, submission_files(workdir), kernel_connection(connection_file))
    fds.append(in_memory(b"".join(arg.encode() + b"\0" for arg in bwrap_options(settings, files))))
    for fd in fds:
        os.set_inheritable(fd, True)
    zygote = warm_kernel_socket(settings)
    if zygote is not None:
        import ctypes

        ctypes.CDLL(None).prctl(1, signal.SIGKILL, 0, 0, 0)  # PR_SET_PDEATHSIG: end with the worker, as bwrap
        status = run_warm_kernel(zygote, settings, fds)
        if status is not None:
            sys.exit(status)
        for fd in fds:  # the fork answered "cold": a fresh kernel's bwrap reads them again
            os.lseek(fd, 0, os.SEEK_SET)
    os.execvp("bwrap", ["bwrap", "--args", str(fds[-1]), *kernel_command(settings)])


# --- a warm kernel: bwrap builds the sandbox around a placeholder, the zygote's fork moves in -------------

PLACEHOLDER = ["sh", "-c", "echo ready && exec sleep infinity"]
COLD, WARM = b"cold", b"warm"  # the fork's first word: start a fresh kernel instead, or it runs


def warm_kernel_socket(settings: dict[str, Any]) -> Any:
    """A connection to the worker's zygote (None when there is none, or it does not answer)."""
    import socket

    if not (AS_ROOT and settings.get("zygote")):
        return None
    client = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        client.connect(settings["zygote"])
    except OSError:
        client.close()
        return None
    return client


def run_warm_kernel(zygote: Any, settings: dict[str, Any], fds: list[int]) -> int | None:
    """Build the sandbox around a placeholder, have the zygote fork the kernel into it, and wait for the
    kernel to end (its socket closes); the sandbox ends with it. None when the fork answered "cold" (a
    fresh kernel would import something else, or the fork could not enter): then a fresh kernel starts."""
    import socket

    info_read, info_write = os.pipe()
    box = subprocess.Popen(["bwrap", "--args", str(fds[-1]), "--info-fd", str(info_write),
                            *become(settings["uid"]), *PLACEHOLDER], pass_fds=[*fds, info_write],
                           stdout=subprocess.PIPE, stdin=subprocess.DEVNULL)
    os.close(info_write)
    signal.signal(signal.SIGTERM, lambda *_: (box.kill(), sys.exit(1)))
    try:
        if box.stdout.readline().strip() != b"ready":
            return 1
        child = json.loads(os.read(info_read, 4096))["child-pid"]
        handles = [os.open(f"/proc/{child}/ns/{name}", os.O_RDONLY) for name in ZYGOTE_NAMESPACES]
        handles += [os.open(Path(folder) / "cgroup.procs", os.O_WRONLY) for folder in settings["cgroup"]]
        request = {"namespaces": len(ZYGOTE_NAMESPACES), "uid": settings["uid"], "cwd": WORK,
                   "env": kernel_env(settings["python"]), "rlimits": kernel_rlimits(settings),
                   "argv": kernel_arguments()}
        ours, theirs = socket.socketpair()  # the kernel's line back: a socket without a name
        socket.send_fds(zygote, [json.dumps(request).encode()], [theirs.fileno(), *handles])
        for handle in [theirs.detach(), *handles]:
            os.close(handle)
        zygote.close()
        first = ours.recv(len(WARM), socket.MSG_WAITALL)
        if first != WARM:
            return None if first == COLD else 1
        while ours.recv(4096):
            pass
        return 0
    finally:
        box.kill()
        box.wait()


if __name__ == "__main__":
    launch(sys.argv[1], sys.argv[2])
