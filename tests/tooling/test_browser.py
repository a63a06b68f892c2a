"""The course in a real browser: JupyterLab in headless Chromium runs every chapter (no error, every
figure shown, every widget rendered, a slider redraws its figure), nbgrader's Validate button judges
an exercise, and the offline HTML edition (`make html`) typesets its math and shows its figures.

Needs Debian's Chromium (`apt-get install chromium fonts-noto-cjk`; another binary with COURSE_CHROMIUM=PATH);
without it the module skips locally and fails in CI (CI=true). Each chapter prints its time and the path of
its screenshot (artifacts/browser/, git-ignored). Run alone with `pytest tests/test_browser.py -n 0`;
under xdist all of its tests share one worker (one JupyterLab server, one browser).
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import nbformat
import pytest
from conftest import BIN, CHAPTERS, EXERCISES, ROOT, solved_copy

CHROMIUM = Path(os.environ.get("COURSE_CHROMIUM", "/usr/bin/chromium"))
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
ARTIFACTS = ROOT / "artifacts" / "browser"
IN_CI = os.environ.get("CI", "").lower() == "true"
ENABLE = "install Chromium to run them: apt-get install -y chromium fonts-noto-cjk"

try:
    from playwright.sync_api import Page, sync_playwright
    from playwright.sync_api import TimeoutError as PlaywrightTimeout
except ImportError:  # the test extras are missing
    sync_playwright = None

MISSING = ("playwright is not installed" if sync_playwright is None
           else f"no Chromium at {CHROMIUM}" if not CHROMIUM.exists() else "")
if MISSING and not IN_CI:
    pytest.skip(f"browser tests skipped ({MISSING}): {ENABLE}", allow_module_level=True)

pytestmark = pytest.mark.xdist_group("browser")

CHAPTER_TIMEOUT_MS = 180_000  # against hangs only; the time per chapter is printed
VALIDATE_TIMEOUT_MS = 240_000
# JupyterLab settings for the test server: no news pop-up, and no autosave into the copies.
LAB_SETTINGS = {
    "@jupyterlab/apputils-extension/notification": {"fetchNews": "false", "checkForUpdates": False},
    "@jupyterlab/docmanager-extension/plugin": {"autosave": False},
}

# True when every non-empty code cell has run (or one raised) and the kernel is idle again.
RUN_FINISHED_JS = """() => {
  const panel = window.jupyterapp.shell.currentWidget;
  const kernel = panel && panel.sessionContext.session && panel.sessionContext.session.kernel;
  if (!kernel || kernel.status !== 'idle') return false;
  const cells = panel.content.model.toJSON().cells
    .filter(c => c.cell_type === 'code' && String(c.source).trim());
  return cells.some(c => c.outputs.some(o => o.output_type === 'error'))
    || cells.every(c => c.execution_count !== null);
}"""
KERNEL_READY_JS = """() => {
  const panel = window.jupyterapp.shell.currentWidget;
  const kernel = panel && panel.sessionContext && panel.sessionContext.session
    && panel.sessionContext.session.kernel;
  return !!kernel && kernel.status === 'idle' && kernel.connectionStatus === 'connected';
}"""
NOTEBOOK_JSON_JS = "() => window.jupyterapp.shell.currentWidget.content.model.toJSON()"


# ------------------------------------------------------------------------------------------------
# Fixtures: one JupyterLab server and one browser for the module
# ------------------------------------------------------------------------------------------------

def say(config: pytest.Config, line: str) -> None:
    """Print one line to the terminal even while output is captured (also from an xdist worker)."""
    capture = config.pluginmanager.getplugin("capturemanager")
    reporter = config.pluginmanager.getplugin("terminalreporter")
    with capture.global_and_fixture_disabled():
        if reporter is not None and not hasattr(config, "workerinput"):
            reporter.write_line(line)
        else:
            sys.stderr.write(line + "\n")
            sys.stderr.flush()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def write_lab_settings(folder: Path) -> None:
    for plugin, values in LAB_SETTINGS.items():
        path = folder / f"{plugin}.jupyterlab-settings"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(values))


def wait_for_server(url: str, process: subprocess.Popen, log: Path, timeout: float = 90,
                    token: str = "") -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"JupyterLab exited with {process.returncode}:\n{log.read_text()[-3000:]}")
        try:
            with urllib.request.urlopen(f"{url}/api/status?token={token}", timeout=2):
                return
        except OSError:
            time.sleep(0.3)
    pytest.fail(f"JupyterLab did not answer within {timeout:.0f} s:\n{log.read_text()[-3000:]}")


def stop(process: subprocess.Popen) -> None:
    """Stop the server we started (its process group holds its kernels)."""
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


@pytest.fixture(scope="module")
def lab_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A scratch copy of the course's notebooks: the browser saves and runs them, never the originals."""
    root = tmp_path_factory.mktemp("lab")
    ignore = shutil.ignore_patterns(".ipynb_checkpoints", "__pycache__")
    if CHAPTERS:
        shutil.copytree(CHAPTERS[0].parent, root / "chapters", ignore=ignore)
    shutil.copy(ROOT / "nbgrader_config.py", root / "nbgrader_config.py")
    return root


@pytest.fixture(scope="module")
def lab(lab_root: Path, tmp_path_factory: pytest.TempPathFactory):
    """URL of a JupyterLab test server on loopback (no token: it only ever serves this test)."""
    state = tmp_path_factory.mktemp("lab-state")
    write_lab_settings(state / "settings")
    env = dict(os.environ, PATH=f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}",
               JUPYTERLAB_SETTINGS_DIR=str(state / "settings"),
               JUPYTERLAB_WORKSPACES_DIR=str(state / "workspaces"))
    port = free_port()
    log = state / "jupyterlab.log"
    with log.open("w") as out:
        process = subprocess.Popen(
            [str(BIN / "jupyter"), "lab", "--no-browser", "--ip=127.0.0.1", f"--port={port}", "--allow-root",
             "--IdentityProvider.token=", "--ServerApp.password=", "--ServerApp.disable_check_xsrf=True",
             "--LabApp.expose_app_in_browser=True"],
            cwd=lab_root, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_for_server(url, process, log)
        yield url
    finally:
        stop(process)


@pytest.fixture(scope="module")
def browser():
    if MISSING:
        pytest.fail(f"CI=true but {MISSING}: .ci/run must {ENABLE}")
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


def shut_down_kernels(url: str) -> None:
    with urllib.request.urlopen(f"{url}/api/sessions", timeout=10) as answer:
        sessions = json.load(answer)
    for session in sessions:
        request = urllib.request.Request(f"{url}/api/sessions/{session['id']}", method="DELETE")
        urllib.request.urlopen(request, timeout=30).close()


@pytest.fixture
def page(browser, lab: str):
    """A fresh browser page; the kernels it started are shut down afterwards."""
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.set_default_timeout(60_000)
    yield page
    context.close()
    shut_down_kernels(lab)


# ------------------------------------------------------------------------------------------------
# Driving JupyterLab
# ------------------------------------------------------------------------------------------------

def open_notebook(page: Page, lab: str, relpath: str) -> None:
    """Open a notebook in a reset workspace and wait until its kernel is connected and idle."""
    page.goto(f"{lab}/lab/tree/{relpath}?reset")
    page.wait_for_selector(".jp-Notebook-ExecutionIndicator[data-status='idle']", state="attached")
    page.wait_for_function(KERNEL_READY_JS, polling=200)


def run_all(page: Page) -> None:
    page.click(".lm-MenuBar-itemLabel:text-is('Run')")
    page.click("li.lm-Menu-item[data-command='runmenu:run-all']")
    page.wait_for_function(RUN_FINISHED_JS, polling=250, timeout=CHAPTER_TIMEOUT_MS)


def errors_in(nb: dict) -> list[str]:
    return [f"cell {i}: {out['ename']}: {out['evalue']}" for i, cell in enumerate(nb["cells"])
            for out in cell.get("outputs", []) if out["output_type"] == "error"]


def widgets_without_static_figure(nb: dict) -> list[int]:
    """Cells showing a redrawing widget whose previous code cell shows no figure (the chapter rule)."""
    code = [(i, cell) for i, cell in enumerate(nb["cells"]) if cell["cell_type"] == "code"]
    missing = []
    for (_, before), (i, cell) in zip(code, code[1:]):
        boxes = [out for out in cell.get("outputs", [])
                 if "VBox(" in str(out.get("data", {}).get("text/plain", ""))
                 and "application/vnd.jupyter.widget-view+json" in out.get("data", {})]
        if boxes and not any("image/png" in out.get("data", {}) for out in before.get("outputs", [])):
            missing.append(i)
    return missing


def count_outputs(nb: dict, mime: str) -> int:
    return sum(mime in out.get("data", {}) for cell in nb["cells"] for out in cell.get("outputs", []))


# Each rendered widget: does it hold an output area (a figure it draws), and how many images show in it.
WIDGET_VIEWS_JS = """() => [...document.querySelectorAll('.jp-OutputArea-output > .jupyter-widgets')]
  .map(w => ({
  drawing: w.querySelector('.jp-OutputArea') !== null,
  images: [...w.querySelectorAll("img[src^='data:image/png']")]
    .filter(i => i.complete && i.naturalWidth > 0).length
}))"""
SHOWN_IMAGES_JS = """() => [...document.querySelectorAll(".jp-OutputArea-output img[src^='data:image/png']")]
  .filter(img => img.complete && img.naturalWidth > 0).length"""


def wait_for_images(page: Page, expected: int, timeout_ms: int = 10_000) -> int:
    """PNG images in output areas that the browser has decoded (a broken image has no width)."""
    try:
        page.wait_for_function(f"() => ({SHOWN_IMAGES_JS})() >= {expected}", polling=200, timeout=timeout_ms)
    except PlaywrightTimeout:
        pass  # the caller's assertion reports how many showed
    return page.evaluate(SHOWN_IMAGES_JS)


def move_first_slider(page: Page) -> tuple[tuple[str, str], tuple[str, str]]:
    """Move the first slider one step; its readout and its widget's figure before and after."""
    box = page.locator(".jp-OutputArea-output").filter(has=page.locator(".widget-slider")).first
    readout = box.locator(".widget-readout").first
    figure = box.locator("img[src^='data:image/png']").first
    handle = box.locator(".widget-slider .noUi-handle").first
    before = (readout.inner_text(), figure.get_attribute("src"))
    at_max = handle.get_attribute("aria-valuenow") == handle.get_attribute("aria-valuemax")
    handle.focus()
    page.keyboard.press("ArrowLeft" if at_max else "ArrowRight")
    # the redraw replaces the image element: look it up again inside the widget each time
    page.wait_for_function("""([box, src]) => {
        const img = box.querySelector("img[src^='data:image/png']");
        return img !== null && img.getAttribute('src') !== src; }""",
                           arg=[box.element_handle(), before[1]], polling=200, timeout=30_000)
    return before, (readout.inner_text(), figure.get_attribute("src"))


def screenshot_whole_notebook(page: Page, path: Path) -> None:
    """Grow the window to the notebook's height (so nothing scrolls away) and take one screenshot."""
    page.evaluate("() => window.jupyterapp.shell.collapseLeft()")
    height = page.evaluate("() => document.querySelector('.jp-WindowedPanel-outer').scrollHeight")
    page.set_viewport_size({"width": 1280, "height": min(int(height) + 200, 16_000)})
    page.evaluate("() => { document.querySelector('.jp-WindowedPanel-outer').scrollTop = 0; }")
    page.wait_for_timeout(500)
    path.parent.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(path))


# ------------------------------------------------------------------------------------------------
# Chapters
# ------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("notebook", CHAPTERS, ids=[p.name for p in CHAPTERS])
def test_chapter_runs_in_jupyterlab(notebook: Path, page: Page, lab: str,
                                    request: pytest.FixtureRequest) -> None:
    start = time.monotonic()
    open_notebook(page, lab, f"chapters/{notebook.name}")
    opened = time.monotonic()
    run_all(page)
    ran = time.monotonic()
    nb = page.evaluate(NOTEBOOK_JSON_JS)
    assert not errors_in(nb), f"{notebook.name} shows errors in the browser: {errors_in(nb)}"

    figures = count_outputs(nb, "image/png")
    widgets = count_outputs(nb, "application/vnd.jupyter.widget-view+json")
    assert figures > 0, f"{notebook.name} shows no figure in the browser"
    assert not widgets_without_static_figure(nb), \
        f"{notebook.name}: cells {widgets_without_static_figure(nb)} show a widget without its figure" \
        " in the cell before"
    wait_for_images(page, figures + 1)  # let the images decode before counting them per widget
    views = page.evaluate(WIDGET_VIEWS_JS)
    closed = page.locator(".jp-OutputArea-output.lm-mod-hidden:empty").count()  # finished progress bars
    assert len(views) + closed >= widgets, f"{notebook.name}: {len(views)} of {widgets} widgets rendered"
    assert page.get_by_text("Error displaying widget").count() == 0, f"{notebook.name}: a widget failed"
    drawing = [view for view in views if view["drawing"]]  # redrawing(...) widgets (not progress bars)
    assert all(view["images"] for view in drawing), f"{notebook.name}: a widget shows no figure: {drawing}"
    # every figure output shows, and every widget's own figure too
    shown = wait_for_images(page, figures + len(drawing))
    assert shown >= figures + len(drawing), \
        f"{notebook.name}: {shown} images shown, expected {figures} figures + {len(drawing)} in widgets"

    assert page.locator(".widget-slider").count(), f"{notebook.name} has no slider to move"
    (readout, src), (new_readout, new_src) = move_first_slider(page)
    assert new_readout != readout, f"{notebook.name}: the slider's readout stayed at {readout}"
    assert new_src != src, f"{notebook.name}: moving the slider did not redraw its figure"
    shot = ARTIFACTS / f"{notebook.stem}.png"
    screenshot_whole_notebook(page, shot)  # also lays out every cell, so all Markdown is rendered
    try:
        page.wait_for_function(f"() => ({RAW_MATH_JS})('mjx-container').length === 0", polling=250,
                               timeout=15_000)
    except PlaywrightTimeout:
        pass  # reported just below
    assert not raw_math(page, "mjx-container"), \
        f"{notebook.name} shows raw LaTeX: {raw_math(page, 'mjx-container')}"
    now = time.monotonic()
    say(request.config, f"browser: {notebook.name} in {now - start:.1f} s (open {opened - start:.1f} s, "
                        f"Run All {ran - opened:.1f} s, checks and screenshot {now - ran:.1f} s) "
                        f"({figures} figures, {len(views)} widgets); screenshot {shot.relative_to(ROOT)}")


# ------------------------------------------------------------------------------------------------
# nbgrader's Validate button on one exercise
# ------------------------------------------------------------------------------------------------

def exercise_with_solution() -> list[tuple[Path, Path]]:
    """The first exercise notebook whose source notebook exists in solutions/ (nothing when none)."""
    pairs = [(ex, ex.parents[2] / "solutions" / ex.parent.name / ex.name) for ex in EXERCISES]
    return [pair for pair in pairs if pair[1].exists()][:1]


def validate_in_browser(page: Page, lab: str, relpath: str) -> tuple[str, str]:
    """Press Validate on an open notebook; the result dialog's class (validation-...) and its text."""
    open_notebook(page, lab, relpath)
    page.click(".validate-button")
    message = page.locator(".jp-Dialog #validation-message")
    message.wait_for(timeout=VALIDATE_TIMEOUT_MS)
    kind = next(c for c in message.get_attribute("class").split() if c.startswith("validation-"))
    text = message.inner_text()
    page.click(".jp-Dialog .jp-mod-accept")
    return kind, text


@pytest.fixture(scope="module")
def validate_copies(lab_root: Path) -> dict[str, str]:
    """Untouched and solved copies of one exercise inside the server's folder: {kind: relative path}."""
    pairs = exercise_with_solution()
    if not pairs:
        pytest.skip("no exercise with a source notebook in solutions/ yet")
    exercise, solution = pairs[0]
    chinese = ROOT / "zh" / exercise.relative_to(ROOT)
    copies = {}
    for kind in ("untouched", "solved", "solved_zh"):
        target = lab_root / "validate" / kind / exercise.parent.name / exercise.name
        target.parent.mkdir(parents=True)
        nb = (nbformat.read(exercise, as_version=4) if kind == "untouched"
              else solved_copy(chinese if kind == "solved_zh" else exercise, solution))
        nbformat.write(nb, target)
        copies[kind] = str(target.relative_to(lab_root))
    return copies


def test_validate_reports_failures_on_an_untouched_exercise(page: Page, lab: str, validate_copies) -> None:
    kind, text = validate_in_browser(page, lab, validate_copies["untouched"])
    assert kind == "validation-failed", \
        f"Validate on {validate_copies['untouched']} said {kind}: {text[:500]}"
    assert "NotImplementedError" in text, f"the failures do not name the missing code: {text[:500]}"


def test_validate_passes_a_solved_exercise(page: Page, lab: str, validate_copies) -> None:
    kind, text = validate_in_browser(page, lab, validate_copies["solved"])
    assert kind == "validation-success", f"Validate on {validate_copies['solved']} said {kind}: {text[:1500]}"
    assert "passes all the tests" in text


def test_validate_passes_a_solved_chinese_exercise(page: Page, lab: str, validate_copies) -> None:
    """The Chinese task texts are read-only cells too: Validate must not call them changed."""
    kind, text = validate_in_browser(page, lab, validate_copies["solved_zh"])
    assert kind == "validation-success", \
        f"Validate on the Chinese {validate_copies['solved_zh']} said {kind}: {text[:1500]}"


# ------------------------------------------------------------------------------------------------
# `make lab EDITION=zh`, as README's quick start says
# ------------------------------------------------------------------------------------------------

def course_copy(root: Path) -> Path:
    """What a fresh clone needs for `make lab`: the Makefile, the notebooks, and this machine's .venv."""
    root.mkdir()
    for item in ("Makefile", "pyproject.toml", "nbgrader_config.py"):
        shutil.copy2(ROOT / item, root / item)
    for item in ("chapters", "exercises", "zh"):
        shutil.copytree(ROOT / item, root / item)
    (root / ".venv").symlink_to(ROOT / ".venv")
    return root


def printed_lab_url(log: Path, process: subprocess.Popen, prefix: str, timeout: float = 180) -> str:
    """The URL with its token that `make lab` prints, once it has printed one starting with ``prefix``."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        words = log.read_text().split()
        found = [word for word in words if word.startswith(prefix)]
        if found:
            return found[0]
        if process.poll() is not None:
            break
        time.sleep(0.5)
    pytest.fail(f"make lab printed no URL starting {prefix}:\n{log.read_text()[-3000:]}")


def test_make_lab_opens_the_chinese_edition(browser, tmp_path: Path) -> None:
    """`make lab EDITION=zh` on a copy of the course: the Chinese exercise sets land in work/, the printed URL
    opens zh/chapters/ in a JupyterLab whose menus are Chinese."""
    root = course_copy(tmp_path / "course")
    port = free_port()
    log = tmp_path / "make-lab.log"
    env = dict(os.environ, JUPYTERLAB_WORKSPACES_DIR=str(tmp_path / "workspaces"))
    with log.open("w") as out:
        process = subprocess.Popen(["make", "lab", "EDITION=zh", f"LAB_PORT={port}"], cwd=root, env=env,
                                   stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        url = printed_lab_url(log, process, f"http://127.0.0.1:{port}/lab/tree/zh/chapters?token=")
        wait_for_server(url.split("/lab/")[0], process, log, token=url.split("token=")[1])
        first = sorted((root / "work").glob("*/*.ipynb"))[0]
        assert nbformat.read(first, as_version=4).cells[0].source.startswith("# 练习集"), \
            f"work/ holds the English {first.name}"
        page = browser.new_page()
        try:
            page.goto(url)
            page.locator(".lm-MenuBar-itemLabel:text-is('文件')").wait_for(timeout=60_000)
            page.locator(".jp-DirListing-item[title*='01_principles.ipynb']").first.wait_for(timeout=60_000)
        finally:
            page.close()
    finally:
        stop(process)


# ------------------------------------------------------------------------------------------------
# The offline HTML edition (`make html`)
# ------------------------------------------------------------------------------------------------

MATH_TYPESET_JS = """() => window.MathJax && MathJax.Hub && MathJax.Hub.queue.pending === 0
  && document.querySelectorAll("script[type^='math/tex']").length > 0
  && document.querySelectorAll('.MathJax').length
     >= document.querySelectorAll("script[type^='math/tex']").length"""
PAGE_IMAGES_JS = """() => [...document.querySelectorAll("img[src^='data:image/png']")]
  .map(img => img.complete && img.naturalWidth > 0)"""


# Text of rendered Markdown once its typeset math (and code) is taken out: raw LaTeX left there did not
# typeset.
RAW_MATH_JS = """(math) => [...document.querySelectorAll('.jp-MarkdownOutput, .jp-RenderedMarkdown')]
  .flatMap(m => {
    const walker = document.createTreeWalker(m, NodeFilter.SHOW_TEXT), found = [];
    while (walker.nextNode()) {
      const node = walker.currentNode;
      if (!node.parentElement.closest(math + ', script, style, code, pre')
          && /\\$|\\\\[a-zA-Z]+/.test(node.textContent)) found.push(node.textContent.trim().slice(0, 120));
    }
    return found; })"""


def raw_math(page: Page, typeset: str) -> list[str]:
    """Lines of rendered Markdown still holding LaTeX (``typeset``: the selector of typeset math)."""
    return page.evaluate(RAW_MATH_JS, typeset)


@pytest.fixture(scope="module")
def html_edition(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The HTML edition in both languages: every chapter converted, the first one also executed (`make html`
    runs them all)."""
    if not CHAPTERS:
        pytest.skip("no chapter yet")
    from coursetools.html_edition import build

    out = tmp_path_factory.mktemp("html")
    build(CHAPTERS, out, execute_only=CHAPTERS[:1])
    return out


def open_offline(page: Page, path: Path) -> None:
    """Open a page of the edition and wait until MathJax has typeset it."""
    page.goto(path.as_uri())
    page.wait_for_function(MATH_TYPESET_JS, polling=200, timeout=60_000)
    assert page.locator(".MathJax_Error, .MathJax_Preview:not(:empty)").count() == 0, \
        f"MathJax error in {path.name}"
    font = page.evaluate("() => MathJax.OutputJax['HTML-CSS'].fontInUse")
    assert font == "STIX-Web", \
        f"{path.name}: MathJax typeset with {font!r}, not the web font shipped in the build"
    assert not raw_math(page, ".MathJax, .MathJax_Display"), \
        f"{path.name} shows raw LaTeX: {raw_math(page, '.MathJax')}"


def test_html_edition_works_offline(browser, html_edition: Path, request: pytest.FixtureRequest) -> None:
    context = browser.new_context(viewport={"width": 1100, "height": 900})
    fetched_outside = []
    context.route("**/*", lambda route: route.continue_() if route.request.url.startswith(("file:", "data:"))
                  else (fetched_outside.append(route.request.url), route.abort()))
    page = context.new_page()
    try:
        page.goto((html_edition / "index.html").as_uri())
        missing = [c.stem for c in CHAPTERS if not page.locator(f"a[href='{c.stem}.html']").count()]
        assert not missing, f"the course map does not link {missing}"
        page.locator(f"a[href='{CHAPTERS[0].stem}.html']").first.click()
        page.wait_for_load_state("load")
        open_offline(page, html_edition / f"{CHAPTERS[0].stem}.html")
        images = page.evaluate(PAGE_IMAGES_JS)
        assert images and all(images), \
            f"{CHAPTERS[0].stem}.html: {images.count(True)} of {len(images)} figures shown"
        shot = ARTIFACTS / f"html-{CHAPTERS[0].stem}.png"
        page.screenshot(path=str(shot), full_page=True)
        for chapter in CHAPTERS[1:]:
            open_offline(page, html_edition / f"{chapter.stem}.html")
        page.locator("nav a[hreflang='zh']").first.click()  # the same chapter in Chinese
        page.wait_for_load_state("load")
        assert page.url == (html_edition / "zh" / f"{CHAPTERS[-1].stem}.html").as_uri(), page.url
        page.goto((html_edition / "zh" / "index.html").as_uri())
        missing = [c.stem for c in CHAPTERS if not page.locator(f"a[href='{c.stem}.html']").count()]
        assert not missing, f"the Chinese course map does not link {missing}"
        for chapter in CHAPTERS:
            open_offline(page, html_edition / "zh" / f"{chapter.stem}.html")
            assert page.locator("html[lang='zh']").count() == 1
        page.goto((html_edition / "zh" / f"{CHAPTERS[0].stem}.html").as_uri())
        page.wait_for_function(MATH_TYPESET_JS, polling=200, timeout=60_000)
        images = page.evaluate(PAGE_IMAGES_JS)
        assert images and all(images), \
            f"zh/{CHAPTERS[0].stem}.html: {images.count(True)} of {len(images)} figures shown"
        page.locator("nav a[hreflang='en']").first.click()
        page.wait_for_load_state("load")
        assert page.url == (html_edition / f"{CHAPTERS[0].stem}.html").as_uri(), page.url
        assert not fetched_outside, f"the offline edition fetched {fetched_outside}"
        say(request.config, f"browser: HTML edition: {len(CHAPTERS)} chapters typeset offline, "
                            f"{len(images)} figures in {CHAPTERS[0].name}; "
                            f"screenshot {shot.relative_to(ROOT)}")
    finally:
        context.close()
