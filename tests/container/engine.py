"""podman as the container tier drives it; scripts/container-check.sh installs and
configures it (CONTAINERS_CONF) and builds the image these tests run (CONTAINER_IMAGE)."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager

import pytest

from tests.server import free_port

# An arbitrary UID in group 0, as OpenShift runs images; not the image's own 10001.
USER = "12345:0"


def image_under_test() -> str:
    """The image scripts/container-check.sh built; the tier cannot run without it."""
    image = os.environ.get("CONTAINER_IMAGE")
    if not image:
        pytest.fail("CONTAINER_IMAGE is not set: run scripts/container-check.sh (make test-container), "
                    "which builds the image and then runs this tier")
    return image


def podman(*args: str, timeout: float = 120, check: bool = True) -> subprocess.CompletedProcess[str]:
    """Run ``podman ARGS``; with ``check``, a failure raises with podman's own message."""
    result = subprocess.run(["podman", *args], capture_output=True, text=True, timeout=timeout, check=False)
    if check and result.returncode != 0:
        raise AssertionError(f"podman {' '.join(args)} exited {result.returncode}: {result.stderr[-2000:]}")
    return result


def unique_name(purpose: str) -> str:
    """A container or project name no other run on this host uses."""
    return f"rnncast-check-{os.getpid()}-{purpose}"


@contextmanager
def serving(image: str, name: str, env: dict[str, str] | None = None) -> Iterator[str]:
    """The image's own command as USER on a read-only root filesystem, on a free
    loopback port of the host's network, with ``env`` added to its environment;
    yields its URL, removes it afterwards."""
    port = free_port()
    settings = {"RNNCAST_HOST": "127.0.0.1", "RNNCAST_PORT": str(port), **(env or {})}
    flags = [part for key, value in settings.items() for part in ("--env", f"{key}={value}")]
    podman("run", "--detach", "--name", name, "--user", USER, "--read-only", *flags, image)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        podman("rm", "--force", "--time", "0", name, check=False)
