# soap_usestats: `make run` serves the demo, `make test` runs the tests.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
DEMO_DB := var/demo_moodle.sqlite
DEMO_URL := sqlite:///$(DEMO_DB)
DEMO_USER := ref.learner

.PHONY: run test wsdl demo benchmark clean

$(STAMP): pyproject.toml setup.cfg
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check -e '.[test]'
	touch $@

$(DEMO_DB): | $(STAMP)
	$(BIN)/soap-usestats demo --url $(DEMO_URL)

demo: $(DEMO_DB)

run: $(STAMP) $(DEMO_DB)
	USESTATS_DATABASE_URL=$${USESTATS_DATABASE_URL:-$(DEMO_URL)} \
		$(BIN)/soap-usestats serve --example-user $(DEMO_USER)

test: $(STAMP)
	$(BIN)/python -m pytest

wsdl: $(STAMP)
	$(BIN)/soap-usestats wsdl --public-url http://127.0.0.1:8000/soap --output wsdl/use_stats.wsdl

benchmark: $(STAMP)
	$(BIN)/python benchmarks/bench_get_stats.py

clean:
	rm -rf $(VENV) var .pytest_cache .hypothesis *.egg-info
