#!/usr/bin/env bash
# Install the external tools some tests use, only those missing: Debian packages when
# apt-get is usable (root on a Debian/Ubuntu host), npm packages when npm is there.
#
#   scripts/install-tools.sh             promtool + prometheus, wrk (benchmarks), curl (the
#                                        README's quick start), and Grafana's dashboard schema
#                                        with the TypeScript compiler that checks the dashboard
#                                        against it (npm, pinned in tests/deploy/grafana-schema)
#   scripts/install-tools.sh browser     Chromium and curl (`make test-browser`)
#   scripts/install-tools.sh distributed a Java runtime for Spark (`make test-distributed`)
#   scripts/install-tools.sh container   podman, runc, mmdebstrap, podman-compose and CNI's
#                                        dnsname plugin (`make test-container`)
#
# Without apt-get or npm it says what is missing and exits 0, and the tests that need a
# tool skip with a reason; only the container and distributed tiers, which cannot run at
# all without their tools, make that exit 1.
set -euo pipefail

group="${1:-default}"
missing=()
# want COMMAND-OR-PATH PACKAGE: install PACKAGE unless the command (or file) is there.
want() {
    if [[ "$1" == /* ]]; then [ -x "$1" ]; else command -v "$1" >/dev/null 2>&1; fi || missing+=("$2")
}

install_grafana_schema() {
    local schema_dir
    schema_dir="$(cd "$(dirname "$0")/../tests/deploy/grafana-schema" && pwd)"
    if ! command -v npm >/dev/null 2>&1; then
        echo "install-tools: no npm; the Grafana dashboard schema check will skip" >&2
    elif [ ! -f "$schema_dir/node_modules/.package-lock.json" ] \
            || [ "$schema_dir/package-lock.json" -nt "$schema_dir/node_modules/.package-lock.json" ]; then
        echo "install-tools: installing the Grafana dashboard schema with npm ci" >&2
        npm ci --prefix "$schema_dir" --no-audit --no-fund --ignore-scripts --loglevel=error \
            || echo "install-tools: npm ci failed; the Grafana dashboard schema check will skip" >&2
    fi
}

case "$group" in
    default)
        install_grafana_schema
        want promtool prometheus
        want prometheus prometheus
        want wrk wrk
        want curl curl
        ;;
    browser)
        want chromium chromium
        want curl curl
        ;;
    distributed)
        want java openjdk-17-jre-headless
        ;;
    container)
        want podman podman
        want runc runc
        want mmdebstrap mmdebstrap
        want podman-compose podman-compose
        # Compose services find each other by name (the scrape target rnncast:8000).
        want /usr/lib/cni/dnsname golang-github-containernetworking-plugin-dnsname
        ;;
    *)
        echo "usage: $0 [browser|distributed|container]" >&2
        exit 2
        ;;
esac
mapfile -t missing < <(printf '%s\n' "${missing[@]}" | sort -u | sed '/^$/d')

if [ "${#missing[@]}" -eq 0 ]; then
    exit 0
fi
if ! command -v apt-get >/dev/null 2>&1 || [ "$(id -u)" -ne 0 ]; then
    echo "install-tools: not installing ${missing[*]} (needs apt-get as root)" >&2
    [ "$group" = container ] || [ "$group" = distributed ] && exit 1 || exit 0
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
