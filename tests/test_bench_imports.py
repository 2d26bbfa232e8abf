"""Every benchmark module still imports: they run rarely, so a renamed function in app
would otherwise only show up when someone re-runs a benchmark."""

from __future__ import annotations

import importlib
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
# The page benchmark drives a browser: Playwright is the browser tier's extra, not dev's.
NEEDS_BROWSER_EXTRA = {"page_load"}


@pytest.mark.parametrize("name", sorted(p.stem for p in (REPO / "bench").glob("*.py")
                                        if p.stem not in NEEDS_BROWSER_EXTRA))
def test_benchmark_module_imports(name: str) -> None:
    importlib.import_module(f"bench.{name}")
