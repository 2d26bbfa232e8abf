# rnncast serving image: `rnncast serve` with models/default baked in.
#
#   docker build -t rnncast:0.1.0 .                       # CPU build of torch (default)
#   docker run --rm -p 127.0.0.1:8000:8000 --stop-timeout 30 rnncast:0.1.0
#
# CUDA: the CUDA wheels of torch bundle the CUDA runtime libraries, so the slim
# Python base still works; only the torch index changes (the host needs the NVIDIA
# driver and container toolkit, `docker run --gpus all`):
#
#   docker build --build-arg TORCH_INDEX_URL=https://download.pytorch.org/whl/cu128 -t rnncast:0.1.0-cuda .
#
# BASE_IMAGE swaps the base of both stages (e.g. a CUDA-enabled Python 3.11 image);
# it must keep Python 3.11 at the same path in both, because the virtual
# environment is built in one stage and copied into the other.
ARG BASE_IMAGE=python:3.11-slim-bookworm

FROM ${BASE_IMAGE} AS build
ARG TORCH_INDEX_URL=https://download.pytorch.org/whl/cpu
# binutils' strip, for this stage only (Debian bookworm's version; another base may
# need --build-arg BINUTILS_VERSION=...).
ARG BINUTILS_VERSION=2.40-2
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PATH=/opt/venv/bin:$PATH
WORKDIR /src
RUN apt-get update \
    && apt-get install -y --no-install-recommends "binutils=${BINUTILS_VERSION}" \
    && rm -rf /var/lib/apt/lists/* \
    && python -m venv /opt/venv

# Dependencies first, in their own layer: it is rebuilt only when pyproject.toml or
# constraints.txt change, not on every code change. torch comes alone from its own
# index (the CPU build by default; constraints.txt pins the version), everything
# else from PyPI. Only the base dependencies: serving needs no extra.
# What serving never loads stays out of the layer (about 450 MB): bytecode for the
# modules it never imports (compiled below for those it does), the C++ headers, test
# binaries and protoc that the torch wheel ships, every package's tests, and the symbol
# tables of torch's and pyarrow's own libraries (the dynamic symbols the loader uses
# stay; libraries that auditwheel patched, like numpy's, break when stripped).
COPY pyproject.toml constraints.txt ./
RUN python -c "import tomllib; print('\n'.join(tomllib.load(open('pyproject.toml', 'rb'))['project']['dependencies']))" > requirements.txt \
    && pip install --no-cache-dir --no-compile --constraint constraints.txt --index-url "${TORCH_INDEX_URL}" torch \
    && pip install --no-cache-dir --no-compile --constraint constraints.txt --requirement requirements.txt \
    && site="$(python -c 'import sysconfig; print(sysconfig.get_path("purelib"))')" \
    && rm -rf "${site}/torch/include" "${site}/torch/test" "${site}/torch/bin/test_"* \
              "${site}/torch/bin/"*Test "${site}/torch/bin/protoc"* \
    && find "${site}" -type d -name tests -prune -exec rm -rf {} + \
    && find "${site}/torch/lib" "${site}/pyarrow" -maxdepth 1 -type f -name "*.so*" \
            -exec strip --strip-unneeded {} +

# The package itself, without touching the dependency layer. Importing the server
# writes the bytecode of every module it loads at start (the root filesystem is
# read-only at run time), and of the tracing SDK and exporter it loads when OTEL_*
# turns tracing on. pip, a build tool, stays behind in this stage.
COPY app/ app/
RUN pip install --no-cache-dir --no-compile --no-deps . \
    && python -P -c "import app.main, app.cli.serve, uvicorn.main, opentelemetry.sdk.trace, \
opentelemetry.exporter.otlp.proto.http.trace_exporter" \
    && rnncast --version \
    && pip uninstall --yes pip


FROM ${BASE_IMAGE} AS runtime
LABEL org.opencontainers.image.title="rnncast" \
      org.opencontainers.image.description="Forecasts from small recurrent models exported as TorchScript, over HTTP (v1 and the Open Inference Protocol v2)."

# A fixed numeric non-root user (Kubernetes' runAsNonRoot can only verify a
# numeric USER). Its primary group is 0 and what it may write is group-0
# writable, so the image also runs under an arbitrary UID in group 0 (OpenShift).
# It writes only to /tmp (the multi-worker metrics directory is made there by
# `rnncast serve`) and its HOME; the code and the models stay read-only to it.
RUN useradd --uid 10001 --gid 0 --create-home --home-dir /home/rnncast --shell /usr/sbin/nologin rnncast \
    && chmod 0770 /home/rnncast

COPY --from=build /opt/venv /opt/venv
COPY models/default/model.pt models/default/model.pt.sha256 /srv/rnncast/models/default/

# Settings come only from RNNCAST_* variables (see app/config.py); PROMETHEUS_MULTIPROC_DIR
# is deliberately unset: with RNNCAST_WORKERS > 1 the CLI makes a fresh one per start,
# so a restarted container never adds up a previous run's samples.
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    HOME=/home/rnncast \
    RNNCAST_HOST=0.0.0.0 \
    RNNCAST_PORT=8000 \
    RNNCAST_MODEL_DIR=/srv/rnncast/models

WORKDIR /srv/rnncast
USER 10001:0
EXPOSE 8000

# Readiness, not liveness: "healthy" means every model is loaded and warm, and it
# turns unhealthy while the server drains after SIGTERM. Slim images have no curl;
# the standard library's urllib exits non-zero on a refused connection and on 503.
HEALTHCHECK --interval=10s --timeout=5s --start-period=60s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request as r; r.urlopen('http://127.0.0.1:%s/health/ready' % os.environ.get('RNNCAST_PORT', '8000'), timeout=4)"]

# On SIGTERM the server reports not-ready for RNNCAST_DRAIN_SECONDS (default 5) while
# still serving, then stops accepting and lets in-flight requests finish within
# RNNCAST_GRACEFUL_TIMEOUT_S (default 20): give it at least 25 s plus a margin before
# SIGKILL. Docker's default is 10 s, so stop with `docker stop -t 30` or
# `docker run --stop-timeout 30` (compose: stop_grace_period; Kubernetes:
# terminationGracePeriodSeconds).
STOPSIGNAL SIGTERM
CMD ["rnncast", "serve"]
