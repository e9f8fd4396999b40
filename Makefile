# shopstream — every target sets itself up: a fresh clone needs only `make demo` or `make test`.
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-$(shell cat pyproject.toml | cksum | cut -d' ' -f1)
PYTEST_ARGS ?=

.PHONY: help install kafka-jars postgres test unit integration lint typecheck demo bench docs soak clean chromium

help:
	@echo "make demo       the whole pipeline on a throwaway local Kafka: simulator, both stages, a summary"
	@echo "make test       lint, type-check, and the whole test suite against a real broker"
	@echo "make unit       unit tests only (no broker)"
	@echo "make bench      benchmarks, JSON in build/bench/"
	@echo "make docs       regenerate the clean schemas and docs/data-dictionary.md from the schemas"
	@echo "make soak       long-running checks (not part of make test)"

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check --upgrade pip setuptools wheel
	$(PY) -m pip install --quiet --disable-pip-version-check -e '.[test]'
	rm -f $(VENV)/.installed-*
	touch $@

install: $(STAMP)

# Debian's PostgreSQL server programs for the sink tests, when missing (a fixture starts a
# throwaway server with initdb + pg_ctl); nothing to do with SHOPSTREAM_TEST_POSTGRES_DSN set.
postgres:
	@[ -n "$$SHOPSTREAM_TEST_POSTGRES_DSN" ] || command -v initdb >/dev/null || ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || \
		{ apt-get -o DPkg::Lock::Timeout=600 update && DEBIAN_FRONTEND=noninteractive \
		apt-get -o DPkg::Lock::Timeout=600 install -y --no-install-recommends postgresql; }

# Apache Kafka's jars from Maven Central into ~/.cache/shopstream/kafka/<version>/ (once).
kafka-jars: install
	$(BIN)/shopstream kafka fetch

# Debian's chromium renders the /status page in the browser test (headless; installed once, as root).
chromium:
	@command -v chromium >/dev/null 2>&1 || { apt-get -o DPkg::Lock::Timeout=600 update && \
		DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 install -y chromium; }

# Debian's Prometheus: promtool checks the alert rules, a real server scrapes the stages in the
# integration test (installed once, as root; recommends such as node-exporter are left out).
.PHONY: prometheus
prometheus:
	@{ command -v prometheus && command -v promtool; } >/dev/null 2>&1 || { \
		apt-get -o DPkg::Lock::Timeout=600 update && DEBIAN_FRONTEND=noninteractive \
		apt-get -o DPkg::Lock::Timeout=600 install -y --no-install-recommends prometheus; }

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

# mypy sees the folders under their installed names through a small tree of symlinks.
typecheck: install
	@mkdir -p build/typecheck/shopstream
	@for d in schemas producers processors deploy; do ln -sfn ../../../$$d build/typecheck/shopstream/$$d; done
	$(BIN)/mypy -p shopstream.schemas -p shopstream.producers -p shopstream.processors -p shopstream.deploy

# promtool checks the alert rules in the unit suite, so unit tests need Prometheus too.
unit: install prometheus
	$(BIN)/pytest tests/unit -q $(PYTEST_ARGS)

integration: kafka-jars chromium prometheus postgres
	$(BIN)/pytest tests/integration -q $(PYTEST_ARGS)

test: lint typecheck kafka-jars chromium prometheus postgres
	$(BIN)/pytest tests/unit tests/integration -q $(PYTEST_ARGS)

demo: kafka-jars
	$(BIN)/shopstream demo

# The producer benchmark measures peer SDKs too: they come with the `bench` extra.
bench: kafka-jars postgres
	@mkdir -p build/bench
	$(PY) -m pip install --quiet --disable-pip-version-check -e '.[test,bench]'
	$(BIN)/shopstream bench codec --json build/bench/codec.json
	$(BIN)/shopstream bench producer --json build/bench/producer.json
	$(BIN)/shopstream bench pipeline --json build/bench/pipeline.json
	$(BIN)/shopstream bench sinks --json build/bench/sinks.json

docs: install
	$(BIN)/shopstream schemas derive
	$(BIN)/shopstream schemas docs

# Long runs, not part of make test: property tests with 25x the examples, broker restart
# cycles, a large volume through the broker. Tune with SOAK_RESTARTS, SOAK_EVENTS.
soak: kafka-jars prometheus
	HYPOTHESIS_PROFILE=soak $(BIN)/pytest tests/unit -q -m "not integration" $(PYTEST_ARGS)
	$(BIN)/pytest tests/soak -q -s $(PYTEST_ARGS)

clean:
	rm -rf build .pytest_cache .mypy_cache .ruff_cache .hypothesis
