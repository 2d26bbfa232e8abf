"""The Grafana dashboard (deploy/grafana/dashboards/rnncast.json) and its provisioning.

- Grafana's own published schema, the TypeScript types of the ``@grafana/schema`` npm
  package, checks it with ``tsc --strict``: the dashboard against ``Dashboard``, each
  panel's options and field config against its panel plugin's types (Grafana's
  Go dashboard-linter cannot be installed here: no Go toolchain, no registry serves it).
- Every metric its queries name exists in a real scrape.
- Slow tier: a real Prometheus scrapes a real ``rnncast serve`` under load, and every
  panel's query (and every variable's values) returns data; it also evaluates the
  alerting rules on those real series without an error.
"""

from __future__ import annotations

import json
import re
import subprocess
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from tests.api.test_forecast_log import logging_client
from tests.api.test_models_health import ready_within
from tests.deploy.prometheus_server import api, query, run_prometheus, shipped_config
from tests.deploy.tools import REPO
from tests.factories import make_series
from tests.server import ServerProcess, run_server

GRAFANA = REPO / "deploy" / "grafana"
DASHBOARD = GRAFANA / "dashboards" / "rnncast.json"
SCHEMA = Path(__file__).with_name("grafana-schema") / "node_modules"
TYPES = SCHEMA / "@grafana" / "schema" / "dist" / "types"
# Panel plugin -> the schema types of its options and of its fieldConfig.defaults.custom.
PANEL_TYPES = {
    "timeseries": ("timeseries", "Options", "FieldConfig"),
    "stat": ("stat", "Options", None),
    "table": ("table", "Options", "FieldConfig"),
}
# Grafana's variables, as the test's Prometheus (1 s scrapes) needs them: "All" instances.
VARIABLES = {"$job": "rnncast", "$instance": ".*", "$__rate_interval": "5s"}


def dashboard() -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(DASHBOARD.read_text())
    return loaded


def data_panels(board: dict[str, Any]) -> list[dict[str, Any]]:
    return [p for p in board["panels"] if p["type"] != "row"]


def expressions(board: dict[str, Any]) -> Iterator[tuple[str, str]]:
    """(panel title, PromQL with the variables filled in) for every query of the dashboard."""
    for panel in data_panels(board):
        for target in panel["targets"]:
            expr = target["expr"]
            for name, value in VARIABLES.items():
                expr = expr.replace(name, value)
            yield panel["title"], expr


def test_layout_datasources_and_selectors() -> None:
    board = dashboard()
    ids = [p["id"] for p in board["panels"]]
    assert len(ids) == len(set(ids))
    cells: set[tuple[int, int]] = set()
    for panel in board["panels"]:
        grid = panel["gridPos"]
        assert 0 <= grid["x"] and grid["x"] + grid["w"] <= 24
        mine = {(grid["x"] + dx, grid["y"] + dy) for dx in range(grid["w"]) for dy in range(grid["h"])}
        assert not cells & mine, f"{panel['title']} overlaps another panel"
        cells |= mine
    for panel in data_panels(board):
        assert panel["description"] and panel["targets"], panel["title"]
        for target in [panel, *panel["targets"]]:
            assert target["datasource"] == {"type": "prometheus", "uid": "${datasource}"}, panel["title"]
        for target in panel["targets"]:
            for selector in re.findall(r"rnncast_\w+(\{[^}]*\})?", target["expr"]):
                assert 'job=~"$job", instance=~"$instance"' in selector, (panel["title"], target["expr"])
    variables = {v["name"]: v for v in board["templating"]["list"]}
    assert variables["datasource"]["query"] == "prometheus"
    assert variables["instance"]["includeAll"] and variables["instance"]["allValue"] == ".*"


def test_every_metric_the_queries_name_is_exposed(model_dir: Path, tmp_path: Path) -> None:
    """Served with the forecast log on, after a forecast and a reload, as the dashboard expects."""
    with logging_client(model_dir, tmp_path / "forecasts.jsonl") as client:
        ready_within(client)
        client.post("/v1/forecast", json={"series": [{"values": make_series(100)}]})
        scrape = client.get("/metrics").text
    exposed = set(re.findall(r"^(rnncast_\w+)", scrape, flags=re.MULTILINE))
    named = {name for _, expr in expressions(dashboard()) for name in re.findall(r"rnncast_\w+", expr)}
    assert named <= exposed, named - exposed
    assert len(named) >= 12


def schema_program(board: dict[str, Any]) -> str:
    """TypeScript that assigns the dashboard (and each panel's options and field
    config) to Grafana's schema types as object literals, so tsc reports every
    unknown property and every wrong type. ``Json<T>`` turns the schema's string
    enums into their string values, which is what a JSON file holds."""
    panel_types = {plugin for plugin, *_ in PANEL_TYPES.values()}
    lines = [
        f'import type {{ Dashboard }} from "{TYPES}/raw/dashboard/x/types.gen";',
        *(f'import type * as {p} from "{TYPES}/raw/composable/{p}/panelcfg/x/types.gen";' for p in sorted(panel_types)),
        "type Json<T> = T extends string ? (string extends T ? string : `${T}`)"
        " : T extends ReadonlyArray<infer U> ? Array<Json<U>>"
        " : T extends object ? { [K in keyof T]: Json<T[K]> } : T;",
        f"export const dashboard: Json<Dashboard> = {json.dumps(board)};",
    ]
    for panel in data_panels(board):
        plugin, options, custom = PANEL_TYPES[panel["type"]]
        lines.append(f"export const options{panel['id']}: Json<{plugin}.{options}> = {json.dumps(panel['options'])};")
        if custom and "custom" in panel["fieldConfig"]["defaults"]:
            value = json.dumps(panel["fieldConfig"]["defaults"]["custom"])
            lines.append(f"export const custom{panel['id']}: Json<{plugin}.{custom}> = {value};")
    return "\n".join(lines) + "\n"


def test_grafana_schema_accepts_the_dashboard_and_catches_a_misspelling(tmp_path: Path) -> None:
    if not (SCHEMA / "typescript" / "bin" / "tsc").exists():
        pytest.skip("the Grafana schema is not installed: run scripts/install-tools.sh (needs npm)")
    board = dashboard()
    (tmp_path / "shipped.ts").write_text(schema_program(board))
    broken = json.loads(json.dumps(board))
    legend = data_panels(broken)[0]["options"]["legend"]
    legend["displayMod"] = legend.pop("displayMode")
    (tmp_path / "broken.ts").write_text(schema_program(broken))
    result = subprocess.run(
        [str(SCHEMA / "typescript" / "bin" / "tsc"), "--noEmit", "--strict", "--target", "es2022",
         "--module", "esnext", "--moduleResolution", "bundler", "--skipLibCheck",
         str(tmp_path / "shipped.ts"), str(tmp_path / "broken.ts")],
        capture_output=True, text=True, timeout=300, check=False,
    )
    errors = result.stdout.strip().splitlines()
    assert not [e for e in errors if "shipped.ts" in e], result.stdout
    (error,) = [e for e in errors if "broken.ts" in e]
    assert "'\"displayMod\"' does not exist in type" in error, "the check sees what Grafana would not"


def test_provisioning_matches_the_compose_mounts() -> None:
    compose = yaml.safe_load((REPO / "deploy" / "compose.yaml").read_text())["services"]
    grafana = compose["grafana"]
    mounts = {target: source for source, target, *_ in (v.split(":") for v in grafana["volumes"])}
    assert mounts["/etc/grafana/provisioning"] == "./grafana/provisioning"
    (provider,) = yaml.safe_load((GRAFANA / "provisioning" / "dashboards" / "rnncast.yaml").read_text())["providers"]
    assert (REPO / "deploy" / mounts[provider["options"]["path"]]).resolve() == DASHBOARD.parent
    home = Path(grafana["environment"]["GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH"])
    assert mounts[str(home.parent)] == "./grafana/dashboards" and (DASHBOARD.parent / home.name).is_file()
    (source,) = yaml.safe_load((GRAFANA / "provisioning" / "datasources" / "prometheus.yaml").read_text())["datasources"]
    ports = [p.rsplit(":", 1)[1] for p in compose["prometheus"]["ports"]]
    assert source["type"] == "prometheus" and source["url"] == f"http://prometheus:{ports[0]}"
    assert "prometheus" in grafana["depends_on"]
    assert re.fullmatch(r"grafana/grafana:\d+\.\d+\.\d+", grafana["image"]), "a pinned version"
    assert all(str(p).startswith("127.0.0.1:") for p in grafana["ports"]), "loopback only"


@contextmanager
def load(server: ServerProcess, seconds: float) -> Iterator[dict[str, int]]:
    """Eight clients, each looping over one-step, v2, rolling and refused requests,
    until the block ends or ``seconds`` pass; yields the status counts so far."""
    body = {"series": [{"id": "s", "values": make_series(120)}]}
    infer = {"inputs": [{"name": "input__0", "shape": [1, 100], "datatype": "FP32", "data": make_series(100)}]}
    rolling = {"series": [{"id": "r", "values": make_series(120), "start": "2026-01-01", "freq": "D"}],
               "horizon": 5, "quantiles": [0.1, 0.9], "num_samples": 20}
    calls = [("/v1/forecast", body)] * 6 + [("/v2/models/default/infer", infer), ("/v1/forecast/rolling", rolling),
                                            ("/v1/forecast", {"series": [{"values": [1.0]}]})]
    stop, deadline, statuses = threading.Event(), time.monotonic() + seconds, {}

    def client() -> None:
        with httpx.Client(base_url=server.url, timeout=10) as http:
            while not stop.is_set() and time.monotonic() < deadline:
                for path, payload in calls:
                    status = http.post(path, json=payload).status_code
                    statuses[status] = statuses.get(status, 0) + 1

    with ThreadPoolExecutor(8) as pool:
        futures = [pool.submit(client) for _ in range(8)]
        try:
            yield statuses
        finally:
            stop.set()
            for future in futures:
                future.result()


def finite(result: list[dict[str, Any]]) -> list[float]:
    return [v for v in (float(r["value"][1]) for r in result) if v == v and abs(v) != float("inf")]


@pytest.mark.slow
def test_every_panel_and_variable_gets_data_from_a_loaded_server(model_copy: Path, tmp_path: Path) -> None:
    env = {"RNNCAST_FORECAST_LOG": str(tmp_path / "forecasts.jsonl")}
    with run_server(model_copy, tmp_path, env=env) as server, \
            run_prometheus(shipped_config(f"127.0.0.1:{server.port}"), tmp_path) as prometheus, \
            load(server, seconds=60) as statuses:
        assert httpx.post(f"{server.url}/v1/models/default/reload", timeout=30).status_code == 200
        time.sleep(8)  # enough scrapes for 5 s rate windows while the load goes on
        assert statuses.get(200, 0) > 100 and statuses.get(422, 0) > 0, statuses
        empty = [(title, expr) for title, expr in expressions(dashboard()) if not finite(query(prometheus, expr))]
        assert not empty, empty
        for variable in dashboard()["templating"]["list"][1:]:
            label, selector = _label_values(variable["query"]["query"])
            values = api(prometheus, f"label/{label}/values", **{"match[]": selector})
            assert values == ([f"127.0.0.1:{server.port}"] if label == "instance" else ["rnncast"]), variable
        (group,) = api(prometheus, "rules")["groups"]
        assert len(group["rules"]) == 5
        assert all(rule["health"] == "ok" and not rule.get("lastError") for rule in group["rules"]), group


def _label_values(grafana_query: str) -> tuple[str, str]:
    """``label_values(selector, label)`` as Grafana's Prometheus variables write it."""
    match = re.fullmatch(r"label_values\((.+), (\w+)\)", grafana_query)
    assert match, grafana_query
    selector = match.group(1)
    for name, value in VARIABLES.items():
        selector = selector.replace(name, value)
    return match.group(2), selector
