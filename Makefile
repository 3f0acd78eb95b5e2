# Entry points for people and CI. `make up` runs the local stack, `make test` is what CI runs.
SHELL := /bin/bash
CARGO ?= cargo
# Under CI (CI=true) nextest uses the `ci` profile from .config/nextest.toml.
NEXTEST_PROFILE ?= $(if $(CI),ci,default)

.PHONY: bootstrap up down reset status test lint check-k8s fmt build build-release bench

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

## Benchmarks (never part of `make test`, which only runs their smoke checks): release
## builds, throw-away clusters, figures next to same-run baselines (docs/benchmarks.md).
## `make bench` runs every workload and prints one summary of every goal; pick some with
## e.g. `make bench BENCH_ARGS=--only=commands,reads`. Reports go to target/bench/.
bench: build-release
	target/release/tally-bench all $(BENCH_ARGS)

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
