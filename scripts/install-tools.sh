#!/usr/bin/env bash
# Install the external tools some tests use: promtool + prometheus (Debian's
# `prometheus` package), wrk (benchmarks), and Grafana's dashboard schema with the
# TypeScript compiler that checks the dashboard against it (npm, pinned in
# tests/deploy/grafana-schema/package-lock.json); with the argument `browser`,
# instead Chromium and curl for the browser tier (`make test-browser`). Idempotent:
# it installs only what is missing, and only when apt-get is usable (root on a
# Debian/Ubuntu host) or npm is there. Otherwise it says what is missing and exits 0;
# the tests that need a tool then skip with a reason.
set -euo pipefail

schema_dir="$(cd "$(dirname "$0")/../tests/deploy/grafana-schema" && pwd)"
if ! command -v npm >/dev/null 2>&1; then
    echo "install-tools: no npm; the Grafana dashboard schema check will skip" >&2
elif [ ! -f "$schema_dir/node_modules/.package-lock.json" ] \
        || [ "$schema_dir/package-lock.json" -nt "$schema_dir/node_modules/.package-lock.json" ]; then
    echo "install-tools: installing the Grafana dashboard schema with npm ci" >&2
    npm ci --prefix "$schema_dir" --no-audit --no-fund --ignore-scripts --loglevel=error \
        || echo "install-tools: npm ci failed; the Grafana dashboard schema check will skip" >&2
fi

missing=()
if [ "${1:-}" = browser ]; then
    command -v chromium >/dev/null 2>&1 || missing+=(chromium)
    command -v curl >/dev/null 2>&1 || missing+=(curl)
else
    command -v promtool >/dev/null 2>&1 && command -v prometheus >/dev/null 2>&1 || missing+=(prometheus)
    command -v wrk >/dev/null 2>&1 || missing+=(wrk)
fi

if [ "${#missing[@]}" -eq 0 ]; then
    exit 0
fi
if ! command -v apt-get >/dev/null 2>&1 || [ "$(id -u)" -ne 0 ]; then
    echo "install-tools: not installing ${missing[*]} (needs apt-get as root); dependent tests will skip" >&2
    exit 0
fi

echo "install-tools: installing ${missing[*]} with apt-get" >&2
export DEBIAN_FRONTEND=noninteractive
# Refresh the package index only when it is empty (fresh containers ship without one).
if ! compgen -G "/var/lib/apt/lists/*_Packages" >/dev/null; then
    apt-get update -q
fi
if ! apt-get install -y -q --no-install-recommends "${missing[@]}"; then
    apt-get update -q
    apt-get install -y -q --no-install-recommends "${missing[@]}"
fi
