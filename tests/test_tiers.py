"""The test tiers: `make test` runs the default tier, `.ci/run` every marked tier too."""

from __future__ import annotations

import re
import subprocess
import tomllib
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def _pytest_options() -> dict[str, str | list[str]]:
    with (REPO / "pyproject.toml").open("rb") as handle:
        options: dict[str, str | list[str]] = tomllib.load(handle)["tool"]["pytest"]["ini_options"]
    return options


def _make(*args: str) -> str:
    """make's output for a dry run (-n): what it would run, or with -p its rule database."""
    return subprocess.run(["make", "--no-print-directory", "-n", *args], cwd=REPO, capture_output=True,
                          text=True, check=True, timeout=60).stdout


def _markers_in_use() -> set[str]:
    """The markers `make test` leaves out (addopts) that some test carries."""
    excluded = set(re.findall(r"not (\w+)", str(_pytest_options()["addopts"])))
    sources = [p.read_text() for p in (REPO / "tests").rglob("*.py") if p.name != "test_tiers.py"]
    return {m for m in excluded if any(re.search(rf"pytest\.mark\.{m}\b", text) for text in sources)}


def test_ci_runs_the_default_tier_then_every_marked_tier() -> None:
    lines = (REPO / ".ci" / "run").read_text().strip().splitlines()
    assert lines[-2:] == ["make test", "make tiers"]


def test_every_marked_tier_has_a_target_that_ci_runs() -> None:
    """A marker kept out of `make test` whose tests no tier target runs would never run."""
    database = _make("-p")
    tiers = re.search(r"^TIERS := (.*)$", database, re.M).group(1).split()  # type: ignore[union-attr]
    prerequisites = re.search(r"^tiers: (.*)$", database, re.M).group(1).split()  # type: ignore[union-attr]
    assert prerequisites == [f"test-{tier}" for tier in tiers]
    markers = {line.split(":")[0] for line in _pytest_options()["markers"]}
    in_use = _markers_in_use()
    assert {"slow", "container"} <= in_use
    assert in_use <= set(tiers) <= markers, f"tiers with tests but no target: {in_use - set(tiers)}"
    for tier in tiers:
        recipe = _make(f"test-{tier}")
        scripts = [REPO / s for s in re.findall(r"bash (scripts/\S+)", recipe)]
        assert any(f"-m {tier}" in text for text in [recipe, *(s.read_text() for s in scripts)]), tier
