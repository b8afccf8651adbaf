# Two commands matter: `make up` starts the platform, `make test` runs every test.
# Both install whatever is missing first (Debian packages, Python packages, generated code).
SHELL := /bin/bash
PY := .venv/bin/python

.PHONY: setup up test lint protos clean help bench-filegen bench-e2e bench-signing

help:
	@echo "make up     - install what is missing, then start the whole platform (econtract up)"
	@echo "make test   - install what is missing, then run buf lint and the whole test suite"
	@echo "make setup  - only install (apt packages, venv, npm, generated code); idempotent"
	@echo "make lint   - buf lint on protos/"
	@echo "make protos - regenerate Python code from protos/"
	@echo "make clean  - remove generated code and local state under var/"
	@echo "make bench-e2e     - contracts/s through REST at concurrency 8 (bench/RESULTS.md)"
	@echo "make bench-filegen - fill+convert latency and throughput against LibreOffice baselines (bench/RESULTS.md)"
	@echo "make bench-signing - one PAdES B-LT signature with seal and timestamp against plain pyHanko (bench/RESULTS.md)"

setup:
	@bash scripts/setup.sh

up: setup
	.venv/bin/econtract up

lint: setup
	@bash scripts/buf_lint.sh

test: setup lint
	$(PY) -m pytest $(PYTEST_ARGS)

protos:
	@bash scripts/gen_protos.sh

clean:
	rm -rf econtract build var

bench-filegen: setup
	$(PY) -m bench.filegen

bench-signing: setup
	$(PY) -m bench.signing

bench-e2e: setup
	$(PY) -m bench.e2e
