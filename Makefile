# Almanac's set-up commands. `make run` and `make test` find or start Postgres and Redis
# (deploy/dev/services.sh), so they work on a fresh machine.
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
# Builds live outside the clone so CI and fresh clones reuse them.
export CARGO_TARGET_DIR ?= $(HOME)/.cache/almanac-target
SERVICES := deploy/dev/services.sh
# The platforms' fakes (`PLATFORM_SANDBOX`): development and test builds have them; a release
# build (deploy/Dockerfile) does not.
SANDBOX := --features almanac-api/sandbox,almanac-worker/sandbox

.PHONY: run test test-deps check lint fmt openapi bench build clean-data

define require_cargo
	@command -v cargo >/dev/null || { echo "cargo not found: install Rust with rustup (https://rustup.rs)"; exit 1; }
endef

## make run: start Postgres/Redis if needed, migrate, run one API and one worker.
run:
	$(require_cargo)
	@echo "make run: building Almanac (the first build takes several minutes; later ones a few seconds)"
	@eval "$$($(SERVICES))"; cargo build $(SANDBOX) --bin almanac-api --bin almanac-worker; deploy/dev/run.sh

## make test: formatting, lints, and every test against real Postgres and Redis. The fault
## suite runs the binaries themselves, so they are built first; so is an API without the
## sandbox, as a release has it (`almanac-api-without-sandbox`, beside them).
test: lint test-deps
	@api=$$(cargo build -p almanac-api --bin almanac-api --message-format=json-render-diagnostics \
	  | sed -n 's/.*"executable":"\([^"]*\)".*/\1/p'); cp "$$api" "$$api-without-sandbox"
	cargo build $(SANDBOX) --bin almanac-api --bin almanac-worker
	@eval "$$($(SERVICES))"; export DATABASE_URL="$$ADMIN_DATABASE_URL"; cargo test --workspace

## Installs the headless browser the EventSource test uses (Debian's chromium).
test-deps:
	@deploy/dev/test-deps.sh

lint:
	$(require_cargo)
	cargo fmt --all -- --check
	cargo clippy --workspace --all-targets -- -D warnings
	@# The workspace build has the sandbox (the tests ask for it); a release build has not.
	cargo clippy -p almanac-api -p almanac-worker -- -D warnings

fmt:
	cargo fmt --all

## make openapi: regenerate docs/api/openapi.yaml from the code (with the features `make run`
## builds, so no second build; the document is the same without the sandbox).
openapi:
	$(require_cargo)
	cargo run -q $(SANDBOX) --bin almanac-api -- openapi > docs/api/openapi.yaml

## make bench: the load benchmark (release build), with raw Postgres/Redis baselines.
bench:
	$(require_cargo)
	cargo build --release $(SANDBOX) --bin almanac-api --bin almanac-worker
	@ulimit -n "$$(ulimit -Hn)"; eval "$$($(SERVICES))"; export DATABASE_URL="$$ADMIN_DATABASE_URL"; cargo run --release -p almanac-tests --bin bench

build:
	cargo build --workspace

## Stops and removes the project-local Postgres and Redis under .data/.
clean-data:
	-@[ -f .data/redis.pid ] && kill "$$(cat .data/redis.pid)" || true
	-@[ -d .data/pg ] && { runuser -u postgres -- pg_ctl -D .data/pg stop 2>/dev/null || pg_ctl -D .data/pg stop; } || true
	rm -rf .data
