# Two commands for a newcomer: `make run` serves a registry on :5000, `make test` runs every test.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
CONFIG ?= config/registry.yml
DEBIAN_TOOLS := skopeo umoci docker-registry promtool docker-compose chromium

.PHONY: run test lint system-deps install clean

$(BIN)/registry: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	touch $@

install: $(BIN)/registry

run: install
	mkdir -p var/registry
	$(BIN)/registry serve $(CONFIG)

# The clients and validators the tests drive (skopeo, the reference registry, promtool, ...).
system-deps:
	@missing=""; for t in $(DEBIAN_TOOLS); do command -v $$t >/dev/null || missing="$$missing $$t"; done; \
	if [ -n "$$missing" ]; then echo "installing Debian packages for:$$missing"; .ci/install-debian-packages; fi

lint: install
	$(BIN)/ruff check .

test: install system-deps lint
	$(BIN)/pytest

clean:
	rm -rf $(VENV) var .pytest_cache
