# Entry points for people and CI. `make up` runs the local stack, `make test` is what CI runs.
SHELL := /bin/bash
CARGO ?= cargo
# Under CI (CI=true) nextest uses the `ci` profile from .config/nextest.toml.
NEXTEST_PROFILE ?= $(if $(CI),ci,default)

.PHONY: bootstrap up down reset status test lint check-k8s fmt build build-release bench bench-read

bootstrap:
	@bash scripts/bootstrap.sh

## Local stack: release build, then `tally up` in the foreground (Ctrl-C stops it).
## Flags go in UP_ARGS, e.g. `make up UP_ARGS=--no-seed` (see `tally up --help`).
up: build-release
	target/release/tally up $(UP_ARGS)

down:
	@$(tally) down

reset:
	@$(tally) reset

status:
	@$(tally) status

## Tests: fast checks first (Kubernetes manifests, format, lints), then debug binaries for
## the end-to-end tests, then the whole suite.
test: check-k8s lint
	$(CARGO) build --workspace --bins
	target/debug/tally reap-stale
	$(CARGO) nextest run --workspace --no-fail-fast --profile $(NEXTEST_PROFILE)

## Benchmarks (never part of `make test`, which only runs their smoke check): release
## builds, a durable throw-away Postgres, figures next to a same-run pgbench baseline.
bench: build-release
	target/release/tally-bench commands --json target/bench-commands.json

## The read side's benchmarks (docs/benchmarks.md): GetProfile vs pgbench, rebuild, lag.
bench-read: build-release
	target/release/tally-bench reads --json target/bench-reads.json
	target/release/tally-bench rebuild --json target/bench-rebuild.json
	target/release/tally-bench lag --json target/bench-lag.json

lint: bootstrap
	$(CARGO) fmt --all --check
	$(CARGO) clippy --workspace --all-targets -- -D warnings

## deploy/k8s overlays and the Dockerfile, validated offline (no cluster, no Docker engine).
check-k8s: bootstrap
	bash scripts/check-k8s.sh

fmt:
	$(CARGO) fmt --all

build: bootstrap
	$(CARGO) build --workspace --bins

build-release: bootstrap
	$(CARGO) build --release --bins

# Whichever `tally` was built (release first); `down` & co. need no fresh build.
tally = $(or $(firstword $(wildcard target/release/tally target/debug/tally)),$(CARGO) run -q -p tally-cli --)
