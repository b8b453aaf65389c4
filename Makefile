# Two commands set everything up on a fresh machine: `make book` and `make test`.
# Each creates .venv and installs requirements.txt into it when needed; a second
# run skips the install unless requirements.txt or pyproject.toml changed.

PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
INSTALLED := $(VENV)/.installed

# The project's machines keep the full data set beside the repository; elsewhere set
# CIFAR10_DIR yourself, or let the loader download it into data/.
export CIFAR10_DIR ?= $(wildcard $(CURDIR)/../shared/cifar10/cifar-10-batches-bin)
# TensorFlow's C++ start-up logs stay out of outputs and terminals.
export TF_CPP_MIN_LOG_LEVEL := 2

NOTEBOOKS := $(sort $(wildcard notebooks/*.ipynb))

.PHONY: help venv book class-book test notebooks bench class-timing lab student grade clean clean-all

help:
	@echo "make book       train every model the chapters show (progress in the terminal; an"
	@echo "                interrupted run resumes), then run the notebooks and build _build/html"
	@echo "                (CIFAR_MLP_PROFILE=class make book: short runs that fit a lab session)"
	@echo "make class-book the book without the solutions and model answers, for a course whose"
	@echo "                exercises count: _build/class/html (from make book's run, else notebooks/)"
	@echo "make test       unit tests, then every notebook under nbval in the smoke profile"
	@echo "make notebooks  re-execute the notebooks in place on the full data (for committing)"
	@echo "make bench      NumPy against Keras speed on this machine: results/bench.json"
	@echo "make class-timing"
	@echo "                each chapter in the class profile from fresh weights, timed:"
	@echo "                results/class_chapters.json (about half an hour)"
	@echo "make lab        JupyterLab on the notebooks"
	@echo "make student    the student edition: student/*.ipynb, without the answers"
	@echo "make grade SUBMISSIONS=folder"
	@echo "                grade every notebook in folder, each in a sandbox: scores.csv"
	@echo "make clean      remove build outputs; make clean-all also removes .venv and data caches"

venv: $(INSTALLED)

# nbgrader installs its JupyterLab extensions (a "Nbgrader" menu, a "Create Assignment"
# panel): they are switched off here, so that `make lab` shows students none of them.
# A teacher grades with `make grade`; nbgrader's own tools come back with
# `jupyter labextension enable @jupyter/nbgrader`.
TEACHER_EXTENSIONS := @jupyter/nbgrader

# A venv whose creation was interrupted (python, but no pip) is made again.
$(INSTALLED): requirements.txt pyproject.toml
	@$(PY) -m pip --version >/dev/null 2>&1 || $(PYTHON) -m venv --clear $(VENV)
	$(PY) -m pip install --disable-pip-version-check -q -r requirements.txt
	$(VENV)/bin/jupyter labextension disable --level=sys_prefix $(TEACHER_EXTENSIONS)
	@touch $@

# Says which data it uses, trains (or reloads) every model, builds the book, and
# writes how long that took to results/book_build.json (scripts/build_book.py).
book: $(INSTALLED)
	$(PY) scripts/build_book.py

# The class edition: the chapters as make book executed them (or, when these are older
# than notebooks/ or missing, as committed), without the solutions and model answers;
# the chapters are not run again (cifar_mlp/teaching/class_edition.py).
class-book: $(INSTALLED)
	$(PY) -m cifar_mlp.teaching.class_edition

test: $(INSTALLED)
	@command -v chromium >/dev/null || echo "NOTE: no chromium here: the JupyterLab browser test is skipped (apt-get install chromium runs it; .ci/run does)"
	@command -v bwrap >/dev/null || echo "NOTE: no bubblewrap here: the grader's sandbox tests are skipped (apt-get install bubblewrap runs them; .ci/run does)"
	$(PY) -m pytest -rs -n 2 --dist loadfile --durations=15 tests
	CIFAR_MLP_PROFILE=smoke $(PY) -m pytest --nbval-lax --durations=5 -p no:cacheprovider $(NOTEBOOKS)

notebooks: $(INSTALLED)
	$(PY) -m cifar_mlp.book_runs
	$(PY) scripts/execute_notebooks.py $(NOTEBOOKS)
	$(PY) scripts/update_readme.py

bench: $(INSTALLED)
	$(PY) -m bench.run

class-timing: $(INSTALLED)
	$(PY) scripts/time_class_chapters.py

lab: $(INSTALLED)
	$(VENV)/bin/jupyter lab notebooks/

student: $(INSTALLED)
	rm -rf student
	$(PY) -m cifar_mlp.teaching.student --out student

grade: $(INSTALLED)
	@test -n "$(SUBMISSIONS)" || { echo "usage: make grade SUBMISSIONS=folder-of-notebooks"; exit 2; }
	$(PY) -m cifar_mlp.teaching.grade "$(SUBMISSIONS)" --out scores.csv

clean:
	rm -rf _build .pytest_cache .hypothesis

clean-all: clean
	rm -rf $(VENV) data/cifar10-uint8.npz data/cifar-10-batches-bin data/cifar-10-binary.tar.gz
