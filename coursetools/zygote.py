"""Warm kernels: each worker keeps one process with the course's libraries imported, and every student
kernel is a fork of it, moved into that student's sandbox before any of their code runs.

A fresh kernel spends most of its start-up importing IPython, numpy, torch, matplotlib and ``helpers``
(about 1.7 s of CPU, as much again as a short exercise set's own work). The *zygote* imports them once,
holds no student's data and never runs student code. For each kernel, the sandbox launcher
(``sandbox.launch``) builds the student's sandbox with bubblewrap exactly as for a fresh kernel, with a
placeholder process inside, and sends the zygote, over a socket the worker handed it:

* descriptors of the sandbox's namespaces (mount, PID, network, IPC, UTS, cgroup) and of the student's
  cgroup files (so the zygote never learns a path of the host), and one end of an unnamed socket pair;
* the kernel's uid, its resource limits and its environment.

The zygote forks, and the fork reads the request (nothing of it stays in the zygote for later forks),
joins the cgroup and the namespaces and forks the kernel, which is born in the sandbox's PID namespace,
starts its own session, takes the limits, drops to the student's uid (no capability, no supplementary
group, no new privileges), gets the sandbox's environment, closes every other descriptor, reseeds its
random generators, says "warm" on its end of the socket pair and starts IPython's kernel on the connection
file. It keeps that end, so the launcher (the process Jupyter watches) ends when the kernel ends; a
launcher that is killed, or whose worker dies, takes its sandbox, kernel included, with it.

Only a grader running as root can enter namespaces; without root, when no zygote answers, or when the
machine does not let the fork into the sandbox (it then answers "cold"), the launcher starts a fresh kernel
instead. So it does when a fresh kernel would import something else than the
zygote did: the sandbox lacks a folder the zygote imported from, or the student's folder holds a file
named like a preloaded module (a ``helpers.py`` of their own).
"""

from __future__ import annotations

import ctypes
import json
import os
import resource
import signal
import socket
import sys
from typing import Any

PRELOAD = ("numpy", "scipy.optimize", "torch", "torch.nn", "matplotlib", "matplotlib.pyplot", "IPython",
           "ipykernel.kernelapp", "ipykernel.ipkernel", "ipykernel.debugger", "helpers", "helpers.testing",
           "helpers.principles", "helpers.alignment", "helpers.fusion", "helpers.challenges",
           "helpers.applications", "helpers.data")
MAX_REQUEST = 65536
MAX_FDS = 16
PR_SET_DUMPABLE, PR_SET_CHILD_SUBREAPER, PR_SET_NO_NEW_PRIVS = 4, 36, 38
LIBC = ctypes.CDLL(None, use_errno=True)
KERNEL_LAUNCHER = ""  # the file a fresh kernel runs (python -m ipykernel_launcher): its sys.argv[0]
PRELOADED_NAMES: set[str] = set()  # the top-level names of the preloaded modules (numpy, torch, helpers, ...)
IMPORTED_FROM: set[str] = set()  # the folders of the preloaded modules, which the sandbox must show
SET_BY_IMPORTS: dict[str, str] = {}  # what the preloaded modules put in the environment (so would a kernel)
COLD, WARM = b"cold", b"warm"  # the first word to the launcher: start a fresh kernel, or this one runs


def preload() -> None:
    """Import what student kernels use (a module that fails to import is left to the kernel)."""
    import importlib

    for name in PRELOAD:
        try:
            importlib.import_module(name)
        except Exception:  # noqa: BLE001 - the kernel will import it (and report) itself
            pass


def serve(listener: socket.socket) -> None:
    """Fork for every request until the worker closes the socket (or this process's parent dies); the
    request is read in the fork, so nothing of one kernel's request stays here for the next fork."""
    signal.signal(signal.SIGCHLD, signal.SIG_IGN)  # children (and the kernels, adopted) are reaped at once
    LIBC.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)
    while True:
        try:
            connection, _ = listener.accept()
        except OSError:
            return
        if os.fork() == 0:
            listener.close()
            enter_sandbox(connection)  # never returns
        connection.close()


def enter_sandbox(connection: socket.socket) -> None:
    """The fork: read the request, join the student's cgroup and sandbox, fork the kernel there, leave.
    The kernel talks back through the request's own unnamed socket (``fds[0]``), never the zygote's."""
    reply = None
    try:
        message, fds, _, _ = socket.recv_fds(connection, MAX_REQUEST, MAX_FDS)
        connection.close()
        request, reply = json.loads(message), socket.socket(fileno=fds[0])
        count = int(request["namespaces"])
        namespaces, cgroup_files = fds[1:count + 1], fds[count + 1:]
        for fd in cgroup_files:
            os.write(fd, str(os.getpid()).encode())
        for fd in namespaces:
            if LIBC.setns(fd, 0) != 0:
                raise OSError(ctypes.get_errno(), "setns failed")
        del message, connection
        if os.fork() == 0:
            become_kernel(reply, request)  # never returns
    except BaseException:  # noqa: BLE001 - this machine does not let it in (say, no setns): a fresh kernel
        ask_for_a_fresh_kernel(reply)
    os._exit(0)


def ask_for_a_fresh_kernel(reply: socket.socket | None) -> None:
    """Tell the launcher to start a fresh kernel instead (before any student code ran)."""
    try:
        if reply is not None:
            reply.sendall(COLD)
    except OSError:
        pass


def become_kernel(connection: socket.socket, request: dict[str, Any]) -> None:
    """In the sandbox: the student's session, limits, uid and environment, then IPython's kernel."""
    started = False
    try:
        os.chdir(request["cwd"])
        if not all(os.path.isdir(folder) for folder in IMPORTED_FROM) or shadows_preloaded(os.listdir(".")):
            raise ImportError("a fresh kernel would import something else")
        os.setsid()
        for name, value in request["rlimits"].items():
            resource.setrlimit(getattr(resource, name), (value, value))
        LIBC.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0)
        uid = int(request["uid"])
        if uid <= 0:
            raise PermissionError("a kernel never runs as root")
        os.setgroups([])
        os.setresgid(uid, uid, uid)
        os.setresuid(uid, uid, uid)
        LIBC.prctl(PR_SET_DUMPABLE, 1, 0, 0, 0)  # as after an exec: its own /proc files readable
        os.closerange(3, connection.fileno())
        os.closerange(connection.fileno() + 1, 1 << 16)
        os.set_inheritable(connection.fileno(), False)
        fresh_process(request)
        connection.sendall(WARM)  # before any student code, which could write to this socket too
        started = True
        from ipykernel.kernelapp import IPKernelApp

        IPKernelApp.launch_instance(argv=request["argv"])
    except BaseException:  # noqa: BLE001 - not started: a fresh kernel; started: it died, Jupyter says so
        if not started:
            ask_for_a_fresh_kernel(connection)
    os._exit(0)


def shadows_preloaded(names: list[str]) -> bool:
    """Whether a working folder holding files ``names`` has one named like a preloaded module (say a
    student's ``helpers.py``), which a fresh kernel would import in its place."""
    return any(name.split(".")[0] in PRELOADED_NAMES for name in names)


def fresh_process(request: dict[str, Any]) -> None:
    """What a newly started interpreter would have: the sandbox's environment, arguments, import path,
    default signal handlers and unpredictable random generators (Python's string hashes keep the zygote's
    secret: that one is fixed at start-up)."""
    import random

    os.environ.clear()
    os.environ.update(request["env"])
    os.environ.update(SET_BY_IMPORTS)
    sys.argv = [KERNEL_LAUNCHER, *request["argv"]]
    del sys.path[0]  # the zygote's folder; IPython puts the working folder first, as in a fresh kernel
    os.environ["PWD"] = request["cwd"]
    for number in (signal.SIGCHLD, signal.SIGTERM, signal.SIGHUP):
        signal.signal(number, signal.SIG_DFL)
    signal.signal(signal.SIGINT, signal.default_int_handler)
    random.seed()
    if "numpy" in sys.modules:
        sys.modules["numpy"].random.seed()
    if "torch" in sys.modules:
        sys.modules["torch"].seed()
    if "multiprocessing" in sys.modules:
        sys.modules["multiprocessing"].current_process().authkey = os.urandom(32)


def main() -> None:
    """``python -m coursetools.zygote FD``: serve on the listening socket the worker passed as descriptor
    FD."""
    import importlib.util

    global KERNEL_LAUNCHER
    listener = socket.socket(fileno=int(sys.argv[1]))
    LIBC.prctl(1, signal.SIGKILL, 0, 0, 0)  # PR_SET_PDEATHSIG: end with the worker
    KERNEL_LAUNCHER = importlib.util.find_spec("ipykernel_launcher").origin
    before, environment = set(sys.modules), dict(os.environ)
    preload()
    SET_BY_IMPORTS.update({k: v for k, v in os.environ.items() if environment.get(k) != v})
    PRELOADED_NAMES.update(name.split(".")[0] for name in set(sys.modules) - before)
    files = [getattr(sys.modules[name], "__file__", None) for name in set(sys.modules) - before]
    IMPORTED_FROM.update(os.path.dirname(f) for f in files if isinstance(f, str) and os.path.isabs(f))
    IMPORTED_FROM.discard(os.path.dirname(os.path.abspath(__file__)))  # the zygote's own code
    serve(listener)


if __name__ == "__main__":
    main()
