"""A control group per student kernel: its memory, processes and CPU counted together, whatever it forks.

Per-process limits (``prlimit``) let a kernel fork its way around them: four children of 4 GB each, or
hundreds of spinners that each start a new session. A cgroup holds every process the kernel starts, so
``memory_mb`` is the whole kernel's memory, ``processes`` its process count, and ``cpus`` the CPU time it
may use per second of wall time (one CPU by default), and the worker kills whatever is left when the
student is done. cgroup v2 (one unified tree, as on a systemd machine with delegation) is used where it
has the controllers, else cgroup v1 (one mount per controller, as on these grading machines).
"""

from __future__ import annotations

import os
import signal
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path("/sys/fs/cgroup")
CONTROLLERS = ("memory", "pids", "cpu")
PARENT = "multimodal-course"
PERIOD_US = 100_000


@dataclass
class Limits:
    """What one kernel's cgroup allows."""

    memory_bytes: int
    processes: int
    cpus: float = 1.0


def version() -> int:
    """2 when the unified hierarchy offers every controller, 1 when v1 mounts do, 0 when neither."""
    controllers = ROOT / "cgroup.controllers"
    if controllers.exists() and set(CONTROLLERS) <= set(controllers.read_text().split()):
        return 2
    if all((ROOT / name / "cgroup.procs").exists() for name in CONTROLLERS):
        return 1
    return 0


def unavailable() -> str:
    """Why kernels cannot get a cgroup here ('' when they can)."""
    level = version()
    if level == 0:
        return (f"no cgroup controllers {', '.join(CONTROLLERS)} at {ROOT} (cgroup v2 with them enabled, "
                "or v1 mounts under /sys/fs/cgroup/<controller>)")
    probe = directories(f"{PARENT}/probe-{os.getpid()}")
    try:
        for folder in probe:
            folder.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        return f"cannot create a cgroup under {ROOT} ({error.strerror}): grade as root"
    finally:
        remove(probe)
    return ""


def directories(name: str) -> list[Path]:
    """The cgroup folders of ``name``: one in the unified tree, or one per controller in v1."""
    if version() == 2:
        return [ROOT / name]
    return [ROOT / controller / name for controller in CONTROLLERS]


def create(name: str, limits: Limits) -> list[Path]:
    """Make the cgroup ``name`` with ``limits``; its folders (write a pid to ``cgroup.procs`` to join)."""
    folders = directories(name)
    if version() == 2:
        enable_controllers(ROOT / name)
    kill_all([f for f in folders if f.exists()])  # left by a grader that was killed: nothing may linger
    for folder in folders:
        folder.mkdir(parents=True, exist_ok=True)
    quota = str(int(limits.cpus * PERIOD_US))
    settings = ({"memory.max": str(limits.memory_bytes), "memory.swap.max": "0",
                 "pids.max": str(limits.processes), "cpu.max": f"{quota} {PERIOD_US}"} if version() == 2 else
                {"memory.limit_in_bytes": str(limits.memory_bytes), "pids.max": str(limits.processes),
                 "cpu.cfs_period_us": str(PERIOD_US), "cpu.cfs_quota_us": quota})
    for file, value in settings.items():
        target = next((f / file for f in folders if (f / file).exists()), None)
        if target is not None:
            target.write_text(value)
    return folders


def enable_controllers(leaf: Path) -> None:
    """cgroup v2: let every folder above ``leaf`` hand memory, pids and cpu down to its children."""
    folder = ROOT
    for part in leaf.relative_to(ROOT).parts:
        try:
            (folder / "cgroup.subtree_control").write_text(" ".join(f"+{c}" for c in CONTROLLERS))
        except OSError:
            pass  # already enabled, or refused where the folder holds processes itself
        folder = folder / part
        folder.mkdir(exist_ok=True)


def join(folders: list[str | Path], pid: int = 0) -> None:
    """Move process ``pid`` (0: this one) into the cgroup; its children are born there."""
    for folder in folders:
        (Path(folder) / "cgroup.procs").write_text(str(pid or os.getpid()))


def pids(folders: list[Path]) -> set[int]:
    """Every process in the cgroup."""
    found: set[int] = set()
    for folder in folders:
        procs = folder / "cgroup.procs"
        if procs.exists():
            found |= {int(p) for p in procs.read_text().split()}
    return found


def kill_all(folders: list[Path], attempts: int = 50) -> int:
    """SIGKILL every process of the cgroup until none is left (forks racing the kill are caught by the
    next round); how many were killed."""
    killed: set[int] = set()
    for _ in range(attempts):
        left = pids(folders)
        if not left:
            break
        for pid in left:
            try:
                os.kill(pid, signal.SIGKILL)
                killed.add(pid)
            except ProcessLookupError:
                pass
        time.sleep(0.02)
    return len(killed)


def remove(folders: list[Path]) -> None:
    """Kill what is left and delete the cgroup (a v2 parent folder stays for the next kernel)."""
    kill_all(folders)
    for folder in folders:
        for _ in range(50):
            try:
                if folder.exists():
                    folder.rmdir()
                break
            except OSError:  # processes still leaving
                time.sleep(0.02)
