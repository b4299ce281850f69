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
# dashboards, PostgreSQL + its JDBC driver for the scale-out profile (`cluster start`, its test).
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: setup system-deps demo run test ui bench lint clean-lakehouse

setup: system-deps $(STAMP)

system-deps:
	@missing=""; \
	command -v java >/dev/null 2>&1 || missing="$$missing default-jre-headless"; \
	[ -f /usr/share/java/sqlite-jdbc.jar ] || missing="$$missing libxerial-sqlite-jdbc-java"; \
	command -v chromium >/dev/null 2>&1 || missing="$$missing chromium"; \
	[ -x /usr/bin/chromedriver ] || missing="$$missing chromium-driver"; \
	[ -x /usr/lib/postgresql/15/bin/initdb ] || missing="$$missing postgresql"; \
	[ -f /usr/share/java/postgresql.jar ] || missing="$$missing libpostgresql-jdbc-java"; \
	if [ -n "$$missing" ]; then \
	  echo "Installing Debian packages:$$missing"; \
	  $(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq --no-install-recommends $$missing; \
	fi
	@java -version 2>&1 | head -1 | grep -Eq 'version "(17|21)' || { echo "Spark 3.5 needs Java 17 or 21: $$(java -version 2>&1 | head -1)"; exit 1; }

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e ".[dev]"
	touch $(STAMP)

# Command 1: generate a sample bank (20k customers, 3 months of changes) and run the whole graph.
demo: setup
	$(BIN)/customer-overview demo

run: setup
	$(BIN)/customer-overview run

# Command 2: every test (unit, integration with real Spark + Iceberg, end-to-end).
test: setup
	$(BIN)/pytest

ui: setup
	DAGSTER_HOME=$${DAGSTER_HOME:-$(abspath $(LAKEHOUSE_DIR))/dagster_home} $(BIN)/dagster dev -w workspace.yaml

bench: setup
	$(BIN)/python benchmarks/bench_generator.py
	$(BIN)/python benchmarks/bench_pipeline.py

lint: setup
	$(BIN)/ruff check . && $(BIN)/ruff format --check . && $(BIN)/mypy

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
