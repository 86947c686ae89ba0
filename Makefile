# Two commands matter: `make lab` and `make test`. Both create or update .venv first.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed

.PHONY: lab test bench venv clean system-deps

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e ".[dev,lab,torch,browser,studies]"
	# pretrained MTCNN weights for the resolution study; --no-deps because its metadata pins
	# torch<2.3 and torchvision, neither of which we use (we read the .pt files directly)
	$(PY) -m pip install -q --no-deps facenet-pytorch==2.6.0
	touch $(STAMP)

venv: $(STAMP)

# --allow-root: root is the normal user in Docker, CI and many lab machines, and Jupyter refuses
# root without it; it changes nothing for other users.
LAB_FLAGS ?=
lab: $(STAMP)
	$(VENV)/bin/jupyter lab --allow-root $(LAB_FLAGS) notebooks/

test: $(STAMP) system-deps
	$(PY) -m pytest -n 2 -q tests

bench: $(STAMP)
	for f in benchmarks/[!_]*.py; do echo "== $$f"; $(PY) $$f || exit 1; done

clean:
	rm -rf $(VENV) .pytest_cache

# Debian's chromium for the browser tests (CI runs this as root; elsewhere it needs sudo once).
system-deps:
	@command -v chromium >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium; \
	  else echo "browser tests need Debian's chromium: sudo apt-get install chromium"; fi; }
