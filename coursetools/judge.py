"""The judge: the student's kernel only reports what their code returns; the grader decides the grade.

A test cell of a source notebook is *judged* when its hidden block (``### BEGIN HIDDEN TESTS``) defines

* ``cases(rng)``: yields ``(name, args)`` pairs, the inputs, made in the grader with a fresh random
  generator each grading run (the visible cases are simply the first ones it yields); a case may be
  ``(name, args, truth)``: ``truth`` (say, the true labels of a test set) never leaves the grader and
  reaches ``judge`` as its fifth argument;
* ``observe(*args)``: runs in the student's kernel, calls their code on ``args`` and returns plain data
  (numbers, strings, arrays, lists, dicts); it holds no expected value;
* ``judge(case, args, got, want[, truth])``: runs in the grader and raises ``AssertionError`` with a
  message for the student when ``got`` (the student's observation) is wrong; ``want`` is the
  observation of the reference solution on the same inputs. ``SECRET = True`` in the block hides the
  messages' details.

While nbgrader autogrades, ``PrepareObservations`` keeps the test cells from running in the student's
kernel and appends one observation cell per judged test (``observations.kernel_cell``); after the
kernel ran, ``JudgeObservations`` reads what those cells published, compares it in this process with the
reference's observations and writes the verdict as the test cell's only output, which nbgrader's
``SaveAutoGrades`` then scores (an error output: no points). The observation cells are removed. The
reference observations come from the canary: the reference solution graded first, in the same sandbox, in
``record`` mode; once it passed, its observations of an assignment are published (``publish``) where the
students' judges wait for them (``published_reference``).
"""

from __future__ import annotations

import ast
import json
import os
import re
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import nbformat
import numpy as np
from nbconvert.preprocessors import Preprocessor
from traitlets import Bool, Float, Unicode

from coursetools import observations
from coursetools.course import cell_text, notebook_cells
from coursetools.outputs import CappedExecute

HIDDEN = re.compile(r"^[ \t]*### BEGIN HIDDEN TESTS[^\n]*\n(.*?)^[ \t]*### END HIDDEN TESTS", re.M | re.S)
SKIP_TAG = "skip-execution"  # nbclient does not run a cell with this tag
OBSERVATION_KEY = "course_observation"
MAX_FAILURES_SHOWN = 3
NOT_OBSERVED = "no result came back from your code"


# --- authoring: what a judged test cell holds -----------------------------------------------------------

def hidden_code(cell: dict[str, Any]) -> str | None:
    """The hidden block of a test cell (None when it has none)."""
    match = HIDDEN.search(cell_text(cell))
    return match.group(1) if match else None


def is_test_cell(cell: dict[str, Any]) -> bool:
    """An autograded test cell: a code cell with points and no solution."""
    meta = cell.get("metadata", {}).get("nbgrader", {})
    return cell.get("cell_type") == "code" and bool(meta.get("grade")) and not meta.get("solution")


def defines(code: str, name: str) -> bool:
    """Whether ``code`` defines a top-level function ``name``."""
    try:
        tree = ast.parse(code)
    except SyntaxError:
        return False
    return any(isinstance(node, ast.FunctionDef) and node.name == name for node in tree.body)


def is_judged(cell: dict[str, Any]) -> bool:
    """A test cell whose hidden block defines ``cases``, ``observe`` and ``judge``."""
    code = hidden_code(cell) if is_test_cell(cell) else None
    return code is not None and all(defines(code, name) for name in ("cases", "observe", "judge"))


def observe_source(code: str) -> str:
    """The functions of a hidden block that travel to the kernel: ``observe`` and any ``observe_*``."""
    tree = ast.parse(code)
    return "\n\n".join(ast.get_source_segment(code, node) for node in tree.body
                       if isinstance(node, ast.FunctionDef)
                       and (node.name == "observe" or node.name.startswith("observe_"))) + "\n"


def setup_code(notebook: Path) -> str:
    """The imports of a source notebook (its first code cell), run before a hidden block in the grader."""
    code = next((cell_text(c) for c in notebook_cells(notebook) if c.get("cell_type") == "code"), "")
    return "\n".join(line for line in code.splitlines() if not line.lstrip().startswith(("%", "!")))


def hidden_namespace(setup: str, code: str) -> dict[str, Any]:
    """The names a hidden block defines, run in the grader after the notebook's imports."""
    namespace: dict[str, Any] = {"__name__": "hidden_tests"}
    exec(compile(setup, "setup", "exec"), namespace)
    exec(compile(code, "hidden tests", "exec"), namespace)
    return namespace


# --- the plan: fresh inputs for one grading run ------------------------------------------------------------

@dataclass
class Check:
    """One judged test cell: its inputs for this run and the code the kernel and the grader need."""

    grade_id: str
    names: list[str]
    cases_json: str
    observe: str
    hidden: str
    truths_json: str = "null"


def plan_notebook(notebook: Path, seed: int) -> dict[str, Any]:
    """``{"setup": imports, "checks": {grade_id: Check}}``: the judged test cells of a source notebook with
    their inputs drawn from ``seed``."""
    setup, checks = setup_code(notebook), {}
    for index, cell in enumerate(notebook_cells(notebook)):
        if not is_judged(cell):
            continue
        code = hidden_code(cell)
        rng = np.random.default_rng([seed, index])
        names, inputs, truths = drawn_cases(hidden_namespace(setup, code), rng)
        grade_id = cell["metadata"]["nbgrader"]["grade_id"]
        check = Check(grade_id, names, observations.dumps(inputs), observe_source(code), code,
                      observations.dumps(truths))
        checks[grade_id] = asdict(check)
    return {"setup": setup, "checks": checks}


def drawn_cases(namespace: dict[str, Any], rng: np.random.Generator) -> tuple[list[str], list[tuple], list]:
    """Names, argument tuples (sent to the kernel) and truths (kept in the grader) of ``cases(rng)``."""
    names, inputs, truths = [], [], []
    for case in namespace["cases"](rng):
        name, args, *truth = case
        names.append(str(name))
        inputs.append(args if isinstance(args, tuple) else (args,))
        truths.append(truth[0] if truth else None)
    return names, inputs, truths


def plan_run(source: Path, assignments: list[str], seed: int) -> dict[str, dict[str, dict[str, Any]]]:
    """``plan[assignment][notebook stem][grade_id]``: every judged test of these assignments."""
    return {a: {nb.stem: plan_notebook(nb, seed) for nb in sorted((source / a).glob("*.ipynb"))}
            for a in assignments}


def write_json(path: Path, value: Any) -> Path:
    """Write ``value`` as JSON; the path."""
    path.write_text(json.dumps(value))
    return path


# --- the reference: recorded by the canary, published for the students -----------------------------------

def reference_file(folder: str | Path, assignment: str) -> Path:
    """Where the reference observations of an assignment are kept in ``folder`` (recorded or published):
    ``{notebook: {grade_id: observations}}``."""
    return Path(folder) / f"{assignment}.json"


def publish(recorded: Path, published: Path) -> None:
    """Make what the canary recorded the reference its assignment's students are judged against, in one step
    (a judge waiting for it never reads half a file); ``{}`` when it recorded nothing (no judged test)."""
    published.parent.mkdir(parents=True, exist_ok=True)
    partial = published.with_name(published.name + ".partial")
    partial.write_text(recorded.read_text() if recorded.exists() else "{}")
    os.replace(partial, published)


def published_reference(folder: str, assignment: str, notebook: str, wait: float,
                        poll: float = 0.1) -> dict[str, Any]:
    """The reference observations of one notebook, once the canary of its assignment published them in
    ``folder``: waited for up to ``wait`` s (another worker may still be grading that canary)."""
    path, deadline = reference_file(folder, assignment), time.monotonic() + wait
    while not path.exists():
        if time.monotonic() > deadline:
            raise TimeoutError(f"the reference observations of {assignment} were not published within "
                               f"{wait:.0f} s (its canary did not pass)")
        time.sleep(poll)
    stored = json.loads(path.read_text()).get(notebook, {})
    return {g: None if v is None else observations.decode(v) for g, v in stored.items()}


# --- verdicts ---------------------------------------------------------------------------------------------

@dataclass
class Verdict:
    """What the judge decided for one test cell."""

    passed: bool
    message: str


def verdict(namespace: dict[str, Any], names: list[str], inputs: list[tuple], got: list[Any] | None,
            want: list[Any], truths: list[Any] | None = None) -> Verdict:
    """Compare the student's observations ``got`` with the reference's ``want``, case by case."""
    if got is None or len(got) != len(names):
        return Verdict(False, NOT_OBSERVED)
    secret = bool(namespace.get("SECRET", False))
    failures = []
    for name, args, mine, theirs, truth in zip(names, inputs, got, want, truths or [None] * len(names)):
        problem = case_problem(namespace["judge"], name, args, mine, theirs, truth)
        if problem:
            failures.append(f"{name}: wrong result" if secret and not isinstance(mine, observations.Raised)
                            else problem)
    if not failures:
        return Verdict(True, f"passed: all {len(names)} cases")
    shown = "\n".join(f"- {text}" for text in failures[:MAX_FAILURES_SHOWN])
    more = f"\n(and {len(failures) - MAX_FAILURES_SHOWN} more)" if len(failures) > MAX_FAILURES_SHOWN else ""
    return Verdict(False, f"failed {len(failures)} of {len(names)} cases:\n{shown}{more}")


def case_problem(judge: Any, name: str, args: tuple, got: Any, want: Any, truth: Any = None) -> str:
    """'' when ``got`` passes ``judge``; else the message for the student."""
    if isinstance(want, observations.Raised):
        return f"{name}: the reference solution itself raised {want}"
    if isinstance(got, observations.Raised):
        return f"{name}: your code raised {got}"
    try:
        judge(name, args, got, want, truth) if truth is not None else judge(name, args, got, want)
    except AssertionError as failure:
        return str(failure) or f"{name}: wrong result"
    except Exception as error:  # a result of the wrong kind makes the comparison itself fail
        return f"{name}: your result could not be checked ({type(error).__name__}: {error})"[:600]
    return ""


def judge_in_process(setup: str, hidden: str, student: dict[str, Any], reference: dict[str, Any],
                     seed: int = 0) -> Verdict:
    """The judge's verdict with both sides observed in this process: ``student`` and ``reference`` are
    namespaces where a notebook's code ran (for the course's own tests of wrong implementations)."""
    namespace = hidden_namespace(setup, hidden)
    names, inputs, truths = drawn_cases(namespace, np.random.default_rng([seed, 0]))
    cases_json = observations.dumps(inputs)

    def observed(where: dict[str, Any]) -> list[Any]:
        observe = observations.define_observe(observe_source(hidden), where)
        return observations.decode({"list": observations.observe_all(observe, cases_json, where)})
    return verdict(namespace, names, observations.loads(cases_json), observed(student), observed(reference),
                   truths)


def published(cell: Any) -> list[Any] | None:
    """The observations one observation cell published (None when there is not exactly one result)."""
    found = [out for out in cell.get("outputs", []) if out.get("output_type") == "display_data"
             and observations.MIME in out.get("data", {})]
    if len(found) != 1:
        return None
    try:
        data = found[0]["data"][observations.MIME]
        return observations.decode({"list": data["results"]})
    except (observations.ObservationError, KeyError, TypeError):
        return None


def kernel_error(cell: Any) -> str:
    """The error an observation cell ended with ('' if none): a time-out or a crash of the kernel."""
    errors = [out for out in cell.get("outputs", []) if out.get("output_type") == "error"]
    return f" ({errors[-1].get('ename')}: {errors[-1].get('evalue', '')[:200]})" if errors else ""


def verdict_output(result: Verdict) -> Any:
    """The test cell's only output: a pass message, or an error that nbgrader scores 0."""
    if result.passed:
        return nbformat.v4.new_output("stream", name="stdout", text=result.message + "\n")
    return nbformat.v4.new_output("error", ename="Failed", evalue=result.message, traceback=[result.message])


# --- the two nbgrader preprocessors -----------------------------------------------------------------------

def _planned(plan_file: str, resources: dict[str, Any]) -> dict[str, Any]:
    """This notebook's part of the plan: its imports and judged tests (none when there is no plan)."""
    if not plan_file:
        return {"setup": "", "checks": {}}
    info = resources.get("nbgrader", {})
    plan = json.loads(Path(plan_file).read_text())
    return plan.get(info.get("assignment"), {}).get(info.get("notebook"), {"setup": "", "checks": {}})


class PrepareObservations(Preprocessor):
    """Autograde, before execution: judged test cells are not run; observation cells are appended."""

    enabled = Bool(True)
    plan = Unicode("", help="the run's plan (JSON written by plan_run)").tag(config=True)

    def preprocess(self, nb: Any, resources: dict[str, Any]) -> tuple[Any, dict[str, Any]]:
        checks = _planned(self.plan, resources)["checks"]
        for cell in nb.cells:
            grade_id = cell.get("metadata", {}).get("nbgrader", {}).get("grade_id")
            if is_test_cell(cell) and grade_id in checks:
                cell.metadata.setdefault("tags", []).append(SKIP_TAG)
        for grade_id, check in checks.items():
            code = observations.kernel_cell(check["observe"], check["cases_json"])
            nb.cells.append(nbformat.v4.new_code_cell(code, metadata={OBSERVATION_KEY: grade_id}))
        return nb, resources


class JudgeObservations(Preprocessor):
    """Autograde, after execution: each judged test cell's output becomes the judge's verdict.

    With ``record`` set (the canary), the observations are the reference's: they are written there and
    judged against themselves, which passes unless the reference failed. Otherwise they are judged against
    the reference published in ``reference``, waited for up to ``wait`` s.
    """

    enabled = Bool(True)
    plan = Unicode("", help="the run's plan (JSON written by plan_run)").tag(config=True)
    reference = Unicode("", help="the folder of the published reference observations").tag(config=True)
    record = Unicode("", help="canary: the folder to write the observations in").tag(config=True)
    wait = Float(0.0, help="seconds to wait for an assignment's reference to be published").tag(config=True)

    def preprocess(self, nb: Any, resources: dict[str, Any]) -> tuple[Any, dict[str, Any]]:
        planned = _planned(self.plan, resources)
        checks = planned["checks"]
        if not checks:
            return nb, resources
        seen = {c.metadata[OBSERVATION_KEY]: c for c in nb.cells if OBSERVATION_KEY in c.get("metadata", {})}
        nb.cells = [c for c in nb.cells if OBSERVATION_KEY not in c.get("metadata", {})]
        got = {grade_id: published(cell) for grade_id, cell in seen.items()}
        reference = self._reference(resources, got)
        namespaces = {g: hidden_namespace(planned["setup"], check["hidden"]) for g, check in checks.items()}
        for cell in nb.cells:
            grade_id = cell.get("metadata", {}).get("nbgrader", {}).get("grade_id")
            if not (is_test_cell(cell) and grade_id in checks):
                continue
            check = checks[grade_id]
            inputs = observations.loads(check["cases_json"])
            want = reference.get(grade_id) or [observations.Raised(NOT_OBSERVED)] * len(check["names"])
            truths = observations.loads(check.get("truths_json", "null"))
            result = verdict(namespaces[grade_id], check["names"], inputs, got.get(grade_id), want, truths)
            if got.get(grade_id) is None:
                result.message += kernel_error(seen.get(grade_id, {}))
            cell.outputs = [verdict_output(result)]
            cell.metadata["tags"] = [t for t in cell.metadata.get("tags", []) if t != SKIP_TAG]
        return nb, resources

    def _reference(self, resources: dict[str, Any], got: dict[str, Any]) -> dict[str, Any]:
        """The reference's observations for this notebook (the canary records its own)."""
        assignment, notebook = resources["nbgrader"]["assignment"], resources["nbgrader"]["notebook"]
        if self.record:
            path = reference_file(self.record, assignment)
            recorded = json.loads(path.read_text()) if path.exists() else {}
            recorded[notebook] = {g: None if v is None else observations.encode(v) for g, v in got.items()}
            path.parent.mkdir(parents=True, exist_ok=True)
            write_json(path, recorded)
            return got
        return published_reference(self.reference, assignment, notebook, self.wait) if self.reference else {}


def judged_config(plan: str | Path, reference: str | Path = "", record: str | Path = "",
                  wait: float = 0.0) -> dict[str, Any]:
    """nbgrader settings that judge the tests of ``plan`` and cap outputs as they arrive (as a Config-able
    dict); ``reference``, ``record``, ``wait``: as for ``JudgeObservations``."""
    from nbgrader.converters.autograde import Autograde

    traits = Autograde.class_traits()
    sanitize, autograde = (list(traits[name].default()) for name in ("sanitize_preprocessors",
                                                                     "autograde_preprocessors"))
    overwrite = next(i for i, p in enumerate(sanitize) if p.__name__ == "OverwriteCells")
    execute = next(i for i, p in enumerate(autograde) if p.__name__ == "Execute")
    sanitize.insert(overwrite + 1, PrepareObservations)
    autograde[execute:execute + 1] = [CappedExecute, JudgeObservations]
    return {"Autograde": {"sanitize_preprocessors": sanitize, "autograde_preprocessors": autograde},
            "PrepareObservations": {"plan": str(plan)},
            "JudgeObservations": {"plan": str(plan), "reference": str(reference), "record": str(record),
                                  "wait": float(wait)}}
