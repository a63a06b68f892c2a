"""The repository's own rules: clean notebooks, helpers everywhere, exercises generated from solutions,
one environment, and documented make targets."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
from conftest import CHAPTERS, EXERCISES, ROOT, SOLUTIONS, run_nbgrader

NOTEBOOKS = CHAPTERS + SOLUTIONS + EXERCISES


def _ids(paths: list[Path]) -> list[str]:
    return [str(p.relative_to(ROOT)) for p in paths]


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=_ids(NOTEBOOKS))
def test_notebook_is_stripped_and_has_kernelspec(notebook: Path) -> None:
    nb = json.loads(notebook.read_text())
    dirty = [i for i, c in enumerate(nb["cells"])
             if c["cell_type"] == "code" and (c.get("outputs") or c.get("execution_count"))]
    assert not dirty, f"{notebook.name}: cells {dirty} carry outputs or execution counts"
    assert nb["metadata"].get("kernelspec", {}).get("name") == "python3", \
        f"{notebook.name}: no python3 kernelspec"


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=_ids(NOTEBOOKS))
def test_notebook_imports_helpers(notebook: Path) -> None:
    code = "\n".join("".join(c["source"]) for c in json.loads(notebook.read_text())["cells"]
                     if c["cell_type"] == "code")
    assert re.search(r"^\s*(import helpers|from helpers)", code, re.MULTILINE), \
        f"{notebook.name} never imports helpers"


def test_chapters_and_exercises_pair_up() -> None:
    """Every chapter NN_name has helpers/name.py and tests/test_name.py; exercises mirror solutions."""
    for chapter in CHAPTERS:
        name = chapter.stem.split("_", 1)[1]
        assert (ROOT / "helpers" / f"{name}.py").exists(), f"{chapter.name} has no helpers/{name}.py"
        assert (ROOT / "tests" / f"test_{name}.py").exists(), f"{chapter.name} has no tests/test_{name}.py"
    solution_sets = {p.parent.name for p in SOLUTIONS}
    assert solution_sets == {p.parent.name for p in EXERCISES}, "run `make release`: exercises/ ≠ solutions/"


def _cells_for_comparison(notebook: Path) -> list[tuple[str, str, dict]]:
    cells = json.loads(notebook.read_text())["cells"]
    return [(c["cell_type"], "".join(c["source"]), c.get("metadata", {}).get("nbgrader", {})) for c in cells]


@pytest.mark.skipif(not SOLUTIONS, reason="no exercise sets yet")
def test_committed_exercises_are_the_release_of_solutions(tmp_path: Path) -> None:
    """Regenerate every assignment in a scratch course: sources and nbgrader metadata equal the
    committed copy."""
    (tmp_path / "solutions").symlink_to(ROOT / "solutions")
    (tmp_path / "nbgrader_config.py").write_text((ROOT / "nbgrader_config.py").read_text())
    for assignment in sorted({p.parent.name for p in SOLUTIONS}):
        done = run_nbgrader(["generate_assignment", assignment, "--force"], tmp_path)
        assert done.returncode == 0, done.stderr
    for committed in EXERCISES:
        fresh = tmp_path / "exercises" / committed.relative_to(ROOT / "exercises")
        assert fresh.exists(), f"{committed} is not generated from solutions/"
        assert _cells_for_comparison(committed) == _cells_for_comparison(fresh), \
            f"{committed.relative_to(ROOT)} differs from nbgrader's release: run `make release`"


def _pins_in_environment_yml() -> list[str]:
    lines = (ROOT / "environment.yml").read_text().splitlines()
    return [line.strip()[2:] for line in lines if re.match(r"^\s+- [A-Za-z0-9_.\-]+==", line)]


def test_environment_yml_repeats_pyproject_pins() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    pins = project["dependencies"] + [pin for extra in project["optional-dependencies"].values()
                                      for pin in extra]
    assert all("==" in pin for pin in pins), "every course dependency is pinned with =="
    assert _pins_in_environment_yml() == pins


def _documentation() -> str:
    """README.md and every page of docs/."""
    return "\n".join(p.read_text() for p in [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))])


def test_every_make_target_is_documented() -> None:
    makefile = (ROOT / "Makefile").read_text()
    phony = re.search(r"^\.PHONY:(.*)$", makefile, re.MULTILINE).group(1).split()
    documentation = _documentation()
    public = [t for t in phony if t not in {"help", "setup", "edition", "work", "clean-venv"}]
    missing = [t for t in public if f"make {t}" not in documentation]
    assert not missing, f"neither README.md nor docs/ documents: {missing}"


def test_readme_is_short_and_links_every_doc() -> None:
    readme = (ROOT / "README.md").read_text()
    assert len(readme.splitlines()) <= 120, "README.md grew past 120 lines: move reference material to docs/"
    assert "make lab" in readme and "make test" in readme
    unlinked = [p.name for p in sorted((ROOT / "docs").glob("*.md")) if f"docs/{p.name}" not in readme]
    assert not unlinked, f"README.md links no {unlinked}"


def test_helpers_imports_no_course_tooling() -> None:
    """``import helpers`` (and every chapter module) loads neither nbgrader nor coursetools."""
    code = ("import sys, helpers\n"
            "for name in helpers._SUBMODULES: getattr(helpers, name)\n"
            "print(sorted(m for m in sys.modules if m.split('.')[0] in {'nbgrader', 'coursetools'}))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=300)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]", done.stdout
    importing = [p.name for p in (ROOT / "helpers").rglob("*.py")
                 if re.search(r"^\s*(import|from) coursetools", p.read_text(), re.MULTILINE)]
    assert not importing, f"helpers modules import coursetools: {importing}"


@pytest.mark.parametrize("notebook", SOLUTIONS, ids=_ids(SOLUTIONS))
def test_every_test_cell_is_judged(notebook: Path) -> None:
    """Points come only from the judge (docs/judged-tests.md): every autograded test cell's hidden block
    defines cases, observe and judge, and no expected value travels to the student's kernel."""
    from coursetools import judge

    cells = json.loads(notebook.read_text())["cells"]
    tests = [c for c in cells if judge.is_test_cell(c)]
    assert tests, f"{notebook.name} has no autograded test cell"
    unjudged = [c["metadata"]["nbgrader"]["grade_id"] for c in tests if not judge.is_judged(c)]
    assert not unjudged, f"{notebook.name}: test cells graded inside the student's kernel: {unjudged}"
