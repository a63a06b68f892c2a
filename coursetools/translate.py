"""The Chinese edition from one source: gettext catalogs of the English notebooks' prose (`make zh`).

The English notebooks are the source: chapters/*.ipynb and the student exercise sets exercises/*/*.ipynb.
Each Markdown cell is cut into blocks (paragraphs, lists, tables, headings; a display formula or a code
fence stays inside its block), and every block with words in it is one gettext message whose msgid is the
English block. The translations live in one catalog per notebook, ``locales/zh_CN/LC_MESSAGES/<path>.po``,
the layout Sphinx and Jupyter Book use. ``zh/<path>`` is the Chinese notebook: the English one with each
block replaced by its msgstr; code cells, cell ids, metadata and nbgrader fields are left exactly as they
are, so the two editions run the same code and grade the same.

    python -m coursetools.translate update   # catalogs follow the English prose (changed text turns fuzzy)
    python -m coursetools.translate build    # write zh/ from the catalogs
    python -m coursetools.translate check    # untranslated, fuzzy and glossary problems; exit 1 if any

An English block without a translation, or with a fuzzy one, is copied into zh/ in English (as Sphinx
does); `check` and the tests report it. Terms follow ``locales/zh_CN/glossary.tsv``.
"""

from __future__ import annotations

import argparse
import copy
import io
import re
import sys
from dataclasses import dataclass
from pathlib import Path

import nbformat
from babel.messages.catalog import Catalog
from babel.messages.pofile import read_po, write_po
from nbgrader.utils import compute_checksum

ROOT = Path(__file__).resolve().parents[1]
LOCALE = "zh_CN"
CATALOGS = ROOT / "locales" / LOCALE / "LC_MESSAGES"
GLOSSARY = ROOT / "locales" / LOCALE / "glossary.tsv"
EDITION = ROOT / "zh"
PROJECT = "multimodal-course"
# Spans that carry no words to translate: display and inline math, code, HTML tags, link targets.
NO_WORDS = re.compile(r"\$\$.*?\$\$|\$[^$]*\$|`[^`]*`|<[^>]*>|\]\([^)]*\)|https?://\S+", re.DOTALL)


def english_notebooks(root: Path = ROOT) -> list[Path]:
    """The English source notebooks, as paths relative to ``root``: chapters, then exercise sets."""
    found = sorted((root / "chapters").glob("*.ipynb")) + sorted((root / "exercises").glob("*/*.ipynb"))
    return [path.relative_to(root) for path in found]


def catalog_path(notebook: Path, root: Path = ROOT) -> Path:
    """``chapters/01_principles.ipynb`` -> ``locales/zh_CN/LC_MESSAGES/chapters/01_principles.po``."""
    return root / CATALOGS.relative_to(ROOT) / notebook.with_suffix(".po")


def edition_path(notebook: Path, root: Path = ROOT) -> Path:
    """Where the Chinese notebook of an English one lives: ``zh/`` + the same relative path."""
    return root / EDITION.relative_to(ROOT) / notebook


def blocks(markdown: str) -> list[str]:
    """The Markdown cut at blank lines, except inside a code fence or a $$ display formula."""
    found, current, fence, math = [], [], False, False
    for line in markdown.splitlines():
        stripped = line.strip()
        if not stripped and not fence and not math:
            if current:
                found.append("\n".join(current))
                current = []
            continue
        current.append(line)
        if stripped.startswith("```"):
            fence = not fence
        elif not fence:
            math ^= stripped.count("$$") % 2 == 1
    if current:
        found.append("\n".join(current))
    return found


def has_words(block: str) -> bool:
    """Whether a block has text to translate once math, code, tags and link targets are taken out."""
    return re.search(r"[A-Za-z]{2,}", NO_WORDS.sub(" ", block)) is not None


def is_prose(cell: nbformat.NotebookNode) -> bool:
    """A Markdown cell the course wrote (a student's written-answer cell is not translated)."""
    return cell.cell_type == "markdown" and not cell.metadata.get("nbgrader", {}).get("solution", False)


def messages(notebook: Path, root: Path = ROOT) -> Catalog:
    """The template catalog of one English notebook: one message per block with words."""
    nb = nbformat.read(root / notebook, as_version=4)
    template = Catalog(project=PROJECT, fuzzy=False)
    for number, cell in enumerate(nb.cells, 1):
        if not is_prose(cell):
            continue
        for block in filter(has_words, blocks(cell.source)):
            template.add(block, locations=[(notebook.as_posix(), number)])  # "#: path:cell number"
    return template


def new_catalog(notebook: Path) -> Catalog:
    header = (f"# The Chinese edition of {notebook.as_posix()}: one entry per block of its prose.\n"
              "# Translate msgstr; `make zh` brings the entries in line with the English and writes zh/.\n#")
    return Catalog(locale=LOCALE, project=PROJECT, header_comment=header, fuzzy=False)


def read_catalog(path: Path) -> Catalog:
    with path.open("rb") as handle:
        return read_po(handle, locale=LOCALE)


def write_catalog(catalog: Catalog, path: Path) -> None:
    """Write a catalog with stable bytes (no dates), so an unchanged catalog leaves git unchanged."""
    buffer = io.BytesIO()
    write_po(buffer, catalog, width=0, include_lineno=True, include_previous=True)
    text = re.sub(rb'^"(POT-Creation-Date|PO-Revision-Date): .*\\n"\n', b"", buffer.getvalue(), flags=re.M)
    path.parent.mkdir(parents=True, exist_ok=True)
    if not path.exists() or path.read_bytes() != text:
        path.write_bytes(text)


def update(root: Path = ROOT) -> list[Path]:
    """Bring every catalog in line with its English notebook; the catalogs written.

    New blocks get an empty translation; a changed block keeps its old translation marked fuzzy (Babel's
    msgmerge) for the translator to revise; translations of removed blocks are kept as obsolete entries.
    """
    written = []
    for notebook in english_notebooks(root):
        path = catalog_path(notebook, root)
        catalog = read_catalog(path) if path.exists() else new_catalog(notebook)
        catalog.update(messages(notebook, root), update_creation_date=False)
        catalog.fuzzy = False
        write_catalog(catalog, path)
        written.append(path)
    return written


def translation(catalog: Catalog, block: str) -> str:
    """The Chinese of one block: its msgstr, or the English block while it has no final translation."""
    message = catalog.get(block)
    if message is None or not message.string or message.fuzzy:
        return block
    return message.string


def translate_cell(cell: nbformat.NotebookNode, catalog: Catalog) -> nbformat.NotebookNode:
    """A prose cell with its blocks translated; a read-only cell of an exercise set gets the checksum of its
    new text (nbgrader's Validate compares them; autograding puts back the English text it released)."""
    cell = copy.deepcopy(cell)
    if is_prose(cell):
        cell.source = "\n\n".join(translation(catalog, b) if has_words(b) else b for b in blocks(cell.source))
        if "checksum" in cell.metadata.get("nbgrader", {}):
            cell.metadata.nbgrader.checksum = compute_checksum(cell)
    return cell


def chinese_notebook(notebook: Path, root: Path = ROOT) -> nbformat.NotebookNode:
    """The Chinese edition of one English notebook: only its prose blocks differ."""
    nb = nbformat.read(root / notebook, as_version=4)
    path = catalog_path(notebook, root)
    catalog = read_catalog(path) if path.exists() else Catalog(locale=LOCALE)
    nb.cells = [translate_cell(cell, catalog) for cell in nb.cells]
    return nb


def build(root: Path = ROOT) -> list[Path]:
    """Write every Chinese notebook under ``zh/``; the notebooks written."""
    written = []
    for notebook in english_notebooks(root):
        target = edition_path(notebook, root)
        target.parent.mkdir(parents=True, exist_ok=True)
        text = nbformat.writes(chinese_notebook(notebook, root)) + "\n"
        if not target.exists() or target.read_text(encoding="utf-8") != text:
            target.write_text(text, encoding="utf-8")
        written.append(target)
    return written


@dataclass(frozen=True)
class Term:
    english: str
    chinese: tuple[str, ...]  # the text's term first, then the forms prose may also use

    def in_english(self, text: str) -> bool:
        return re.search(rf"(?<![\w-]){re.escape(self.english)}(?![\w-])", text, re.IGNORECASE) is not None

    def in_chinese(self, text: str) -> bool:
        return any(form in text for form in self.chinese)


def glossary(path: Path = GLOSSARY) -> list[Term]:
    """The course's terms: lines ``english<TAB>中文[|other form...]``; # starts a comment."""
    terms = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip() or line.startswith("#"):
            continue
        english, sep, chinese = line.partition("\t")
        if not sep or not english.strip() or not chinese.strip():
            raise ValueError(f"{path}:{number}: expected 'english<TAB>chinese', got {line!r}")
        terms.append(Term(english.strip(), tuple(form.strip() for form in chinese.split("|"))))
    return terms


MATH_OR_CODE = re.compile(r"\$\$.*?\$\$|\$[^$]*\$|`[^`]*`", re.DOTALL)
TAG = re.compile(r"</?[A-Za-z][^>]*>")
LINK_TARGET = re.compile(r"\]\(([^)]*)\)")
DECIMAL = re.compile(r"(?<![0-9A-Za-z_.])\d+\.\d+")


def kept(pattern: re.Pattern, text: str) -> list[str]:
    return sorted(pattern.findall(text))


def table_shape(text: str) -> list[int]:
    """The number of cell separators on each table row of a block."""
    return [line.count("|") for line in text.splitlines() if line.startswith("|")]


def structure_problems(english: str, chinese: str) -> list[str]:
    """What a translation changed that it must keep: math, code spans, HTML tags, link targets, the
    decimal numbers of the prose, the heading level, a table's columns."""
    found = [f"{what} differ" for what, pattern in
             [("math or code spans", MATH_OR_CODE), ("HTML tags", TAG), ("link targets", LINK_TARGET)]
             if kept(pattern, english) != kept(pattern, chinese)]
    lost = [n for n in DECIMAL.findall(MATH_OR_CODE.sub(" ", english))
            if n not in DECIMAL.findall(MATH_OR_CODE.sub(" ", chinese))]
    if lost:
        found.append(f"numbers missing: {', '.join(lost)}")
    if re.match(r"#*", english).group() != re.match(r"#*", chinese).group():
        found.append("heading level differs")
    if table_shape(english) != table_shape(chinese):
        found.append("table rows or columns differ")
    return found


def problems(notebook: Path, root: Path = ROOT, terms: list[Term] | None = None) -> list[str]:
    """What keeps one catalog from being complete: missing, untranslated or fuzzy blocks, and glossary
    terms whose Chinese the translation does not use."""
    path = catalog_path(notebook, root)
    if not path.exists():
        return [f"{path.relative_to(root)}: no catalog (run: make zh)"]
    catalog, found = read_catalog(path), []
    terms = glossary() if terms is None else terms
    for block in messages(notebook, root):
        if not block.id:
            continue
        where = f"{path.relative_to(root)}: {block.id[:60]!r}"
        message = catalog.get(block.id)
        if message is None or not message.string:
            found.append(f"{where}: not translated")
        elif message.fuzzy:
            found.append(f"{where}: fuzzy (the English changed; revise the translation)")
        else:
            found += [f"{where}: {problem}" for problem in structure_problems(block.id, message.string)]
            found += [f"{where}: '{term.english}' should be {term.chinese[0]}" for term in terms
                      if term.in_english(NO_WORDS.sub(" ", block.id)) and not term.in_chinese(message.string)]
    return found


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("command", choices=["update", "build", "check"])
    parser.add_argument("notebooks", nargs="*", type=Path, help="check: only these English notebooks")
    args = parser.parse_args(argv)
    if args.command == "update":
        paths = update()
        print(f"{len(paths)} catalogs in {CATALOGS.relative_to(ROOT)}")
        return 0
    if args.command == "build":
        paths = build()
        print(f"{len(paths)} Chinese notebooks in {EDITION.relative_to(ROOT)}/")
        return 0
    chosen = [path.resolve().relative_to(ROOT) for path in args.notebooks] or english_notebooks()
    terms = glossary()
    found = [problem for notebook in chosen for problem in problems(notebook, terms=terms)]
    print("\n".join(found) or "every block is translated")
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main())
