"""The offline HTML edition of the course (`make html`, or `python -m coursetools.html_edition`).

Executes every chapter and writes build/html/: index.html (the course map, linking each chapter),
one page per chapter with its figures embedded, the same in Chinese under zh/ (from zh/chapters/, see
docs/translating.md), each page linking to itself in the other language, and mathjax/ (MathJax 2.7 from
the jupyter-server-mathjax package) so the math is typeset without the internet. Widgets do not run
without a kernel: a chapter already shows each widget's figure statically just before it, and the
page puts a short note where the widget was. Progress bars are dropped.
"""

from __future__ import annotations

import argparse
import html
import os
import re
import shutil
from dataclasses import dataclass
from pathlib import Path

import nbformat
from jinja2 import DictLoader
from nbclient import NotebookClient
from nbconvert import HTMLExporter

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "build" / "html"
CELL_TIMEOUT = 120  # against hangs only (a chapter takes seconds; nbgrader allows 120 s per cell too)
MATHJAX_URL = "mathjax/MathJax.js?config=TeX-AMS-MML_HTMLorMML-full,Safe"
WIDGET_MIME = "application/vnd.jupyter.widget-view+json"
# Markdown math read left to right as JupyterLab does: code spans, \\$, $$...$$ are skipped; group 1 is
# an inline formula ($...$).
MATH = re.compile(r"`[^`]*`|\\\$|\$\$.*?\$\$|\$([^$]+?)\$", re.DOTALL)
STATE_MIME = "application/vnd.jupyter.widget-state+json"

# nbconvert's JupyterLab page without anything fetched from a CDN (require.js, widgets, mermaid),
# and MathJax set to the one web font jupyter-server-mathjax ships (STIX-Web).
TEMPLATE = """{%- extends 'index.html.j2' -%}
{%- block html_head_js_requirejs -%}{%- endblock html_head_js_requirejs -%}
{%- block jupyter_widgets -%}{%- endblock jupyter_widgets -%}
{%- block html_head_js_mermaidjs -%}{%- endblock html_head_js_mermaidjs -%}
{%- block body_header -%}{{ super() }}
{%- set edition = nb.metadata.edition -%}
<nav style="margin: 1em 0 0 6em;"><a href="index.html">&larr; {{ edition.course_map }}</a> &middot;
<a href="{{ edition.other_href }}" hreflang="{{ edition.other_lang }}"
   lang="{{ edition.other_lang }}">{{ edition.other_name }}</a></nav>
{%- endblock body_header -%}
{%- block html_head_js_mathjax -%}{{ super() }}
<script type="text/x-mathjax-config">
MathJax.Hub.Config({"HTML-CSS": {availableFonts: [], webFont: "STIX-Web", imageFont: null}});
</script>
{%- endblock html_head_js_mathjax -%}
"""

INDEX = """<!DOCTYPE html>
<html lang="{lang}"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1.0">
<title>{title}</title>
<style>body {{ font-family: sans-serif; max-width: 52rem; margin: 2rem auto; padding: 0 1rem;
  line-height: 1.5; }}
table {{ border-collapse: collapse; width: 100%; }}
td, th {{ border-bottom: 1px solid #ddd; padding: .4rem; text-align: left; }}</style>
</head><body>
<nav><a href="{other_href}" hreflang="{other_lang}" lang="{other_lang}">{other_name}</a></nav>
<h1>{heading}</h1>
<p>{intro}</p>
<h2>{course_map}</h2>
<table><tr>{columns}</tr>
{rows}
</table></body></html>
"""


@dataclass(frozen=True)
class Edition:
    """One language of the edition: where its chapters come from, where its pages go, its words."""
    code: str  # the HTML lang of its pages (ISO 639-1, as nbconvert wants)
    source: str  # its chapters' folder, relative to the course root
    folder: str  # its pages' folder inside the output ("" = the output itself)
    name: str  # the language's own name, on the other edition's switch
    title: str
    heading: str
    intro: str
    course_map: str
    columns: tuple[str, str, str]
    widget_note: str  # {where}: the values of the widget's controls
    widget_start: str


EDITIONS = (
    Edition("en", "chapters", "", "English", "Multimodal Learning: offline edition",
            "Multimodal Learning: an interactive notebook course",
            "The offline edition: every chapter as run, with its figures and typeset math. The sliders need "
            "a running kernel: open the chapters in JupyterLab (<code>make lab</code>) to move them and to "
            "solve the exercise sets.",
            "Course map", ("chapter", "title", "exercise set"),
            "Interactive figure: open this chapter in JupyterLab (<code>make lab</code>) to move its "
            "controls; the figure above shows it at {where}.", "its starting values"),
    Edition("zh", "zh/chapters", "zh", "中文", "多模态学习：离线版", "多模态学习：交互式笔记本课程",
            "离线版：每一章都已运行，附带图和排版好的公式（图中文字为英文）。滑块需要运行中的内核："
            "在 JupyterLab 中打开各章（<code>make lab EDITION=zh</code>）即可拖动滑块并完成练习集。",
            "课程目录", ("章", "标题", "练习集"),
            "交互式图：在 JupyterLab 中打开本章（<code>make lab EDITION=zh</code>）即可调节控件；"
            "上图显示的是 {where} 时的结果。", "初始取值"),
)


def execute(path: Path) -> nbformat.NotebookNode:
    """The notebook run top to bottom in its own folder (the way a student runs it)."""
    nb = nbformat.read(path, as_version=4)
    NotebookClient(nb, timeout=CELL_TIMEOUT, kernel_name="python3",
                   resources={"metadata": {"path": str(path.parent)}}).execute()
    return nb


def widget_models(nb: nbformat.NotebookNode, model_id: str) -> list[dict]:
    """The widget model ``model_id`` and every model it contains, from the saved widget state."""
    state = nb.metadata.get("widgets", {}).get(STATE_MIME, {}).get("state", {})
    found, todo = [], [model_id]
    while todo:
        model = state.get(todo.pop(0))
        if model is None:
            continue
        found.append(model)
        todo += [ref[len("IPY_MODEL_"):] for value in model.get("state", {}).values()
                 for ref in (value if isinstance(value, list) else [value])
                 if isinstance(ref, str) and ref.startswith("IPY_MODEL_")]
    return found


def slider_value(state: dict) -> str:
    """A saved slider's value as the page shows it (a selection slider saves the index of its option)."""
    if "value" in state:
        value = state["value"]
    else:
        labels, index = state.get("_options_labels", []), state.get("index", 0)
        value = labels[index] if isinstance(index, int) and index < len(labels) else "its first option"
    return f"{value:.2f}" if isinstance(value, float) else html.escape(str(value))


def widget_note(models: list[dict], edition: Edition = EDITIONS[0]) -> nbformat.NotebookNode:
    """What replaces a widget in the static page: where to use it, and the values of its controls."""
    controls = [f"{html.escape(str(m['state']['description']))} = {slider_value(m['state'])}" for m in models
                if "SliderModel" in m.get("model_name", "") and m["state"].get("description")]
    text = edition.widget_note.format(where=", ".join(controls) if controls else edition.widget_start)
    return nbformat.v4.new_output("display_data", data={"text/html": f"<p><em>{text}</em></p>"})


def replace_widgets(nb: nbformat.NotebookNode, edition: Edition = EDITIONS[0]) -> nbformat.NotebookNode:
    """Each widget output becomes a note (progress bars vanish); the widget state is dropped."""
    for cell in nb.cells:
        outputs = []
        for out in cell.get("outputs", []):
            if WIDGET_MIME not in out.get("data", {}):
                outputs.append(out)
                continue
            models = widget_models(nb, out["data"][WIDGET_MIME]["model_id"])
            if not any("ProgressModel" in m.get("model_name", "") for m in models):
                outputs.append(widget_note(models, edition))
        if cell.cell_type == "code":
            cell.outputs = outputs
    nb.metadata.pop("widgets", None)
    return nb


def one_line(match: re.Match) -> str:
    """An inline formula with its line breaks made spaces (not across a blank line); anything else as is."""
    formula = match.group(1)
    if formula is None or "\n" not in formula or "\n\n" in formula:
        return match.group(0)
    return "$" + " ".join(formula.splitlines()) + "$"


def join_inline_math(nb: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """Put each inline formula of the Markdown on one line, as JupyterLab reads it (JupyterLab takes math out
    before parsing Markdown; nbconvert does not, so a formula's line starting with "- " became a list)."""
    for cell in nb.cells:
        if cell.cell_type == "markdown":
            cell.source = MATH.sub(one_line, cell.source)
    return nb


def other_edition(edition: Edition) -> Edition:
    return next(other for other in EDITIONS if other != edition)


def relative_href(edition: Edition, target: Edition, page: str) -> str:
    """The link from a page of ``edition`` to ``page`` of ``target`` (both folders inside the output)."""
    up = "../" * len(Path(edition.folder).parts)
    return f"{up}{target.folder + '/' if target.folder else ''}{page}"


def to_html(nb: nbformat.NotebookNode, title: str, page: str = "index.html",
            edition: Edition = EDITIONS[0]) -> str:
    """The page of a chapter: its title, the link to the course map and to the same page in the other
    language, MathJax from the output's mathjax/."""
    up = "../" * len(Path(edition.folder).parts)
    exporter = HTMLExporter(template_name="lab", extra_loaders=[DictLoader({"edition.html.j2": TEMPLATE})],
                            template_file="edition.html.j2", mathjax_url=up + MATHJAX_URL)
    exporter.language_code = edition.code
    other = other_edition(edition)
    nb.metadata["title"] = title
    nb.metadata["edition"] = {"course_map": edition.course_map, "other_name": other.name,
                              "other_lang": other.code, "other_href": relative_href(edition, other, page)}
    body, _ = exporter.from_notebook_node(nb)
    return body


def title_of(nb: nbformat.NotebookNode, default: str) -> str:
    """The text of the notebook's first level-1 heading."""
    for cell in nb.cells:
        match = re.search(r"^#\s+(.+)$", cell.source, re.MULTILINE) if cell.cell_type == "markdown" else None
        if match:
            return match.group(1).strip()
    return default


def exercise_set(chapter: Path) -> str:
    """The exercise set of a chapter (``exNN_name``) when exercises/ has it, else an empty string."""
    name = f"ex{chapter.stem}"
    return name if (ROOT / "exercises" / name).is_dir() else ""


def index_row(chapter: Path, title: str, edition: Edition = EDITIONS[0]) -> str:
    page = html.escape(f"{chapter.stem}.html")
    exercise = exercise_set(chapter)
    code = f"<code>{Path(edition.source).parent / 'exercises' / exercise}</code>" if exercise else ""
    return (f"<tr><td><a href=\"{page}\">{html.escape(chapter.stem)}</a></td><td><a href=\"{page}\">"
            f"{html.escape(title)}</a></td><td>{code}</td></tr>")


# What MATHJAX_URL's configuration loads: no other languages, no accessibility or chemistry extensions,
# no SVG output.
MATHJAX_UNUSED = ("localization/", "extensions/a11y/", "extensions/TeX/mhchem3/", "jax/output/SVG/")


def copy_mathjax(out: Path, link: bool = False) -> None:
    """MathJax 2.7 from jupyter-server-mathjax into ``out/mathjax`` (``link``: hard links where the
    filesystem allows, so many copies cost no space)."""
    import jupyter_server_mathjax

    static = Path(jupyter_server_mathjax.__file__).parent / "static"
    for source in static.rglob("*"):
        relative = source.relative_to(static).as_posix()
        if not source.is_file() or relative.startswith(MATHJAX_UNUSED):
            continue
        target = out / "mathjax" / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        if target.exists():
            continue
        try:
            if not link:
                raise OSError
            os.link(source, target)
        except OSError:
            shutil.copyfile(source, target)


def build_edition(edition: Edition, stems: list[str], out: Path,
                  execute_stems: set[str] | None) -> list[Path]:
    """One language's course map and chapter pages in ``out/<edition.folder>``; the pages written."""
    folder = out / edition.folder
    folder.mkdir(parents=True, exist_ok=True)
    rows, pages = [], []
    for stem in stems:
        chapter = ROOT / edition.source / f"{stem}.ipynb"
        run = execute_stems is None or stem in execute_stems
        print(f"{'executing' if run else 'converting'} {chapter.relative_to(ROOT)}", flush=True)
        nb = execute(chapter) if run else nbformat.read(chapter, as_version=4)
        title = title_of(nb, stem)
        page = folder / f"{stem}.html"
        page.write_text(to_html(join_inline_math(replace_widgets(nb, edition)), title, page.name, edition),
                        encoding="utf-8")
        rows.append(index_row(chapter, title, edition))
        pages.append(page)
    other = other_edition(edition)
    index = folder / "index.html"
    index.write_text(INDEX.format(
        lang=edition.code, title=edition.title, heading=edition.heading, intro=edition.intro,
        course_map=edition.course_map, columns="".join(f"<th>{c}</th>" for c in edition.columns),
        other_href=relative_href(edition, other, "index.html"), other_lang=other.code, other_name=other.name,
        rows="\n".join(rows)), encoding="utf-8")
    return [index, *pages]


def build(chapters: list[Path] | None = None, out: Path = OUT,
          execute_only: list[Path] | None = None) -> list[Path]:
    """Execute ``chapters`` (default: every chapter) in both languages and write the edition to ``out``;
    the pages written, English first.

    A chapter is named by its English notebook; its Chinese page comes from zh/chapters/ (same name).
    ``execute_only`` (for tests) runs just those chapters; the others are converted as committed,
    without outputs.
    """
    chapters = sorted((ROOT / "chapters").glob("*.ipynb")) if chapters is None else list(chapters)
    if not chapters:
        raise ValueError("no chapters to build: chapters/ holds no notebook")
    missing = [c.name for c in chapters if not (ROOT / EDITIONS[1].source / c.name).exists()]
    if missing:
        raise ValueError(f"zh/chapters/ lacks {', '.join(missing)}: run make zh")
    out.mkdir(parents=True, exist_ok=True)
    copy_mathjax(out)
    stems = [c.stem for c in chapters]
    execute_stems = None if execute_only is None else {c.stem for c in execute_only}
    return [page for edition in EDITIONS for page in build_edition(edition, stems, out, execute_stems)]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("chapters", nargs="*", type=Path, help="chapter notebooks (default: all)")
    parser.add_argument("--out", type=Path, default=OUT,
                        help=f"output folder (default: {OUT.relative_to(ROOT)})")
    args = parser.parse_args(argv)
    pages = build([p.resolve() for p in args.chapters] or None, args.out)
    print(f"wrote {len(pages)} pages; open {pages[0]}")


if __name__ == "__main__":
    main()
