# Two commands on a fresh machine: `make demo` and `make test`. Both create
# .venv/ at the repo root when it is missing (`make setup`).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: setup system-deps demo test lint bench clean test-lowest fuzz

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

# Debian packages the tests drive for real (a Docker engine, nginx for TLS,
# Prometheus and Alertmanager for the live monitoring checks, dnsmasq as a DNS server,
# PostgreSQL): installed when missing, with service start-up blocked during
# the install (the tests start their own instances on free loopback ports).
SYSTEM_PACKAGES := git openssl docker.io busybox-static nginx postgresql prometheus prometheus-alertmanager \
	dnsmasq-base
# A real browser for the HTML report's test (selenium drives Debian's chromium; nothing is downloaded).
SYSTEM_PACKAGES += chromium chromium-driver

system-deps:
	@missing=""; for p in $(SYSTEM_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" != 0 ]; then echo "missing Debian packages:$$missing; install them (needs root)"; exit 1; fi; \
	  echo "installing Debian packages:$$missing"; \
	  own_policy=0; if [ ! -e /usr/sbin/policy-rc.d ]; then own_policy=1; \
	    printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d; chmod +x /usr/sbin/policy-rc.d; fi; \
	  apt-get update -qq -o DPkg::Lock::Timeout=300 && DEBIAN_FRONTEND=noninteractive apt-get install -o DPkg::Lock::Timeout=300 -y -qq --no-install-recommends $$missing; \
	  rc=$$?; [ $$own_policy = 1 ] && rm -f /usr/sbin/policy-rc.d; exit $$rc; \
	fi

test: setup system-deps
	$(BIN)/python -m pytest -q

# The property tests (loaders, evaluation, the findings cap) with random examples and many more of them
# than `make test` runs (a fixed seed there); FUZZ_ARGS passes pytest options, e.g. FUZZ_ARGS=-x.
FUZZ_TESTS := tests/test_fuzz.py tests/test_safe_load.py tests/test_evaluate.py tests/test_cap.py
fuzz: setup
	HYPOTHESIS_PROFILE=fuzz $(BIN)/python -m pytest -q $(FUZZ_TESTS) $(FUZZ_ARGS)

# Side-by-side benchmarks against the peer tools named in the issues (each
# peer is installed into its own venv under bench-out/ on first use).
# TERRAGOAT=/path/to/terragoat adds the Terraform comparison. The monorepo
# benchmark audits 1k-50k-file trees (tens of minutes with Checkov); e.g.
# MONOREPO_ARGS="--sizes 1000 5000" for a shorter run.
bench: setup system-deps
	$(BIN)/python benchmarks/containers.py
	$(BIN)/python benchmarks/tls.py
	$(BIN)/python benchmarks/secrets.py
	@if [ -d "$(TERRAGOAT)" ]; then $(BIN)/python benchmarks/terraform.py "$(TERRAGOAT)"; \
	else echo "terraform benchmark: set TERRAGOAT=<path to a bridgecrewio/terragoat checkout>"; fi
	$(BIN)/python benchmarks/startup.py
	$(BIN)/python benchmarks/monorepo.py $(MONOREPO_ARGS)
	$(BIN)/python benchmarks/hcl_parsers.py $(if $(wildcard $(TERRAGOAT)),$(TERRAGOAT)/terraform)

# The declared lower bounds, proved: a separate venv with exactly the lowest allowed versions
# (constraints-lowest.txt), then the suite. Not part of `make test`: a second venv and a second full run.
LOWEST := .venv-lowest
test-lowest: system-deps
	test -x $(LOWEST)/bin/python || $(PYTHON) -m venv $(LOWEST)
	$(LOWEST)/bin/python -m pip install --quiet --upgrade pip
	$(LOWEST)/bin/python -m pip install --quiet -c constraints-lowest.txt -e '.[test]'
	$(LOWEST)/bin/python -m pip check
	$(LOWEST)/bin/python -m pytest -q -m 'not slow'

lint: setup
	$(BIN)/ruff check src probes tests fixtures scripts
	$(BIN)/ruff format --check src probes tests fixtures scripts

clean:
	rm -rf $(VENV) $(LOWEST) build dist *.egg-info src/*.egg-info

# Accuracy benchmark (issue 11, docs/accuracy.md): audits each checkout under $(CORPUS) named by a truth
# file in benchmarks/accuracy/truth/ with zero configuration and compares it with that truth. Fetches
# nothing: put the checkouts there first (e.g. `make accuracy CORPUS=/work/corpus`). Always exits 0.
# ACCURACY_ARGS="--markdown FILE --json FILE" also writes the tables and the results.
CORPUS ?= corpus
.PHONY: accuracy
accuracy: setup
	$(BIN)/python benchmarks/accuracy.py $(CORPUS) $(ACCURACY_ARGS)
