# Set-up and day-to-day commands. Every target installs what it needs first, so on a fresh
# Debian 12 machine `make demo` and `make test` are the only two commands to know.
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
LAKEHOUSE_DIR ?= ./lakehouse
export LAKEHOUSE_DIR

BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# System packages (installed by system-deps when missing): Java for Spark, the SQLite JDBC driver
# for Spark's Iceberg JDBC catalog, Chromium + chromedriver for screenshots of reports and
# dashboards, PostgreSQL + its JDBC driver for the scale-out profile (`cluster start`, its test),
# npm for the reports' CSS/JS/fonts.
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: setup system-deps demo run test ui bench lint lock clean-lakehouse

# The CSS, JavaScript and fonts the Data Docs load (instead of public CDNs): npm packages pinned
# in quality/web_assets/package-lock.json; the files the pages use are copied to
# quality/web_assets/vendor/ (package data), and from there into LAKEHOUSE_DIR/reports/static/.
REPORT_ASSETS := quality/web_assets/vendor/PACKAGES.json

setup: system-deps $(STAMP) $(REPORT_ASSETS)

system-deps:
	@missing=""; \
	command -v java >/dev/null 2>&1 || missing="$$missing default-jre-headless"; \
	[ -f /usr/share/java/sqlite-jdbc.jar ] || missing="$$missing libxerial-sqlite-jdbc-java"; \
	command -v chromium >/dev/null 2>&1 || missing="$$missing chromium"; \
	[ -x /usr/bin/chromedriver ] || missing="$$missing chromium-driver"; \
	[ -x /usr/lib/postgresql/15/bin/initdb ] || missing="$$missing postgresql"; \
	[ -f /usr/share/java/postgresql.jar ] || missing="$$missing libpostgresql-jdbc-java"; \
	command -v npm >/dev/null 2>&1 || missing="$$missing npm"; \
	if [ -n "$$missing" ]; then \
	  echo "Installing Debian packages:$$missing"; \
	  $(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq --no-install-recommends $$missing; \
	fi
	@java -version 2>&1 | head -1 | grep -Eq 'version "(17|21)' || { echo "Spark 3.5 needs Java 17 or 21: $$(java -version 2>&1 | head -1)"; exit 1; }

# constraints.txt pins every package at the version measured together here (pyproject.toml keeps
# the ranges for people who install the package elsewhere); `make lock` refreshes it.
$(STAMP): pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -c constraints.txt -e ".[dev]"
	touch $(STAMP)

# Re-resolve the newest versions the ranges in pyproject.toml allow, in a scratch virtualenv, and
# write them to constraints.txt (then run `make test` before committing it).
lock:
	rm -rf .venv-lock && $(PYTHON) -m venv .venv-lock
	.venv-lock/bin/pip install --quiet --upgrade pip
	.venv-lock/bin/pip install --quiet ".[dev]"
	{ echo "# Every package at the version tested together; refresh with \`make lock\`."; \
	  .venv-lock/bin/pip freeze --all --exclude pip --exclude customer-overview; } > constraints.txt
	rm -rf .venv-lock

$(REPORT_ASSETS): quality/web_assets/package-lock.json quality/offline_assets.py | $(STAMP)
	@echo "Report assets: npm ci (10 packages and their dependencies, about 100 MB, ~30 s)"
	cd quality/web_assets && npm ci --no-progress
	$(BIN)/python -m quality.offline_assets vendor

# Command 1: generate a sample bank (20k customers, 3 months of changes) and run the whole graph.
demo: setup
	$(BIN)/customer-overview demo

run: setup
	$(BIN)/customer-overview run

# Command 2: every test (unit, integration with real Spark + Iceberg, end-to-end).
test: setup
	$(BIN)/pytest

# The instance gets the product's settings first (one run at a time: UI, sensor and schedule runs
# queue; run monitoring); umask 077: the UI's run workers and history are owner-only too.
# The report server (`customer-overview reports serve`, the reports Dagster metadata links to) runs
# next to `dagster dev`, each in its own process group (set -m) with default signal handling (env
# --default-signal: a background job, or a make started from one, ignores SIGINT, and dagster dev
# maps SIGTERM to its SIGINT handler, so it would ignore both). Ctrl-C or SIGTERM stops both;
# when one of them ends, the other is stopped too.
ui: setup
	umask 077; export DAGSTER_HOME=$${DAGSTER_HOME:-$(abspath $(LAKEHOUSE_DIR))/dagster_home}; \
	$(BIN)/customer-overview config dagster-instance || exit $$?; \
	set -m; trap 'kill -TERM $$reports $$dagster 2>/dev/null' INT TERM; \
	env --default-signal=INT,TERM $(BIN)/customer-overview reports serve & reports=$$!; \
	env --default-signal=INT,TERM $(BIN)/dagster dev -w workspace.yaml & dagster=$$!; \
	wait -n $$reports $$dagster; status=$$?; kill -TERM $$reports $$dagster 2>/dev/null; \
	while kill -0 $$reports 2>/dev/null || kill -0 $$dagster 2>/dev/null; do wait; done; \
	exit $$status

bench: setup
	$(BIN)/python benchmarks/bench_generator.py
	$(BIN)/python benchmarks/bench_pipeline.py
	$(BIN)/python benchmarks/bench_masking.py

# Style, strict types and the import contracts of docs/architecture.md (CI runs this).
lint: setup
	$(BIN)/ruff check . && $(BIN)/ruff format --check . && $(BIN)/mypy && $(BIN)/lint-imports

clean-lakehouse:
	rm -rf $(LAKEHOUSE_DIR)

# BI: Apache Superset in its own virtualenv (.venv-superset; it pins SQLAlchemy 1.4 / pandas 2.1),
# three dashboards per consumer role group over $(LAKEHOUSE_DIR)/exports/<group>.duckdb.
# Runs `make demo` first when nothing is published yet; prints the URL and the logins.
.PHONY: bi bi-stop
bi:
	@[ -f $(LAKEHOUSE_DIR)/exports/restricted.duckdb ] || $(MAKE) demo
	$(PYTHON) -m bi.superset up

bi-stop:
	$(PYTHON) -m bi.superset stop
