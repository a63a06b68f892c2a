# Thin wrappers around the course's tools; README.md documents every target.
PYTHON ?= python3
VENV   := .venv
BIN    := $(abspath $(VENV))/bin
# nbgrader starts alembic as a subprocess: the venv's bin/ must come first on PATH.
export PATH := $(BIN):$(PATH)

LAB_IP   ?= 127.0.0.1
LAB_PORT ?= 8888
LAB_OPTS ?=
# The course's language: en (chapters/, exercises/) or zh (the Chinese edition in zh/, docs/translating.md).
EDITION ?= en
EDITION_DIR = $(if $(filter zh,$(EDITION)),zh/,)
# JupyterLab's own menus follow the edition (its zh_CN language pack is installed with the course).
LAB_SETTINGS = $(abspath $(VENV))/lab-settings-$(EDITION)
PYTEST_OPTS ?=
# Course tooling (grading, HTML edition, benchmarks) is not in the student bundle.
TOOLING = @test -d coursetools || { echo "make $@ needs the full course repository: the student bundle has no coursetools/ (Validate checks your work)"; exit 2; }
ROOT_FLAG := $(if $(filter 0,$(shell id -u)),--allow-root,)

.PHONY: help setup edition work lab test release bench html zh zh-check grade check bundle clean-venv

help:
	@echo "make lab      set up .venv, copy exercises/ into work/ (once), open JupyterLab"
	@echo "              make lab EDITION=zh: the Chinese edition (zh/), its exercise sets, JupyterLab in Chinese"
	@echo "make test     set up .venv with the test extras and run the whole test suite"
	@echo "make release  regenerate exercises/ from solutions/ with nbgrader"
	@echo "make bench    time every chapter and solution notebook (seconds, peak memory)"
	@echo "make html     run every chapter and write the offline HTML edition to build/html/ (English and Chinese)"
	@echo "make zh       bring the Chinese catalogs (locales/) in line with the English notebooks, rewrite zh/"
	@echo "make zh-check list untranslated or fuzzy entries and translations that lost math, numbers or terms"
	@echo "make grade    autograde submitted/ in parallel: grades.csv, feedback/, grades-summary.png"
	@echo "              (options: ASSIGNMENT=ex01_principles STUDENT=alice REPORT_ONLY=1)"
	@echo "              student code runs sandboxed (bubblewrap), each student in a cgroup; UNSAFE_NO_SANDBOX=1"
	@echo "              runs it with your rights, UNSAFE_NO_CGROUPS=1 without cgroups"
	@echo "make check    grade your own work/exNN_*/ against the hidden tests: make check EX=ex01"
	@echo "make bundle   write the student archive dist/multimodal-course-student.tar.gz (no solutions)"

# The first set-up downloads and installs the course's packages: about 2 minutes on a laptop.
$(VENV)/.course: pyproject.toml
	@echo "Setting up $(VENV) (the first time takes about 2 minutes)..."
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	@echo "Installing the course's packages (numpy, torch, JupyterLab, nbgrader, ...)..."
	$(BIN)/python -m pip install --progress-bar on -e .
	touch $@

$(VENV)/.tests: $(VENV)/.course
	@echo "Installing the test tools..."
	$(BIN)/python -m pip install --quiet -e '.[test,hub]'
	touch $@

setup: $(VENV)/.course

edition:
	@case "$(EDITION)" in en|zh) ;; *) echo "EDITION=$(EDITION): choose EDITION=en (English) or EDITION=zh (中文)"; exit 2;; esac

work: edition
	mkdir -p work
	if [ -d $(EDITION_DIR)exercises ]; then cp -rn $(EDITION_DIR)exercises/. work/; fi

lab: $(VENV)/.course work
	mkdir -p $(LAB_SETTINGS)/@jupyterlab/translation-extension
	test -f $(LAB_SETTINGS)/@jupyterlab/translation-extension/plugin.jupyterlab-settings || \
	  echo '{"locale": "$(if $(filter zh,$(EDITION)),zh_CN,en)"}' > $(LAB_SETTINGS)/@jupyterlab/translation-extension/plugin.jupyterlab-settings
	@echo "Opening JupyterLab: open the URL with its token that Jupyter prints below."
	JUPYTERLAB_SETTINGS_DIR=$(LAB_SETTINGS) $(BIN)/jupyter lab --no-browser --ip=$(LAB_IP) --port=$(LAB_PORT) \
	  --LabApp.default_url=/lab/tree/$(EDITION_DIR)chapters $(ROOT_FLAG) $(LAB_OPTS)

test: $(VENV)/.tests
	@test -d tests || { echo "make test needs the full course repository (the student bundle has no tests/)"; exit 2; }
	$(BIN)/ruff check .
	$(BIN)/python -m pytest $(PYTEST_OPTS)

release: $(VENV)/.course
	@set -e; for dir in solutions/*/; do \
	  name=$$(basename $$dir); \
	  $(BIN)/nbgrader generate_assignment $$name --force --log-level=WARN; \
	done

bench: $(VENV)/.tests
	$(TOOLING)
	$(BIN)/python bench/run.py

html: $(VENV)/.course
	$(TOOLING)
	$(BIN)/python -m coursetools.html_edition

zh: $(VENV)/.course
	$(TOOLING)
	$(BIN)/python -m coursetools.translate update
	$(BIN)/python -m coursetools.translate build

zh-check: $(VENV)/.course
	$(TOOLING)
	$(BIN)/python -m coursetools.translate check

clean-venv:
	rm -rf $(VENV)

# Grading (coursetools/; docs/instructor-guide.md and README's student guide).
ASSIGNMENT ?=
STUDENT ?=
REPORT_ONLY ?=
EX ?=
# Student kernels run in the bubblewrap sandbox (coursetools/sandbox.py); UNSAFE_NO_SANDBOX=1 runs them with your rights.
UNSAFE_NO_SANDBOX ?=
UNSAFE_NO_CGROUPS ?=
UNSAFE_FLAG = $(if $(UNSAFE_NO_SANDBOX),--unsafe-no-sandbox)

grade: $(VENV)/.course
	$(TOOLING)
	$(BIN)/python -m coursetools grade $(if $(ASSIGNMENT),--assignment $(ASSIGNMENT)) $(if $(STUDENT),--student $(STUDENT)) $(if $(REPORT_ONLY),--report-only) $(UNSAFE_FLAG) $(if $(UNSAFE_NO_CGROUPS),--unsafe-no-cgroups)

check: $(VENV)/.course
	@test -n "$(EX)" || { echo "usage: make check EX=ex01 (an exercise set you work on in work/)"; exit 2; }
	$(TOOLING)
	$(BIN)/python -m coursetools check $(EX) $(UNSAFE_FLAG)

bundle: $(VENV)/.course
	$(TOOLING)
	$(BIN)/python -m coursetools bundle
