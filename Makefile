# Two commands do all the set-up on a fresh machine:
#   make demo   the whole training lifecycle on the bundled 2013 NYC flights data, twice
#   make test   lint (ruff, ruff format, mypy), then the test suite (unit, data, integration); `make test-slow` adds the slow tier
# Both create .venv from requirements.lock when it is missing or stale.

VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed
UV     := $(shell command -v uv 2>/dev/null || echo "$(HOME)/.local/bin/uv")
export UV_PYTHON_DOWNLOADS := never

.PHONY: demo test lint test-slow bench replays bench-quick lock clean-state

$(STAMP): requirements.lock pyproject.toml
	@command -v uv >/dev/null 2>&1 || test -x "$(UV)" || python3 -m pip install --quiet --user uv
	@test -x $(PY) || $(UV) venv --quiet --python "$$(command -v python3)" $(VENV)
	@# bytecode at install: where PYTHONDONTWRITEBYTECODE is set (CI, containers) every import would compile again
	VIRTUAL_ENV=$(VENV) $(UV) pip sync --quiet --compile-bytecode requirements.lock
	VIRTUAL_ENV=$(VENV) $(UV) pip install --quiet --no-deps -e .
	@touch $@

demo: $(STAMP)
	$(VENV)/bin/perennial demo

# --dist worksteal: an idle worker takes queued tests from a busy one, so a run of slow flow tests
# queued on one worker does not leave the other idle (with `load` it did: 14 min wall for 15 min CPU)
test: lint
	$(PY) -m pytest -m "not slow" -n 2 --dist worksteal

# ruff (lint and format) and mypy (strict on the core and config): zero findings, in CI too
lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy

test-slow: $(STAMP)
	$(PY) -m pytest -m slow

# Every benchmark, one after another (56 min on 2 cores at 55a8fa2, from a fresh clone): each runs ours beside
# its anchor (or counts a policy's verdicts), prints median (min-max) of its repeats, fails if an equality check
# does not hold, and rewrites its own section of bench/RESULTS.md. One alone: .venv/bin/python -m bench.<name> [--quick].
# replays: the loop replayed on the demo's months (8 min each at 55a8fa2); they time nothing and write
# docs/scenarios.md and docs/releases.md, not bench/RESULTS.md.
# bench-quick: both lists at small sizes, one repeat, nothing written (CI runs it: none of them can rot)
BENCHES := drift validation growth orchestration scoring serving load dask_training validation_false_alarms dask_window dask_scale own_data pooled_decay
REPLAYS := scenarios release_outcomes

bench: $(STAMP)
	for b in $(BENCHES); do $(PY) -m bench.$$b || exit 1; done

replays: $(STAMP)
	for b in $(REPLAYS); do $(PY) -m bench.$$b || exit 1; done

bench-quick: $(STAMP)
	for b in $(BENCHES) $(REPLAYS); do $(PY) -m bench.$$b --quick --no-write || exit 1; done

# Re-resolve the pinned environment after changing pyproject.toml's dependencies
lock:
	$(UV) pip compile pyproject.toml --extra dev --python-version 3.11 -o requirements.lock

clean-state:
	rm -rf .perennial
