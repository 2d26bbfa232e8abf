#!/usr/bin/env bash
# One command for the whole benchmark, on a fresh machine or an old one:
#   bench/run.sh [--quick] [python -m bench options]
# Sets up what is missing (wrk and Java 17 from Debian, the project venv, TorchServe and
# LitServe in their own venvs under bench/out/venvs, the window-32 model), then runs
# `python -m bench`, which writes bench/RESULTS.md and bench/throughput.png.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
VENVS=bench/out/venvs
TORCH=torch==2.13.0   # the CPU build; any other version pulls multi-GB CUDA wheels

log() { printf '[run.sh] %s\n' "$*" >&2; }

apt_install() {
  log "apt-get install $*"
  if ! apt-get install -y -q "$@" >/dev/null; then
    apt-get update -q >/dev/null && apt-get install -y -q "$@" >/dev/null
  fi
}

command -v wrk >/dev/null || apt_install wrk
command -v taskset >/dev/null || apt_install util-linux
command -v java >/dev/null || apt_install openjdk-17-jre-headless

if ! .venv/bin/python -c 'import app, matplotlib, httpx' 2>/dev/null; then
  log "setting up the project venv (.venv)"
  python3 -m venv .venv
  .venv/bin/python -m pip install -q --upgrade pip
  .venv/bin/python -m pip install -q -c constraints.txt -e '.[train,dev]'
fi

# make_venv DIR PACKAGES...: a venv with exactly these pins, rebuilt when they change.
make_venv() {
  local dir=$1; shift
  local want="$*"
  if [[ -f $dir/.bench-ready && $(cat "$dir/.bench-ready") == "$want" ]]; then return; fi
  log "setting up $dir ($want)"
  rm -rf "$dir"
  python3 -m venv "$dir"
  "$dir/bin/python" -m pip install -q "$@"
  echo "$want" > "$dir/.bench-ready"
}
mkdir -p "$VENVS"
# TorchServe 0.12 imports yaml without declaring it.
make_venv "$VENVS/torchserve" "$TORCH" torchserve==0.12.0 torch-model-archiver==0.12.0 pyyaml numpy
make_venv "$VENVS/litserve" "$TORCH" litserve==0.2.19 numpy

.venv/bin/python -m bench.export_model --out bench/out/models
log "running the benchmark (python -m bench $*)"
cd "$ROOT"
exec .venv/bin/python -m bench "$@"
