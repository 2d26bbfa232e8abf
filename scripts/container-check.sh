#!/usr/bin/env bash
# Build the image from the real Dockerfile with podman (no Docker daemon needed), then
# run the `container` test tier against it: the container as an arbitrary UID on a
# read-only root filesystem, its probes, forecasts equal to the same model served
# outside it, /metrics, its own HEALTHCHECK, a SIGTERM stop that drops nothing, and
# deploy/compose.yaml brought up with podman-compose and scraped by Prometheus.
#
#   scripts/container-check.sh            (= make test-container; about 4 min cold)
#
# Works without a registry of container images: the base image is made from Debian's
# packages (mmdebstrap) and torch comes from a local package index, so only Debian's
# archive and PyPI are reached. Needs root (podman, apt-get). What it keeps lies in
# build/container/ and podman's image store (the untagged build stage too: it is the
# layer cache of the next build; `podman image prune -f` frees it).
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON=.venv/bin/python
WORK=build/container
BASE_IMAGE=localhost/rnncast-base:bookworm
PROMETHEUS_IMAGE=localhost/rnncast-prometheus:bookworm

log() { printf '[%s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
# quietly COMMAND...: its output goes to a log, shown only when it fails.
quietly() {
    "$@" >"$WORK/step.log" 2>&1 || { tail -n 40 "$WORK/step.log" >&2; log "failed: $*"; return 1; }
}

bash scripts/install-tools.sh container
mkdir -p "$WORK"

# podman's settings for this kind of host, given through CONTAINERS_CONF (nothing is
# written under /etc): runc, as crun refuses cgroups in hybrid mode; ulimits within the
# hard limits this process has (without CAP_SYS_RESOURCE podman's 1048576 fails, and
# podman caps nproc at 32768); the host's network, so single containers create no
# bridge (a compose project still gets its own network).
nproc_limit=$(ulimit -Hu)
if [ "$nproc_limit" = unlimited ] || [ "$nproc_limit" -gt 32768 ]; then nproc_limit=32768; fi
nofile_limit=$(ulimit -Hn)
cat >"$WORK/containers.conf" <<CONF
[containers]
default_ulimits = ["nofile=$nofile_limit:$nofile_limit", "nproc=$nproc_limit:$nproc_limit"]
netns = "host"

[engine]
runtime = "runc"
CONF
export CONTAINERS_CONF="$PWD/$WORK/containers.conf"

# A Python 3.11 base from Debian's packages (python-is-python3: the Dockerfile calls
# `python`), made once and kept in podman's store.
if ! podman image exists "$BASE_IMAGE"; then
    log "making $BASE_IMAGE from Debian packages (mmdebstrap)"
    sources=()
    [ -f /etc/apt/sources.list.d/debian.sources ] && sources=(/etc/apt/sources.list.d/debian.sources)
    quietly nice -n 10 mmdebstrap --variant=minbase \
        --include=python3,python3-venv,python-is-python3,ca-certificates \
        bookworm "$WORK/base.tar" "${sources[@]}"
    quietly podman import "$WORK/base.tar" "$BASE_IMAGE"
    rm -f "$WORK/base.tar"
fi

# Prometheus for the compose test: Debian's package on that base, standing in for the
# upstream image that compose.yaml names (its PROMETHEUS_IMAGE variable overrides it).
if ! podman image exists "$PROMETHEUS_IMAGE"; then
    log "making $PROMETHEUS_IMAGE from Debian's prometheus package"
    printf '%s\n' "FROM $BASE_IMAGE" \
        'RUN apt-get update -q && apt-get install -y -q --no-install-recommends prometheus && rm -rf /var/lib/apt/lists/*' \
        'ENTRYPOINT ["/usr/bin/prometheus"]' >"$WORK/Prometheus.Containerfile"
    quietly nice -n 10 podman build --network host -t "$PROMETHEUS_IMAGE" -f "$WORK/Prometheus.Containerfile" "$WORK"
fi

# torch's CPU wheel and its dependencies (pip downloads the pinned version from its
# configured indexes) as a PEP 503 index that the build reaches on loopback, in place
# of the PyTorch index.
log "laying out the torch package index"
rm -rf "$WORK/index"
quietly nice -n 10 "$PYTHON" -m pip download --disable-pip-version-check --only-binary=:all: \
    -c constraints.txt -d "$WORK/wheels" torch
for wheel in "$WORK"/wheels/*.whl; do
    file=$(basename "$wheel")
    project=$(printf '%s' "${file%%-*}" | tr 'A-Z_.' 'a-z--')
    mkdir -p "$WORK/index/$project"
    ln -f "$wheel" "$WORK/index/$project/$file"
done
index_port=$("$PYTHON" -c 'from tests.server import free_port; print(free_port())')
"$PYTHON" -m http.server "$index_port" --bind 127.0.0.1 --directory "$WORK/index" >"$WORK/index.log" 2>&1 &
index_pid=$!
trap 'kill "$index_pid" 2>/dev/null || true' EXIT

version=$("$PYTHON" -c 'from app.version import package_version; print(package_version())')
image="localhost/rnncast:$version"
# --format docker keeps the HEALTHCHECK (the OCI format drops it). The host's CA bundle
# is mounted for the build only, so pip trusts a TLS-intercepting proxy if there is one;
# it never enters the image.
ca_mount=()
[ -f /etc/ssl/certs/ca-certificates.crt ] &&
    ca_mount=(-v /etc/ssl/certs/ca-certificates.crt:/etc/ssl/certs/ca-certificates.crt:ro)
log "building $image from the Dockerfile"
start=$(date +%s)
quietly nice -n 10 podman build --format docker --network host "${ca_mount[@]}" \
    --build-arg BASE_IMAGE="$BASE_IMAGE" \
    --build-arg TORCH_INDEX_URL="http://127.0.0.1:$index_port/" \
    -t "$image" .
size=$(podman image inspect --format '{{.Size}}' "$image")
log "built $image in $(($(date +%s) - start)) s: $((size / 1000000)) MB"

export CONTAINER_IMAGE="$image" PROMETHEUS_IMAGE
nice -n 10 .venv/bin/pytest -m container -p no:cacheprovider -v -s tests/container
