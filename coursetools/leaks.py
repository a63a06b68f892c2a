"""The leak guard: after grading, every feedback page is scanned for hidden-test lines and withheld if
it shows one (a second line of defence behind the judge, which never lets a test cell's own output or a
hidden test reach the student's kernel, and coursetools/feedback.py, which builds the page)."""

from __future__ import annotations

import html
import re
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

from coursetools.course import cell_text, notebook_cells


class _Text(HTMLParser):
    """The visible text of an HTML page (scripts and styles left out)."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._skip = 0

    def handle_starttag(self, tag: str, attrs: Any) -> None:
        if tag in ("script", "style"):
            self._skip += 1

    def handle_endtag(self, tag: str) -> None:
        if tag in ("script", "style") and self._skip:
            self._skip -= 1

    def handle_data(self, data: str) -> None:
        if not self._skip:
            self.parts.append(data)


def html_text(path: Path) -> str:
    """Text of an HTML file as a reader sees it (tags dropped, entities decoded)."""
    parser = _Text()
    parser.feed(path.read_text(errors="replace"))
    return html.unescape("".join(parser.parts))


def marked_blocks(notebook: Path, begin: str, end: str) -> list[str]:
    """Text between ``### BEGIN <begin>`` and ``### END <end>`` lines in a notebook's cells."""
    pattern = re.compile(rf"^[ \t]*### BEGIN {begin}[^\n]*\n(.*?)^[ \t]*### END {end}", re.M | re.S)
    return [m.group(1) for cell in notebook_cells(notebook) for m in pattern.finditer(cell_text(cell))]


def hidden_lines(notebook: Path, minimum: int = 16) -> set[str]:
    """Distinctive lines of a source notebook's hidden tests (stripped, at least ``minimum`` characters),
    except those that students see anyway (text of a visible part of the notebook)."""
    blocks = marked_blocks(notebook, "HIDDEN TESTS", "HIDDEN TESTS")
    lines = {line.strip() for block in blocks for line in block.splitlines()}
    visible = "\n".join(cell_text(cell) for cell in notebook_cells(notebook))
    for block in blocks:
        visible = visible.replace(block, "")
    return {line for line in lines if len(line) >= minimum and line not in visible}


def leaked_lines(feedback: Path, source_notebook: Path, submitted_notebook: Path) -> list[str]:
    """Hidden-test lines visible in a feedback page (lines the student wrote themselves excepted)."""
    own = {line.strip() for cell in notebook_cells(submitted_notebook)
           for line in cell_text(cell).splitlines()}
    shown = html_text(feedback)
    return sorted(line for line in hidden_lines(source_notebook) - own if line in shown)


def withhold_leaking_feedback(root: Path, course: Any, pair: tuple[str, str]) -> str:
    """Delete a feedback page that shows hidden-test lines; the remark for grades.csv ('' if none)."""
    assignment, student = pair
    folder = root / course.feedback_directory / student / assignment
    for page in sorted(folder.glob("*.html")):
        source = root / course.source_directory / assignment / f"{page.stem}.ipynb"
        submitted = root / course.submitted_directory / student / assignment / f"{page.stem}.ipynb"
        if leaked_lines(page, source, submitted):
            page.unlink()
            return f"feedback {page.name} withheld: it showed hidden test lines"
    return ""
