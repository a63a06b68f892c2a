"""``make bundle``: the student archive, without solutions, tests or course tooling."""

from __future__ import annotations

import tarfile
from pathlib import Path

BUNDLE_ITEMS = ("README.md", "LICENSE", "environment.yml", "pyproject.toml", "Makefile", "nbgrader_config.py",
                "chapters", "exercises", "zh", "helpers", "docs/student-guide.zh.md")
BUNDLE_SKIP = ("__pycache__", ".ipynb_checkpoints", ".pyc", ".egg-info")


def bundle_files(root: Path) -> list[Path]:
    """What students get: the items above that exist, without caches (never solutions/ or tests/)."""
    files = []
    for item in BUNDLE_ITEMS:
        path = root / item
        candidates = [path] if path.is_file() else sorted(p for p in path.rglob("*") if p.is_file())
        files += [p for p in candidates
                  if not any(s in part for part in p.relative_to(root).parts for s in BUNDLE_SKIP)]
    return files


def bundle(root: Path, out: Path | None = None) -> Path:
    """``make bundle``: dist/multimodal-course-student.tar.gz, everything under multimodal-course/."""
    root = Path(root).resolve()
    out = Path(out or root / "dist" / "multimodal-course-student.tar.gz")
    out.parent.mkdir(parents=True, exist_ok=True)
    files = bundle_files(root)
    with tarfile.open(out, "w:gz", dereference=True) as archive:
        for path in files:
            archive.add(path, arcname=f"multimodal-course/{path.relative_to(root)}", recursive=False)
    print(f"wrote {out} ({len(files)} files, {out.stat().st_size / 1e6:.1f} MB)")
    return out
