# netdrop: the README's two commands are `make demo` and `make test`. Run them as root.
PY := .venv/bin/python
# pytest's temporary files go under build/ (git-ignored), not /tmp, so a run leaves nothing on the host.
PYTEST := mkdir -p build && $(PY) -m pytest -q -p no:cacheprovider --basetemp=build/pytest
export NO_COLOR ?=

.PHONY: demo test lint unit integration deps vm-test bench soak clean test-containers

deps:
	@scripts/install-deps.sh --test

# promtool for tests/unit/test_deploy.py (deploy/prometheus/): Debian's prometheus .deb unpacked under build/, the
# package itself is not installed (it would add a service and a user)
PROMTOOL := build/prometheus/usr/bin/promtool
$(PROMTOOL):
	@scripts/install-deps.sh --prometheus

demo: deps
	@scripts/demo.sh

test: deps $(PROMTOOL) lint
	$(PYTEST) tests/unit tests/integration

lint: deps
	$(PY) -m ruff check -q .
	@if command -v clang-format >/dev/null; then clang-format --dry-run -Werror bpf/*.c bpf/*.h; \
	else echo "lint: clang-format not installed, bpf/ not checked"; fi
	$(PY) -m vulture --min-confidence 80 netdrop  # dead code (ruff's F rules catch unused imports and names)
	$(PY) -m mypy -p netdrop.diagnose -p netdrop.render -m netdrop.model -m netdrop.decode -m netdrop.aggregate \
		-m netdrop.runtime -p netdrop.export

unit: deps $(PROMTOOL)
	$(PYTEST) tests/unit

integration: deps
	$(PYTEST) tests/integration

bench: deps
	@scripts/install-deps.sh --bench --vm
	$(PY) bench/run.py --rounds 3 --seconds 3

# netdrop export under a 10-minute flood: RSS, CPU per interval and per scrape, exported == the kernel's counter
soak: deps
	@scripts/install-deps.sh --bench
	$(PY) bench/soak.py --minutes 10

# A real container engine (podman from the distribution, installed here); only when asked: it changes the host's
# forwarding sysctls and firewall while it runs (the tests put them back).
test-containers: export NETDROP_TEST_CONTAINERS = 1
test-containers: deps
	@scripts/install-deps.sh --containers
	$(PYTEST) tests/containers

vm-test: deps
	@scripts/install-deps.sh --vm
	python3 tests/vm/run.py

clean:
	rm -rf .venv build *.egg-info
