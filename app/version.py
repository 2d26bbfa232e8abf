"""The package's one version: pyproject.toml's, read from the installed package's metadata.

The CLI's ``--version``, the OpenAPI document, the Open Inference Protocol's server
metadata and the image tags all report this.
"""

from __future__ import annotations

from importlib import metadata

DISTRIBUTION = "rnncast"


def package_version() -> str:
    """The installed rnncast version, e.g. ``0.1.0``."""
    return metadata.version(DISTRIBUTION)
