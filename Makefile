# Two commands on a fresh machine: `make demo` and `make test`. Both create
# .venv/ at the repo root when it is missing (`make setup`).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: setup demo test lint clean

setup: $(STAMP)

# Re-install when the project's metadata changes (new dependency, new probe entry point).
$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $(STAMP)

# Audits the two fixture repos, made real first (git history, untracked
# secret files, modes) in a temporary folder.
demo: setup
	@d=$$(mktemp -d) && trap 'rm -rf "$$d"' EXIT && \
	$(BIN)/python fixtures/make_repo.py insecure "$$d/insecure" >/dev/null && \
	$(BIN)/python fixtures/make_repo.py hardened "$$d/hardened" >/dev/null && \
	echo "== readiness audit <fixtures/insecure as a repo>" && \
	{ $(BIN)/readiness audit "$$d/insecure"; echo "exit code $$? (1: the gate failed, as it should here)"; } && \
	echo && echo "== readiness audit <fixtures/hardened as a repo> --fail-on critical" && \
	$(BIN)/readiness audit "$$d/hardened" --fail-on critical

test: setup
	$(BIN)/python -m pytest -q

lint: setup
	$(BIN)/ruff check src probes tests
	$(BIN)/ruff format --check src probes tests

clean:
	rm -rf $(VENV) build dist *.egg-info src/*.egg-info
