"""Feedback pages the grader builds: nothing of a student's page can run, forge a score or leak a test.

``SafeFeedback`` runs in nbgrader's feedback step, after GetGrades:

* outputs keep only plain text, PNG/JPEG images, printed streams and errors (no HTML, script, SVG or
  widget a student's code could have displayed), each cut to ``max_chars`` characters;
* an error in a cell holding hidden tests keeps only its last line (the judge's verdict is one already);
* markdown a student wrote (answers, added cells) is rendered and cleaned of tags, styles, scripts and
  event handlers before the page is built;
* a written answer still waiting for a person is marked, so the page says so instead of "0".

The page's template (``templates/feedback``, found before nbgrader's own) is nbgrader's with that one
change, and MathJax is loaded from a ``mathjax/`` folder beside the page (``add_mathjax``), so formulas
are typeset offline.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import jinja2
import jinja2.bccache
import nbgrader
from nbconvert.exporters import HTMLExporter
from nbconvert.filters import markdown2html
from nbconvert.filters.strings import clean_html
from nbconvert.preprocessors import Preprocessor
from traitlets import Bool

from coursetools.html_edition import MATHJAX_URL, copy_mathjax

TEMPLATES = Path(__file__).parent / "templates"
KEPT_MIME = ("text/plain", "image/png", "image/jpeg")
CUT = "\n... output cut for the feedback page ..."


class SafeFeedback(Preprocessor):
    """The feedback step's clean-up of a graded notebook (see the module's docstring)."""

    enabled = Bool(True)
    max_chars = 100_000

    def preprocess(self, nb: Any, resources: Any) -> tuple[Any, Any]:
        awaiting = awaiting_grades(resources.get("nbgrader", {}))
        for cell in nb.cells:
            meta = cell.get("metadata", {}).get("nbgrader", {})
            if meta.get("grade_id") in awaiting:
                meta["awaiting"] = True
            if cell.cell_type == "markdown" and not meta.get("locked"):
                cell.source = clean_html(markdown2html(cell.source))
                cell.pop("attachments", None)
            if cell.cell_type == "code":
                hidden = "BEGIN HIDDEN TESTS" in cell.source
                cell.outputs = [safe_output(out, hidden, self.max_chars) for out in cell.get("outputs", [])
                                if out.get("output_type") in ("stream", "error")
                                or any(m in out.get("data", {}) for m in KEPT_MIME)]
        return nb, resources


def safe_output(output: Any, hidden: bool, max_chars: int) -> Any:
    """One output as the page may show it: plain data only, cut to ``max_chars`` characters."""
    if output.output_type == "stream":
        output.text = output.text[:max_chars] + (CUT if len(output.text) > max_chars else "")
    elif output.output_type == "error":
        output.evalue = str(output.get("evalue", ""))[:max_chars]
        output.traceback = ([f"{output.ename}: {output.evalue}"] if hidden
                            else [line[:max_chars] for line in output.get("traceback", [])][-50:])
    else:
        output.data = {m: v for m, v in output.data.items() if m in KEPT_MIME}
        if isinstance(output.data.get("text/plain"), str):
            output.data["text/plain"] = output.data["text/plain"][:max_chars]
        output.metadata = {}
    return output


def awaiting_grades(info: dict[str, Any]) -> set[str]:
    """Grade ids of this submission's written answers that no person has scored yet."""
    from nbgrader.api import Gradebook, MissingEntry

    if not info.get("db_url"):
        return set()
    with Gradebook(info["db_url"]) as gradebook:
        try:
            notebook = gradebook.find_submission_notebook(info["notebook"], info["assignment"],
                                                          info["student"])
        except MissingEntry:
            return set()
        return {g.name for g in notebook.grades
                if g.cell.cell_type == "markdown" and g.manual_score is None and g.auto_score is None}


def feedback_config(config: Any) -> Any:
    """The config with SafeFeedback after nbgrader's GetGrades, the course's template and a local MathJax."""
    from traitlets.config import Config

    config = Config(config)
    steps = list(config.GenerateFeedback.get("preprocessors", [])) or [
        "nbgrader.preprocessors.GetGrades", "nbgrader.preprocessors.ClearHiddenTests",
        "nbconvert.preprocessors.CSSHTMLHeaderPreprocessor"]
    steps = [s for s in steps if not str(s).endswith("SafeFeedback")]
    steps.insert(1, "coursetools.feedback.SafeFeedback")
    config.GenerateFeedback.preprocessors = steps
    nbgrader_templates = Path(nbgrader.__file__).parent / "server_extensions" / "formgrader" / "templates"
    config.HTMLExporter.template_name = "feedback"  # the name nbgrader's API insists on; ours is found first
    config.HTMLExporter.extra_template_basedirs = [str(TEMPLATES), str(nbgrader_templates)]
    config.HTMLExporter.mathjax_url = MATHJAX_URL
    config.GenerateFeedback.exporter_class = "coursetools.feedback.FeedbackExporter"
    return config


class CompiledTemplates(jinja2.BytecodeCache):
    """Compiled page templates kept in memory: a grading worker compiles them once, not once per page
    (Jinja checks each template's source against the compiled one before using it)."""

    def __init__(self) -> None:
        self.compiled: dict[str, bytes] = {}

    def load_bytecode(self, bucket: jinja2.bccache.Bucket) -> None:
        if bucket.key in self.compiled:
            bucket.bytecode_from_string(self.compiled[bucket.key])

    def dump_bytecode(self, bucket: jinja2.bccache.Bucket) -> None:
        self.compiled[bucket.key] = bucket.bytecode_to_string()


class FeedbackExporter(HTMLExporter):
    """nbconvert's HTML exporter with the page templates compiled once per process."""

    templates = CompiledTemplates()

    def _create_environment(self) -> jinja2.Environment:
        environment = super()._create_environment()
        environment.bytecode_cache = self.templates
        return environment


def add_mathjax(folder: Path) -> None:
    """Give every feedback page below ``folder`` its ``mathjax/`` (hard links to one copy where possible)."""
    for page_folder in sorted({page.parent for page in Path(folder).rglob("*.html")}):
        if not (page_folder / "mathjax").exists():
            copy_mathjax(page_folder, link=True)
