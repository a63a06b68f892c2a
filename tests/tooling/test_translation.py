"""The Chinese edition follows the English notebooks (docs/translating.md): every prose block translated and
not fuzzy, formulas, numbers and terms kept, zh/ exactly what `make zh` writes, code and grading fields
the same in both editions, and the key-term tables and translations following one glossary. That a Chinese
chapter prints the English numbers, and that a Chinese submission grades like an English one, is in
test_notebooks.py."""

from __future__ import annotations

import re
from pathlib import Path

import nbformat
import pytest
from conftest import CHAPTERS, ROOT

from coursetools import translate

NOTEBOOKS = translate.english_notebooks()
IDS = [p.as_posix() for p in NOTEBOOKS]


def test_every_chapter_and_exercise_set_has_a_chinese_edition() -> None:
    assert len(NOTEBOOKS) == len(CHAPTERS) + len(list((ROOT / "exercises").glob("*/*.ipynb")))
    expected = {translate.edition_path(p) for p in NOTEBOOKS}
    assert set(translate.EDITION.rglob("*.ipynb")) == expected, "zh/ holds a notebook with no English source"


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=IDS)
def test_catalog_translates_every_block_faithfully(notebook: Path) -> None:
    """No block missing or fuzzy; no translation lost a formula, number, tag, link or glossary term."""
    found = translate.problems(notebook)
    assert not found, f"{len(found)} problems (make zh-check lists them):\n" + "\n".join(found[:20])


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=IDS)
def test_chinese_notebook_is_what_make_zh_writes(notebook: Path) -> None:
    committed = translate.edition_path(notebook).read_text(encoding="utf-8")
    assert committed == nbformat.writes(translate.chinese_notebook(notebook)) + "\n", \
        f"{translate.edition_path(notebook).relative_to(ROOT)} is out of date: run make zh"


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=IDS)
def test_editions_share_code_cells_and_grading_fields(notebook: Path) -> None:
    english = nbformat.read(ROOT / notebook, as_version=4)
    chinese = nbformat.read(translate.edition_path(notebook), as_version=4)
    assert [(c.id, c.cell_type) for c in english.cells] == [(c.id, c.cell_type) for c in chinese.cells]
    code = [i for i, (e, z) in enumerate(zip(english.cells, chinese.cells))
            if e.cell_type == "code" and (e.source, e.metadata) != (z.source, z.metadata)]
    assert not code, f"code cells {code} differ between the editions"
    fields = [i for i, (e, z) in enumerate(zip(english.cells, chinese.cells))
              if {k: v for k, v in e.metadata.get("nbgrader", {}).items() if k != "checksum"}
              != {k: v for k, v in z.metadata.get("nbgrader", {}).items() if k != "checksum"}]
    assert not fields, f"cells {fields} carry other nbgrader fields in the Chinese edition"
    assert english.metadata == chinese.metadata


def test_chinese_read_only_cells_pass_nbgrader_validate() -> None:
    """A read-only task text carries the checksum of its Chinese text: Validate does not call it changed."""
    from nbgrader.utils import compute_checksum, is_locked

    cells = [cell for p in NOTEBOOKS if p.parts[0] == "exercises"
             for cell in nbformat.read(translate.edition_path(p), as_version=4).cells
             if is_locked(cell) and "checksum" in cell.metadata.get("nbgrader", {})]
    assert cells, "no read-only cell with a checksum: the test checks nothing"
    assert all(cell.metadata.nbgrader.checksum == compute_checksum(cell) for cell in cells)


def key_term_rows(notebook: Path) -> list[tuple[str, str]]:
    """The (English, Chinese) rows of a chapter's key-terms table."""
    cells = nbformat.read(notebook, as_version=4).cells
    text = "\n".join(c.source for c in cells if c.cell_type == "markdown")
    table = re.search(r"### Key terms\s*\n\n((?:\|.*\n?)+)", text)
    assert table, f"{notebook.name} has no key-terms table"
    rows = [[cell.strip() for cell in line.strip("|").split("|")] for line in table.group(1).splitlines()]
    return [(row[0], row[1]) for row in rows[2:]]


@pytest.mark.parametrize("chapter", CHAPTERS, ids=[p.name for p in CHAPTERS])
def test_key_term_table_follows_the_glossary(chapter: Path) -> None:
    terms = translate.glossary()
    for english, chinese in key_term_rows(chapter):
        used = [t for t in terms if t.in_english(english)]
        assert used, f"{chapter.name}: key term {english!r} is not in locales/zh_CN/glossary.tsv"
        wrong = [t.english for t in used if t.chinese[0] not in chinese]
        assert not wrong, f"{chapter.name}: {english!r} is {chinese!r}; the glossary differs for {wrong}"


def test_glossary_has_one_chinese_term_per_english_term() -> None:
    english = [t.english.lower() for t in translate.glossary()]
    assert len(english) == len(set(english)) and len(english) >= 40


def test_glossary_rejects_a_line_without_chinese(tmp_path: Path) -> None:
    path = tmp_path / "glossary.tsv"
    path.write_text("fusion\t融合\nalignment\n", encoding="utf-8")
    with pytest.raises(ValueError, match="glossary.tsv:2: expected 'english<TAB>chinese'"):
        translate.glossary(path)


# ---------------------------------------------------------------------------------------------------------
# How prose is cut and checked
# ---------------------------------------------------------------------------------------------------------

def test_blocks_keep_code_fences_and_display_math_whole() -> None:
    text = "A paragraph\non two lines.\n\n$$\na\n\nb\n$$\n\n```python\nx = 1\n\ny = 2\n```\n\n| a |\n|---|"
    assert translate.blocks(text) == ["A paragraph\non two lines.", "$$\na\n\nb\n$$",
                                      "```python\nx = 1\n\ny = 2\n```", "| a |\n|---|"]


def test_only_blocks_with_words_are_messages() -> None:
    assert not translate.has_words("$$\\sum_i x_i$$")
    assert not translate.has_words("</details>")
    assert translate.has_words("<details><summary>Answer</summary>")


def paragraphs(markdown: str) -> str:
    return re.sub(r"\n\s*\n+", "\n\n", markdown.strip())


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=IDS)
def test_an_empty_catalog_gives_back_the_english_prose(notebook: Path) -> None:
    """Cutting into blocks and joining them loses nothing: untranslated, a cell reads as the English one."""
    english = nbformat.read(ROOT / notebook, as_version=4)
    for cell in english.cells:
        same = translate.translate_cell(cell, translate.Catalog(locale=translate.LOCALE))
        assert translate.blocks(same.source) == translate.blocks(cell.source)
        assert paragraphs(same.source) == paragraphs(cell.source)


@pytest.mark.parametrize(("chinese", "problem"), [
    ("风险为 0.97，$x$ 与 `f`。", "numbers missing: 0.974"),
    ("风险为 0.974，$y$ 与 `f`。", "math or code spans differ"),
    ("风险为 0.974，$x$ 与 f。", "math or code spans differ"),
    ("## 风险为 0.974，$x$ 与 `f`。", "heading level differs"),
])
def test_structure_check_names_what_a_translation_lost(chinese: str, problem: str) -> None:
    english = "Risk 0.974 with $x$ and `f`."
    assert translate.structure_problems(english, "风险为 0.974，$x$ 与 `f`。") == []
    assert problem in translate.structure_problems(english, chinese)


def small_course(root: Path, paragraphs: list[str]) -> Path:
    """A one-chapter course in ``root`` whose chapter holds ``paragraphs`` and one code cell."""
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_markdown_cell("\n\n".join(paragraphs)), nbformat.v4.new_code_cell("print(1)")]
    (root / "chapters").mkdir(exist_ok=True)
    nbformat.write(nb, root / "chapters" / "01_demo.ipynb")
    return Path("chapters/01_demo.ipynb")


def test_an_author_updates_a_chapter_in_both_languages(tmp_path: Path) -> None:
    """The workflow of docs/translating.md on a small course: update, translate, build; then the English
    changes, the changed block turns fuzzy and shows in English until revised; a new block is untranslated."""
    notebook = small_course(tmp_path, ["Late fusion sums the logits of two experts.", "A second paragraph."])
    translate.update(tmp_path)
    catalog = translate.read_catalog(translate.catalog_path(notebook, tmp_path))
    assert [m.id for m in catalog if m.id] == ["Late fusion sums the logits of two experts.",
                                               "A second paragraph."]
    catalog["Late fusion sums the logits of two experts."].string = "晚期融合把两个专家的 logit 相加。"
    catalog["A second paragraph."].string = "第二段。"
    translate.write_catalog(catalog, translate.catalog_path(notebook, tmp_path))
    translate.build(tmp_path)
    built = nbformat.read(translate.edition_path(notebook, tmp_path), as_version=4)
    assert built.cells[0].source == "晚期融合把两个专家的 logit 相加。\n\n第二段。"
    assert built.cells[1].source == "print(1)"
    assert translate.problems(notebook, tmp_path) == []

    small_course(tmp_path, ["Late fusion sums the logits of three experts.", "A second paragraph.",
                            "New text."])
    translate.update(tmp_path)
    found = translate.problems(notebook, tmp_path)
    assert any("three experts" in p and "fuzzy" in p for p in found), found
    assert any("New text" in p and "not translated" in p for p in found), found
    translate.build(tmp_path)
    built = nbformat.read(translate.edition_path(notebook, tmp_path), as_version=4)
    assert built.cells[0].source == "Late fusion sums the logits of three experts.\n\n第二段。\n\nNew text."


def test_glossary_check_names_a_term_the_translation_does_not_use(tmp_path: Path) -> None:
    notebook = small_course(tmp_path, ["Early fusion concatenates the modalities."])
    translate.update(tmp_path)
    catalog = translate.read_catalog(translate.catalog_path(notebook, tmp_path))
    catalog["Early fusion concatenates the modalities."].string = "前期合并把各模态拼在一起。"
    translate.write_catalog(catalog, translate.catalog_path(notebook, tmp_path))
    found = translate.problems(notebook, tmp_path)
    assert any("'early fusion' should be 早期融合" in p for p in found), found
