"""The course as nbgrader sees it: its config, directories, assignments and source notebooks."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any


def load_config(root: Path) -> Any:
    """The nbgrader config a command run in ``root`` would read (Jupyter's config paths, then root)."""
    from jupyter_core.paths import jupyter_config_path
    from traitlets.config import Config
    from traitlets.config.loader import PyFileConfigLoader

    config = Config()
    for folder in [*reversed(jupyter_config_path()), str(root)]:
        if (Path(folder) / "nbgrader_config.py").is_file():
            config.merge(PyFileConfigLoader("nbgrader_config.py", path=folder).load_config())
    return config


def course_directory(root: Path, config: Any, **overrides: str) -> Any:
    """nbgrader's CourseDirectory for ``root`` with ``config`` and some traits overridden."""
    from nbgrader.coursedir import CourseDirectory
    from traitlets.config import Config

    settings = Config()
    settings.CourseDirectory.root = str(root)
    for name, value in overrides.items():
        settings.CourseDirectory[name] = value
    merged = Config(config)
    merged.merge(settings)
    return CourseDirectory(config=merged)


def nbgrader_api(root: Path, config: Any, **overrides: str) -> Any:
    """An in-process NbGraderAPI on the course at ``root`` (one start-up for many commands)."""
    from nbgrader.apps import NbGraderAPI

    return NbGraderAPI(coursedir=course_directory(root, config, **overrides), config=config)


def source_root(root: Path, config: Any) -> Path:
    """The folder of the assignments' sources (``solutions/`` in this course)."""
    return Path(root) / course_directory(root, config).source_directory


def assignments_in(source: Path, wanted: str | None = None) -> list[str]:
    """Assignment names with a source folder holding a notebook; ``wanted`` picks one (or a prefix: ex01)."""
    names = sorted(p.name for p in source.glob("*") if p.is_dir() and any(p.glob("*.ipynb")))
    if wanted is None:
        return names
    return [n for n in names if n == wanted] or [n for n in names if n.split("_")[0] == wanted]


def notebook_cells(notebook: Path) -> list[dict[str, Any]]:
    """The cells of a notebook file (empty when it cannot be read as a notebook)."""
    try:
        return json.loads(notebook.read_text())["cells"]
    except (OSError, ValueError, KeyError, TypeError):
        return []


def cell_text(cell: dict[str, Any], key: str = "source") -> str:
    """A cell's source (or an output's ``key``, e.g. "text") as one string."""
    value = cell.get(key, "")
    return value if isinstance(value, str) else "".join(value)


def largest_code_cell_count(source: Path, assignments: list[str]) -> int:
    """The most code cells of any source notebook of these assignments (bounds the kernel's CPU time)."""
    counts = [sum(c.get("cell_type") == "code" for c in notebook_cells(nb))
              for a in assignments for nb in (source / a).glob("*.ipynb")]
    return max(counts, default=1)
