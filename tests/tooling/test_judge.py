"""The judge (coursetools/judge.py, observations.py, feedback.py): a student's kernel only reports, the
grader decides. Every attack below is a few lines added to an answer cell of the *untouched* notebook, and
each must score exactly what the untouched notebook scores; the feedback pages show no student markup and
no hidden test in any encoding."""

from __future__ import annotations

import base64
import codecs
import io
import re
import subprocess
import threading
from pathlib import Path

import nbformat
import numpy as np
import pytest
from test_grading import ASSIGNMENT, FIXTURE, _cell, make_course, run_grading, task_grades

from coursetools import judge, observations

pytestmark = pytest.mark.xdist_group("grading")

MIME = observations.MIME
ATTACKS = {
    # every later cell holding an assert runs as `pass`
    "input_transformer": '''
def _no_asserts(lines):
    return [line.replace("assert ", "pass  # ") for line in lines]
get_ipython().input_transformers_cleanup.append(_no_asserts)
''',
    # every later cell does nothing at all
    "blank_transformer": '''
get_ipython().input_transformers_post.append(lambda lines: ["pass\\n"])
''',
    # every later cell is wrapped in try/except BaseException: pass
    "ast_transformer": '''
import ast
class _Swallow(ast.NodeTransformer):
    def visit_Module(self, node):
        handler = ast.ExceptHandler(type=ast.Name("BaseException", ast.Load()), name=None, body=[ast.Pass()])
        node.body = [ast.Try(body=node.body or [ast.Pass()], handlers=[handler], orelse=[], finalbody=[])]
        return ast.fix_missing_locations(node)
get_ipython().ast_transformers.append(_Swallow())
''',
    # an execute_result before every cell: nbgrader would read it as the cell's score
    "pre_run_result": '''
get_ipython().events.register("pre_run_cell", lambda *args: get_ipython().displayhook(100.0))
''',
    # comparisons that always agree, and answers equal to anything
    "monkeypatch": '''
import numpy, helpers.testing
numpy.isclose = numpy.allclose = lambda *args, **kwargs: True
numpy.array_equal = lambda *args, **kwargs: True
helpers.testing.assert_close = assert_close = lambda *args, **kwargs: None
class _AlwaysEqual(float):
    def __eq__(self, other):
        return True
    __hash__ = float.__hash__
_stub = top_k_accuracy
def top_k_accuracy(scores, labels, k=1):
    return _AlwaysEqual(0.0)
''',
    # a second, made-up observation after every cell
    "fake_observation": '''
from IPython.display import display as _display
_fake = {"results": [{"float": "1.0"}] * 50}
get_ipython().events.register("post_run_cell", lambda *args: _display({"MIME": _fake}, raw=True))
'''.replace("MIME", MIME),
    # the judge's own tools broken
    "broken_builtins": '''
import builtins
builtins.exec = lambda *args, **kwargs: None
builtins.compile = lambda *args, **kwargs: None
''',
    # every cell's code printed, encoded, so that a scan for hidden lines finds nothing
    "leaker": '''
import base64, codecs
def _leak(info):
    print("ROT13", codecs.encode(info.raw_cell, "rot13"))
    print("B64", base64.b64encode(info.raw_cell.encode()).decode())
get_ipython().events.register("pre_run_cell", _leak)
''',
    # markup that would run in the page, hide the errors and print a full score
    "forger": '''
from IPython.display import HTML, Javascript, display
display(HTML("<style>.output_error{display:none}</style><script>document.title='FORGED'</script>"
             "<div onmouseover=\\"alert(1)\\">Score: 5.0 / 5.0</div>"))
display(Javascript("document.body.innerHTML = 'FORGED'"))
''',
}
FORGED_ANSWER = "<script>alert('FORGED')</script><style>body{display:none}</style><b onclick='x()'>answer</b>"


def untouched(course: Path) -> nbformat.NotebookNode:
    return nbformat.read(course / "exercises" / ASSIGNMENT / "extiny.ipynb", as_version=4)


def write_class(course: Path) -> None:
    """The untouched notebook, the solved one, and one untouched notebook per attack."""
    def submit(student: str, nb: nbformat.NotebookNode) -> None:
        (course / "submitted" / student / ASSIGNMENT).mkdir(parents=True)
        nbformat.write(nb, course / "submitted" / student / ASSIGNMENT / "extiny.ipynb")

    submit("untouched", untouched(course))
    solved = untouched(course)  # the release with the fixture's code answers written in
    for cell in nbformat.read(FIXTURE, as_version=4).cells:
        meta = cell.metadata.get("nbgrader", {})
        if meta.get("solution") and cell.cell_type == "code":
            _cell(solved, meta["grade_id"]).source = cell.source
    _cell(solved, "why_top_k").source = "The two highest scores of a row include its highest one."
    submit("full", solved)
    for name, code in ATTACKS.items():
        nb = untouched(course)
        _cell(nb, "top_k_accuracy").source = code + "\n" + _cell(nb, "top_k_accuracy").source
        if name == "forger":
            _cell(nb, "why_top_k").source = FORGED_ANSWER
        submit(name, nb)
    fake = untouched(course)  # a cell of the student's own that claims to be the judge's observation cell
    fake.cells.append(nbformat.v4.new_code_cell(
        "from IPython.display import display\n"
        f"display({{{MIME!r}: {{'results': [{{'float': '1.0'}}] * 5}}}}, raw=True)",
        metadata={judge.OBSERVATION_KEY: "test_top_k_accuracy"}))
    submit("fake_cell", fake)


@pytest.fixture(scope="module")
def graded(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, subprocess.CompletedProcess[str]]:
    course = make_course(tmp_path_factory.mktemp("judge") / "course")
    write_class(course)
    done = run_grading("grade", "--root", str(course))
    assert done.returncode == 0, done.stdout + done.stderr
    return course, done


def test_every_attack_scores_what_the_untouched_notebook_scores(graded) -> None:
    course, done = graded
    grades = task_grades(course / "gradebook.db")
    tasks = ("test_top_k_accuracy", "test_class_means")
    assert [grades[("full", t)][0] for t in tasks] == [2, 3], done.stdout
    baseline = [grades[("untouched", t)][0] for t in tasks]
    assert baseline == [0, 0]
    for student in [*ATTACKS, "fake_cell"]:
        assert [grades[(student, t)][0] for t in tasks] == baseline, (student, done.stdout)


def _hidden_fragments() -> list[str]:
    """Distinctive pieces of the fixture's hidden blocks, as written and in the attacks' encodings (the
    cases' names are not among them: the judge's verdicts name the cases on purpose)."""
    pieces = ["def observe(scores, labels, k)", "return top_k_accuracy(scores, labels, k=k)",
              "def judge(case", "hidden-sentinel", "assert_close(got, want"]
    encoded = [codecs.encode(p, "rot13") for p in pieces]
    for cell in nbformat.read(FIXTURE, as_version=4).cells:
        code = judge.hidden_code(cell) or ""
        encoded += [base64.b64encode(line.encode()).decode()[:24] for line in code.splitlines()
                    if len(line.strip()) > 20]
    return pieces + encoded


def test_feedback_shows_only_the_judges_verdicts_and_no_student_markup(graded) -> None:
    course, _ = graded
    fragments = _hidden_fragments()
    for page in sorted((course / "feedback").rglob("extiny.html")):
        text = page.read_text()
        assert not [f for f in fragments if f in text], page
        scripts = re.findall(r"<script[^>]*>", text)
        assert all("mathjax" in s.lower() for s in scripts), (page, scripts)
        assert not re.search(r"<[^>]+\son\w+\s*=", text), page  # no event handler attribute
        assert (page.parent / "mathjax" / "MathJax.js").exists(), page
    forged = (course / "feedback" / "forger" / ASSIGNMENT / "extiny.html").read_text()
    assert "<style>.output_error" not in forged and "<script>document.title" not in forged
    assert "&lt;script&gt;alert" in forged  # the written answer is shown as text
    full = (course / "feedback" / "full" / ASSIGNMENT / "extiny.html").read_text()
    assert "passed: all 5 cases" in full and "not graded yet" in full


def test_a_fresh_seed_draws_fresh_hidden_inputs() -> None:
    first, second = (judge.plan_notebook(FIXTURE, seed) for seed in (1, 2))
    assert first["checks"].keys() == second["checks"].keys()
    check = "test_top_k_accuracy"
    assert first["checks"][check]["cases_json"] != second["checks"][check]["cases_json"]
    assert judge.plan_notebook(FIXTURE, 1) == first  # the same seed draws the same inputs
    observe = first["checks"][check]["observe"]
    assert "judge" not in observe and "cases" not in observe  # only observe travels to the kernel


def test_verdict_names_the_case_and_what_came_back() -> None:
    namespace = judge.hidden_namespace("import numpy as np\nfrom helpers.testing import assert_close",
                                       judge.hidden_code(_cell(nbformat.read(FIXTURE, as_version=4),
                                                               "test_top_k_accuracy")))
    names, inputs = ["case a", "case b"], [(None,), (None,)]
    ok = judge.verdict(namespace, names, inputs, [0.5, 1.0], [0.5, 1.0])
    assert ok.passed and ok.message == "passed: all 2 cases"
    bad = judge.verdict(namespace, names, inputs, [0.25, observations.Raised("ValueError: no")], [0.5, 1.0])
    assert not bad.passed and "case a" in bad.message and "0.25" in bad.message and "0.5" in bad.message
    assert "case b: your code raised ValueError: no" in bad.message
    assert judge.verdict(namespace, names, inputs, None, [0.5, 1.0]).message == judge.NOT_OBSERVED


def test_a_students_judge_waits_for_the_reference_of_its_own_assignment(tmp_path: Path) -> None:
    """Another assignment's reference does not end the wait; its own, published whole while it waits, does;
    with none published in time the judge gives up (its canary did not pass)."""
    recorded, published = tmp_path / "shard" / "recorded", tmp_path / "reference"
    recorded.mkdir(parents=True)
    judge.write_json(judge.reference_file(recorded, "ex_b"), {"nb": {"test_b": observations.encode([1.5])}})
    judge.publish(judge.reference_file(recorded, "ex_a"), judge.reference_file(published, "ex_a"))
    with pytest.raises(TimeoutError, match="ex_b"):
        judge.published_reference(str(published), "ex_b", "nb", wait=0.3)
    threading.Timer(0.5, judge.publish, (judge.reference_file(recorded, "ex_b"),
                                         judge.reference_file(published, "ex_b"))).start()
    assert judge.published_reference(str(published), "ex_b", "nb", wait=30) == {"test_b": [1.5]}
    assert judge.published_reference(str(published), "ex_a", "nb", wait=0) == {}  # ex_a records nothing
    assert sorted(p.name for p in published.iterdir()) == ["ex_a.json", "ex_b.json"]  # no half-written file


# --- the codec: plain data only ----------------------------------------------------------------------

def test_observations_round_trip_plain_data() -> None:
    value = {"a": [1, 2.5, "x", None, True], "t": (np.arange(6).reshape(2, 3), np.array(["p", "q"])),
             "f": np.float32(1.5), "big": 10**30}
    back = observations.loads(observations.dumps(value))
    assert back["a"] == [1, 2.5, "x", None, True] and back["big"] == 10**30
    assert isinstance(back["t"], tuple) and np.array_equal(back["t"][0], value["t"][0])
    assert back["t"][1].tolist() == ["p", "q"] and float(back["f"]) == 1.5


def _pickled_array() -> str:
    buffer = io.BytesIO()
    np.save(buffer, np.array([{"x": 1}], dtype=object), allow_pickle=True)
    return base64.b64encode(buffer.getvalue()).decode()


@pytest.mark.parametrize("data", [
    {"array": "not base64 !"},
    {"array": None},
    {"pickle": "gASV"},
    {"int": "1" * 1000},
    [1, 2],
    {"dict": {"a": {"list": [{"int": "1"}]}, "b": {"float": "1.0"}}, "extra": 1},
], ids=["bad-base64", "array-not-text", "unknown-kind", "huge-int", "bare-list", "two-keys"])
def test_malformed_observations_are_refused(data) -> None:
    with pytest.raises(observations.ObservationError):
        observations.decode(data)


def test_object_arrays_are_never_unpickled() -> None:
    with pytest.raises(observations.ObservationError):
        observations.decode({"array": _pickled_array()})


def test_observations_over_the_budget_are_refused() -> None:
    text = observations.dumps(np.zeros(10_000))
    with pytest.raises(observations.ObservationError):
        observations.loads(text, budget=1000)
    nested = {"list": [{"int": "1"}]}
    for _ in range(observations.MAX_DEPTH + 2):
        nested = {"list": [nested]}
    with pytest.raises(observations.ObservationError):
        observations.decode(nested)
