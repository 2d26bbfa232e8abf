"""Property-based API testing: schemathesis (CLI, 4.x) against a real server's /openapi.json.

Every operation of the published schema is exercised with generated valid and invalid
requests; no response may be a 5xx, and every response must match the documented
status codes, content types, headers and schemas. Path parameters are pinned to the
served model, so generated bodies reach the forecast code instead of stopping at 404.
``positive_data_acceptance`` is left out on purpose: a series needs at least the
model's ``window`` values, a per-model rule no static schema can state.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from tests.server import ServerProcess

CHECKS = [
    "not_a_server_error",
    "status_code_conformance",
    "content_type_conformance",
    "response_headers_conformance",
    "response_schema_conformance",
    "negative_data_rejection",
]
MAX_EXAMPLES = 40
_CLI = "import sys; from schemathesis.cli import schemathesis; sys.exit(schemathesis())"


@pytest.mark.slow
def test_schemathesis_finds_no_failures(live_server: ServerProcess, tmp_path: Path) -> None:
    version = httpx.get(f"{live_server.url}/v2/models/default").json()["versions"][0]
    config = tmp_path / "schemathesis.toml"
    config.write_text(f'[parameters]\n"path.name" = "default"\n"path.version" = "{version}"\n')
    report = tmp_path / "report.json"
    run = subprocess.run(
        [
            sys.executable, "-c", _CLI,
            "--config-file", str(config),
            "run", f"{live_server.url}/openapi.json",
            "--checks", ",".join(CHECKS),
            "--max-examples", str(MAX_EXAMPLES),
            "--seed", "20260101",
            "--workers", "1",
            "--request-timeout", "30",
            "--report", "json",
            "--report-json-path", str(report),
        ],
        cwd=tmp_path, capture_output=True, text=True, timeout=240,
    )
    assert report.is_file(), run.stdout[-6000:] + run.stderr[-2000:]
    summary = json.loads(report.read_text())
    cases = summary["test_cases"]
    print(f"schemathesis: {cases['generated']} cases, {summary['operations']['tested']} operations")
    assert run.returncode == 0, run.stdout[-6000:] + run.stderr[-2000:]
    assert summary["errors"] == []
    assert cases["with_failures"] == 0 and cases["errored"] == 0
    operations = summary["operations"]
    assert operations["tested"] == operations["total"] >= 15
    assert cases["generated"] >= 500
    assert "/v2/models/{name}/infer" in httpx.get(f"{live_server.url}/openapi.json").json()["paths"]
