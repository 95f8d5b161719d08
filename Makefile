# Two commands for a newcomer: `make run` serves a registry on :5000, `make test` runs every test.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
CONFIG ?= config/registry.yml
# The example webhook receiver `make run` starts: the port config/registry.yml's endpoint names.
WEBHOOK_PORT ?= 5003
DEBIAN_TOOLS := skopeo umoci docker-registry promtool docker-compose dockerd debootstrap chromium

.PHONY: run test lint system-deps install clean

$(BIN)/registry: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	touch $@

install: $(BIN)/registry

# The registry, and beside it the example webhook receiver the sample config notifies, printing
# each event it gets. Ctrl-C stops both: the shell's traps kill the receiver once serve exits
# (a background job of a script ignores Ctrl-C itself).
run: install
	mkdir -p var/registry
	@PRINT_BODY=1 $(BIN)/python deploy/webhook-receiver/receiver.py $(WEBHOOK_PORT) & receiver=$$!; \
	trap 'kill $$receiver 2>/dev/null' EXIT; trap 'exit 130' INT TERM; \
	$(BIN)/registry serve $(CONFIG)

# The clients and validators the tests drive (skopeo, the reference registry, promtool, the
# Docker engine, ...).
system-deps:
	@missing=""; for t in $(DEBIAN_TOOLS); do command -v $$t >/dev/null || missing="$$missing $$t"; done; \
	if [ -n "$$missing" ]; then echo "installing Debian packages for:$$missing"; .ci/install-debian-packages; fi

lint: install
	$(BIN)/ruff check .

test: install system-deps lint
	$(BIN)/pytest

clean:
	rm -rf $(VENV) var .pytest_cache
