# The two commands of the README: `make run` and `make test`. Both create .venv and install first.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: run test install browser-deps lint bench clean

$(STAMP): requirements.txt requirements-dev.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements-dev.txt
	touch $(STAMP)

install: $(STAMP)

# The browser tests' own needs: axe-core from npm (package-lock.json) and Debian's Chromium, which
# Playwright drives through executable_path (it never downloads a browser). Each step is skipped
# where its tool is missing; the browser tests then skip and say what to install.
NODE_STAMP := node_modules/.installed

$(NODE_STAMP): package.json package-lock.json
	@if command -v npm >/dev/null 2>&1; then \
		(npm ci --no-audit --no-fund --loglevel=error && touch $(NODE_STAMP)) \
			|| echo "make: npm ci failed; the axe-core browser test will skip"; \
	else echo "make: npm not found; the axe-core browser test will skip"; fi

browser-deps: $(NODE_STAMP)
	@if [ ! -x /usr/bin/chromium ]; then \
		if command -v apt-get >/dev/null 2>&1 && [ "$$(id -u)" = 0 ]; then \
			(apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null) \
				|| echo "make: chromium could not be installed; the browser tests will skip"; \
		else echo "make: no /usr/bin/chromium and no apt-get as root; the browser tests will skip"; fi; \
	fi

run: install
	$(BIN)/python scripts/run_platform.py

test: install browser-deps
	$(BIN)/python scripts/run_tests.py $(PYTEST_ARGS)

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

# The seed_demo benchmark, then the answer path's scenarios (bench/run.py; BENCH_ARGS scales them,
# e.g. BENCH_ARGS="--soak-minutes 3" for a quick run; about 110 minutes with the defaults: the 30-minute
# soak, three rounds of the ASGI designs, the ramps to 3,000). Each script writes its own
# section of docs/benchmarks.md.
bench: install
	$(BIN)/python bench/seed_demo.py
	$(BIN)/python bench/run.py $(BENCH_ARGS)
	$(BIN)/python bench/auto_move.py

clean:
	rm -rf $(VENV) var node_modules
