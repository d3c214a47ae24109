# Every target installs what it needs first, so each works on a fresh machine.
VENV   := .venv
PY     := $(VENV)/bin/python
# A change of the lock (or of the system packages) installs again.
STAMP  := $(VENV)/.installed-$(shell cat pyproject.toml requirements-test.lock scripts/system-deps.sh | sha1sum | cut -c1-12)
# The locks pin, with hashes, every package pyproject.toml asks for: requirements.lock the product's (the image),
# requirements-test.lock the product's and the tests' (`make install`).
LOCK_FLAGS := --quiet --python-version 3.11 --generate-hashes --custom-compile-command "make lock"

.PHONY: install lock run test lint typecheck bench bench-slis bench-dashboard bench-probes bench-detection bench-soak bench-lookup clean

install: $(STAMP)

$(STAMP): pyproject.toml requirements-test.lock scripts/system-deps.sh
	bash scripts/system-deps.sh
	test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q --require-hashes -r requirements-test.lock
	$(PY) -m pip install -q --no-deps -e .
	rm -f $(VENV)/.installed-*
	touch $@

# Regenerate the locks from pyproject.toml after changing a dependency. Pinned versions stay while pyproject.toml
# allows them; `make lock UPGRADE=1` moves every pin to the newest release allowed.
lock: install
	$(VENV)/bin/uv pip compile pyproject.toml $(LOCK_FLAGS) $(if $(UPGRADE),--upgrade) -o requirements.lock
	$(VENV)/bin/uv pip compile pyproject.toml --extra test -c requirements.lock $(LOCK_FLAGS) \
		$(if $(UPGRADE),--upgrade) -o requirements-test.lock

run: install
	bash scripts/run.sh

lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

typecheck: install
	$(VENV)/bin/mypy

test: install lint typecheck
	$(VENV)/bin/pytest -q

bench: install
	$(PY) bench/ingest.py

bench-slis: install
	$(PY) bench/slis.py --consultants 5000 --days 90 --scale 10 --live

bench-lookup: install
	$(PY) bench/lookup.py --spans 5000000 20000000

.PHONY: bench-report
bench-report: install
	$(PY) bench/report.py --consultants 5000 --days 90 --scale 10

bench-dashboard: install
	$(PY) bench/dashboard.py --consultants 50000 --days 90

bench-probes: install
	$(PY) bench/probe_scale.py --consultants 5000 --days 30

bench-soak: install
	$(PY) bench/soak.py --minutes 30 --kill-every 300 --hostile 0.01

bench-detection: install
	$(PY) bench/detection.py --consultants 200 --speed 60

.PHONY: bench-truth
bench-truth: install
	$(PY) bench/truth.py --consultants 5000

.PHONY: bench-healthy
bench-healthy: install
	$(PY) bench/healthy.py --consultants 5000

.PHONY: bench-exceptions
bench-exceptions: install
	$(PY) bench/exceptions.py --cases 100000 --evidence 100000

clean:
	rm -rf $(VENV) var .pytest_cache .ruff_cache .mypy_cache .hypothesis
