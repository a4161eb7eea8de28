# soap_usestats: `make run` serves the demo, `make test` runs the tests.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
DEMO_DB := var/demo_moodle.sqlite
DEMO_URL := sqlite:///$(DEMO_DB)
# The demo's ledger, kept current by the service itself (every USESTATS_LEDGER_INTERVAL s).
DEMO_LEDGER_URL := sqlite:///var/demo_ledger.sqlite
DEMO_USER := ref.learner
# The demo learner's own web service token (the demo is deterministic; tests/test_demo.py checks it).
DEMO_TOKEN := 3ca43ca80e31ab727f8f7c3fbd057e98
NODE_DIR := tests/interop/node
NODE_STAMP := $(NODE_DIR)/node_modules/.installed

.PHONY: run test wsdl help-page demo benchmark benchmark-users benchmark-federation benchmark-slow-clients lock clean interop php-soap chromium nginx wrk

# The exact versions of constraints.txt (the lock), whatever PyPI has published since.
$(STAMP): pyproject.toml setup.cfg constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check -c constraints.txt -e '.[test]'
	touch $@

# Refresh the lock: the newest versions the ranges of setup.cfg allow, one set for every
# supported Python (with markers where one needs another), then the tests with them.
lock:
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check uv==0.13.9
	$(BIN)/uv pip compile pyproject.toml --extra test --universal --upgrade --quiet \
		--custom-compile-command 'make lock' --output-file constraints.txt
	$(MAKE) test

$(DEMO_DB): | $(STAMP)
	$(BIN)/soap-usestats demo --url $(DEMO_URL)

demo: $(DEMO_DB)

run: $(STAMP) $(DEMO_DB)
	USESTATS_DATABASE_URL=$${USESTATS_DATABASE_URL:-$(DEMO_URL)} \
	USESTATS_LEDGER_URL=$${USESTATS_LEDGER_URL:-$(DEMO_LEDGER_URL)} \
		$(BIN)/soap-usestats serve --example-user $(DEMO_USER) --example-token $(DEMO_TOKEN)

test: $(STAMP) interop chromium nginx
	$(BIN)/python -m pytest

# The interop suite's clients besides zeep and suds: PHP's SoapClient and node-soap.
# Where one cannot be installed here, its tests skip (and fail in CI).
interop: $(NODE_STAMP) php-soap

$(NODE_STAMP): $(NODE_DIR)/package.json $(NODE_DIR)/package-lock.json
	@if command -v npm >/dev/null; then \
		cd $(NODE_DIR) && npm ci --no-audit --no-fund --loglevel=error && touch node_modules/.installed; \
	else echo "npm not found: the node-soap interop tests will skip"; fi

php-soap:
	@if php -r 'exit(class_exists("SoapClient") ? 0 : 1);' 2>/dev/null; then :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
		export DEBIAN_FRONTEND=noninteractive; \
		apt-get install -y --no-install-recommends php-cli php-soap \
		|| { apt-get update && apt-get install -y --no-install-recommends php-cli php-soap; }; \
	else echo "PHP with ext-soap not found (apt-get install php-cli php-soap as root): its interop tests will skip"; fi

# Headless Chromium loads the page for people (GET /soap) in tests/test_help_page.py.
# Where it cannot be installed here, that test skips (and fails in CI).
chromium:
	@if command -v chromium >/dev/null; then :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
		export DEBIAN_FRONTEND=noninteractive; \
		apt-get install -y --no-install-recommends chromium \
		|| { apt-get update && apt-get install -y --no-install-recommends chromium; }; \
	else echo "chromium not found (apt-get install chromium as root): the help page's browser test will skip"; fi

# docs/help-page.png, the screenshot the browser test of the page for people takes.
help-page: $(STAMP) chromium
	USESTATS_HELP_PAGE_PNG=docs/help-page.png $(BIN)/python -m pytest -q tests/test_help_page.py -k chromium

# nginx runs deploy/nginx.conf in front of the service in tests/deploy/test_nginx.py.
# Where it cannot be installed here, those tests skip (and fail in CI).
nginx:
	@if command -v nginx >/dev/null || [ -x /usr/sbin/nginx ]; then :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
		export DEBIAN_FRONTEND=noninteractive; \
		apt-get install -y --no-install-recommends nginx \
		|| { apt-get update && apt-get install -y --no-install-recommends nginx; }; \
	else echo "nginx not found (apt-get install nginx as root): the reverse proxy's tests will skip"; fi

wsdl: $(STAMP)
	$(BIN)/soap-usestats wsdl --public-url http://127.0.0.1:8000/soap --output wsdl/use_stats.wsdl

# Benchmarks measure speed and memory (tests never do); each prints its figures side by side.
benchmark: $(STAMP) wrk
	$(BIN)/python benchmarks/bench_engine.py
	$(BIN)/python benchmarks/bench_light.py
	$(BIN)/python benchmarks/bench_get_stats.py
	$(BIN)/python benchmarks/bench_calls.py
	$(BIN)/python benchmarks/bench_bodies.py

# GetUsersStats over a 10M-row log of 10,000 users in PostgreSQL (about 5 minutes).
benchmark-users: $(STAMP)
	PYTHONPATH=. $(BIN)/python benchmarks/bench_users.py

benchmark-federation: $(STAMP)
	PYTHONPATH=. $(BIN)/python benchmarks/bench_federation.py
	PYTHONPATH=. $(BIN)/python benchmarks/bench_peer.py

# Slow clients against gunicorn alone and behind deploy/nginx.conf (root: network namespaces).
benchmark-slow-clients: $(STAMP) nginx
	$(BIN)/python benchmarks/bench_slow_clients.py

# The HTTP load generator of bench_light.py.
wrk:
	@if command -v wrk >/dev/null; then :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
		export DEBIAN_FRONTEND=noninteractive; \
		apt-get install -y --no-install-recommends wrk \
		|| { apt-get update && apt-get install -y --no-install-recommends wrk; }; \
	else echo "wrk not found (apt-get install wrk as root): bench_light.py needs it"; exit 1; fi

clean:
	rm -rf $(VENV) var .pytest_cache .hypothesis *.egg-info
