# Two commands do all the set-up on a fresh machine (Python 3.11, gcc, the package registries):
#   make run    -- venv, data, the default model (trained if missing), then the server on 127.0.0.1:8000
#   make test   -- venv, then the whole test suite
# and, optionally, make model-fast -- the fast model distilled from the default (README, "The fast model")
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip --disable-pip-version-check -q
MODEL ?= models/default
FAST ?= models/fast
# The whole-review archives (README, "Reviews"): verified and split into data/reviews when present.
REVIEWS ?= ../shared/data/reviews
# The aspect sets (README, "Aspects"): verified and split into data/absa when present.
ABSA ?= ../shared/data/absa
export PYTHONPATH := $(CURDIR)

.PHONY: setup browser data model model-aspects model-fast run test bench tables gpu-kit constraints clean

setup: $(VENV)/.installed

# gluonnlp 0.10 builds from source: install its build needs first, then build without isolation
# so that it compiles against the pinned numpy.
$(VENV)/.installed: requirements.txt requirements-test.txt constraints.txt pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PIP) install -c constraints.txt --upgrade pip setuptools wheel Cython numpy
	$(PIP) install -c constraints.txt --no-build-isolation gluonnlp
	$(PIP) install -c constraints.txt -r requirements.txt -r requirements-test.txt
	$(PIP) install -c constraints.txt --no-deps --no-build-isolation -e .
	touch $@

data: setup
	$(PY) -m sentiment data --reviews $(REVIEWS) --absa $(ABSA)

$(MODEL)/manifest.json:
	$(MAKE) setup
	$(PY) -m sentiment data --reviews $(REVIEWS) --absa $(ABSA)
	$(PY) -m sentiment train --out $(MODEL)

# A default trained before it had aspect heads gets them (nothing happens when it has them).
model: setup $(MODEL)/manifest.json
	$(PY) -m sentiment aspect-level --model $(MODEL) --if-missing

model-aspects: setup $(MODEL)/manifest.json
	$(PY) -m sentiment data --absa $(ABSA)
	$(PY) -m sentiment aspect-level --model $(MODEL)

# The fast model: GloVe, distilled from the default model (README: "The fast model").
$(FAST)/manifest.json: | $(MODEL)/manifest.json
	$(PY) -m sentiment distil --teacher $(MODEL) --out $(FAST)

model-fast: model $(FAST)/manifest.json

run: model
	SENTIMENT_MODEL=$(MODEL) $(VENV)/bin/gunicorn -c service/gunicorn.conf.py service.wsgi:app

# The page test drives Debian's Chromium; install it when missing and we are root (else that test skips).
browser:
	@command -v chromium >/dev/null && command -v chromedriver >/dev/null || \
	  { [ "$$(id -u)" = 0 ] && apt-get update -qq && \
	    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver >/dev/null; } || \
	  echo "chromium not installed: the browser test will be skipped"

test: setup browser
	$(PY) -m pytest $(PYTEST_ARGS)

# Each benchmark prints its figures and writes bench/results/*.json; `tables` remakes the README's tables from them.
bench: model
	$(PY) -m bench.quality.accuracy
	$(PY) -m bench.quality.documents
	$(PY) -m bench.quality.reviews
	$(PY) -m bench.speed.model
	$(PY) -m bench.speed.environment
	$(PY) -m bench.speed.scoring
	$(PY) -m bench.speed.load
	$(PY) -m bench.speed.reliability
	$(PY) -m bench.tables

tables: setup
	$(PY) -m bench.tables

# The GPU kit (bench/gpu/README.md): an optional tool for a GPU machine, outside set-up and tests.
gpu-kit: setup
	$(PY) -m bench.gpu.kit build
	$(PY) -m bench.gpu.kit prove

constraints:
	$(PY) -m pip freeze --exclude-editable | grep -v '^sentiment' > constraints.txt

clean:
	rm -rf $(VENV) .pytest_cache
