"""The README's configuration table documents every setting with its real default."""

from __future__ import annotations

import re
from pathlib import Path

from app.config import Settings

README = (Path(__file__).resolve().parent.parent / "README.md").read_text()


def test_every_setting_is_documented_with_its_default() -> None:
    rows = dict(re.findall(r"^\| `(RNNCAST_[A-Z_]+)` \| `([^`]*)` \|", README, flags=re.M))
    for name, field in Settings.model_fields.items():
        variable = f"RNNCAST_{name.upper()}"
        assert variable in rows, f"{variable} is missing from the README's configuration table"
        default = "" if field.default_factory is not None else str(field.default)
        assert rows[variable] == default, f"{variable}: README says {rows[variable]!r}, code says {default!r}"
    assert len(rows) == len(Settings.model_fields)


def test_readme_starts_with_the_two_commands() -> None:
    first_block = README.split("```sh", 1)[1].split("```", 1)[0]
    assert [line.split()[:2] for line in first_block.strip().splitlines()] == [["make", "serve"], ["make", "test"]]
    ci = (Path(__file__).resolve().parent.parent / ".ci" / "run").read_text()
    commands = [line for line in ci.splitlines() if line.startswith("make ")]
    assert commands[0] == "make test", "CI runs the README's test command first (then the tiers)"
