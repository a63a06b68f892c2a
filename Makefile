# Thin wrappers around the course's tools; README.md documents every target.
PYTHON ?= python3
VENV   := .venv
BIN    := $(abspath $(VENV))/bin
# nbgrader starts alembic as a subprocess: the venv's bin/ must come first on PATH.
export PATH := $(BIN):$(PATH)

LAB_IP   ?= 127.0.0.1
LAB_PORT ?= 8888
LAB_OPTS ?=
PYTEST_OPTS ?=
ROOT_FLAG := $(if $(filter 0,$(shell id -u)),--allow-root,)

.PHONY: help setup work lab test release bench html grade check bundle clean-venv

help:
	@echo "make lab      set up .venv, copy exercises/ into work/ (once), open JupyterLab"
	@echo "make test     set up .venv with the test extras and run the whole test suite"
	@echo "make release  regenerate exercises/ from solutions/ with nbgrader"
	@echo "make bench    time every chapter and solution notebook (seconds, peak memory)"
	@echo "make html     run every chapter and write the offline HTML edition to build/html/"
	@echo "make grade    autograde submitted/ in parallel: grades.csv, feedback/, grades-summary.png"
	@echo "              (options: ASSIGNMENT=ex01_principles STUDENT=alice REPORT_ONLY=1)"
	@echo "              student code runs sandboxed (bubblewrap); UNSAFE_NO_SANDBOX=1 runs it with your rights"
	@echo "make check    grade your own work/exNN_*/ against the hidden tests: make check EX=ex01"
	@echo "make bundle   write the student archive dist/multimodal-course-student.tar.gz (no solutions)"

$(VENV)/.course: pyproject.toml
	@command -v bwrap >/dev/null || { command -v apt-get >/dev/null && [ "$$(id -u)" = 0 ] \
	  && apt-get install -y -qq --no-install-recommends bubblewrap >/dev/null; } \
	  || echo "note: install bubblewrap (make grade sandboxes student code with it)"
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e .
	touch $@

$(VENV)/.tests: $(VENV)/.course
	$(BIN)/python -m pip install --quiet -e '.[test,hub]'
	touch $@

setup: $(VENV)/.course

work:
	mkdir -p work
	if [ -d exercises ]; then cp -rn exercises/. work/; fi

lab: $(VENV)/.course work
	@echo "Opening JupyterLab: open the URL with its token that Jupyter prints below."
	$(BIN)/jupyter lab --no-browser --ip=$(LAB_IP) --port=$(LAB_PORT) $(ROOT_FLAG) $(LAB_OPTS)

test: $(VENV)/.tests
	$(BIN)/python -m pytest $(PYTEST_OPTS)

release: $(VENV)/.course
	@set -e; for dir in solutions/*/; do \
	  name=$$(basename $$dir); \
	  $(BIN)/nbgrader generate_assignment $$name --force --log-level=WARN; \
	done

bench: $(VENV)/.tests
	$(BIN)/python tests/bench.py

html: $(VENV)/.course
	$(BIN)/python -m helpers.html_edition

clean-venv:
	rm -rf $(VENV)

# Grading (helpers/grading.py; README's instructor and student guides).
ASSIGNMENT ?=
STUDENT ?=
REPORT_ONLY ?=
EX ?=
# Student kernels run in the bubblewrap sandbox (helpers/sandbox.py); UNSAFE_NO_SANDBOX=1 runs them with your rights.
UNSAFE_NO_SANDBOX ?=
UNSAFE_FLAG = $(if $(UNSAFE_NO_SANDBOX),--unsafe-no-sandbox)

grade: $(VENV)/.course
	$(BIN)/python -m helpers.grading grade $(if $(ASSIGNMENT),--assignment $(ASSIGNMENT)) $(if $(STUDENT),--student $(STUDENT)) $(if $(REPORT_ONLY),--report-only) $(UNSAFE_FLAG)

check: $(VENV)/.course
	@test -n "$(EX)" || { echo "usage: make check EX=ex01 (an exercise set you work on in work/)"; exit 2; }
	$(BIN)/python -m helpers.grading check $(EX) $(UNSAFE_FLAG)

bundle: $(VENV)/.course
	$(BIN)/python -m helpers.grading bundle
