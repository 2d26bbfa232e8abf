"""The forecast page in headless Chromium against a real server: it loads with no
console errors and nothing from other origins, a CSV becomes a drawn forecast (checked
on the canvas pixels), and bad input shows the server's own message."""

from __future__ import annotations

import ast
import csv
import io
import json
import re
import subprocess
import sys
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from tests.browser.canvas import chart_palette, ink, layered, opaque
from tests.browser.conftest import OpenPage
from tests.factories import make_series
from tests.server import ServerProcess

pytestmark = pytest.mark.browser

HTTP_ERROR = re.compile(r"^Failed to load resource: the server responded with a status of (\d+)")


def test_page_loads_offline_and_lists_the_models(live_server: ServerProcess, open_page: OpenPage, artifacts: Path) -> None:
    session = open_page(live_server)
    page = session.open()
    expect(page.locator("#server-status")).to_have_text("Server ready")
    card = page.locator("article.model")
    expect(card.locator("h3")).to_have_text("default ready")
    expect(card.locator("dl")).to_contain_text("Window100")
    scores = card.locator("table.scores tbody tr th")
    expect(scores).to_have_text(["model", "last value", "window mean"])
    card.locator("summary", has_text="Training plots").click()
    plots = card.locator("img")
    expect(plots).to_have_count(2)
    for img in plots.all():
        expect(img).to_have_attribute("src", re.compile(r"^blob:"))  # fetched with the key, shown from memory
        img.evaluate("i => i.decode()")
        assert img.evaluate("i => i.naturalWidth") > 100
    page.screenshot(path=artifacts / "loaded.png", full_page=True)
    assert session.console_errors == []
    assert session.foreign_requests == []

    # The browser itself refuses anything from another origin (the page's CSP) ...
    with page.expect_console_message(lambda m: "Content Security Policy" in m.text):
        page.evaluate("() => { const img = new Image(); img.src = 'http://example.invalid/x.png'; document.body.append(img); }")
    assert session.foreign_requests == []


def test_the_router_would_catch_what_the_policy_let_through(live_server: ServerProcess, open_page: OpenPage) -> None:
    """The net under the CSP: with the policy bypassed, a foreign request is caught and refused."""
    session = open_page(live_server, bypass_csp=True)
    page = session.open()
    page.evaluate("() => fetch('http://example.invalid/data.json').catch(() => null)")
    assert session.foreign_requests == ["http://example.invalid/data.json"]


def _long_csv(path: Path) -> dict[str, list[float]]:
    """Two hourly series in long format; the second one's rows in reverse time order."""
    series = {"north": make_series(260, seed=1), "south": make_series(260, seed=2)}
    start = datetime(2026, 1, 1)
    rows = [[name, (start + timedelta(hours=i)).isoformat(), v] for name, values in series.items() for i, v in enumerate(values)]
    with path.open("w", newline="") as f:
        csv.writer(f).writerows([["unique_id", "ds", "y"], *rows[:260], *reversed(rows[260:])])
    return series


def test_csv_upload_draws_the_forecast_mean_and_interval_band(
    live_server: ServerProcess, open_page: OpenPage, artifacts: Path, tmp_path: Path
) -> None:
    series = _long_csv(tmp_path / "two-series.csv")
    session = open_page(live_server)
    page = session.open()
    page.set_input_files("#csv-file", tmp_path / "two-series.csv")
    expect(page.locator("#file-series option")).to_have_text(["north (260 values)", "south (260 values)"])
    page.select_option("#file-series", label="south (260 values)")
    expect(page.locator("#freq")).to_have_value("H")
    expect(page.locator("#start")).to_have_value("2026-01-01")
    assert [float(v) for v in page.input_value("#values").split(", ")] == series["south"]
    with page.expect_response("**/v1/forecast/rolling?*") as forecast, \
            page.expect_response("**/v1/forecast/backtest?*") as backtest, \
            page.expect_response("**/v1/anomalies?*") as anomalies:
        session.forecast()
    expect(page.locator("#problem")).to_be_hidden()
    assert forecast.value.request.post_data_json == backtest.value.request.post_data_json == {"rows": [
        {"unique_id": "south", "ds": (datetime(2026, 1, 1) + timedelta(hours=i)).isoformat(), "y": y}
        for i, y in enumerate(series["south"])]}

    colours, alpha = chart_palette(page)
    drawn = ink(page, {
        "history": opaque(colours["history"]),
        "mean": opaque(colours["mean"]),
        "outer band": layered(colours["band"], alpha, layers=1),  # 95% only
        "inner band": layered(colours["band"], alpha, layers=2),  # 80% inside 95%
    })
    assert drawn["history"].count > 300 and drawn["mean"].count > 40, drawn
    # The forecast is drawn after the history ends, and the bands around it.
    assert drawn["mean"].min_x >= drawn["history"].max_x - 2, drawn
    for band in ("outer band", "inner band"):
        assert drawn[band].count > 200, drawn
        assert drawn[band].min_x >= drawn["history"].max_x - 2, drawn

    scores = backtest.value.json()["metrics"]["overall"]
    shown = dict(line.split("\t") for line in page.locator("#metrics tbody").inner_text().splitlines())
    assert shown == {
        "MAE": _number(scores["mae"]), "RMSE": _number(scores["rmse"]), "sMAPE (%)": _number(scores["smape"]),
        "MASE": _number(scores["mase"]), "Coverage of the 80% interval": f"{scores['coverage-80']:.1f}%",
        "Coverage of the 95% interval": f"{scores['coverage-95']:.1f}%",
    }, "the server's backtest scores, as they are"
    assert "3 cut-offs × 24 steps (72 points)" in page.locator("#metrics caption").inner_text()
    flagged = anomalies.value.json()["anomalies"]
    assert page.locator("#anomaly-note").inner_text().startswith(f"{flagged} of ")
    expect(page.locator("#forecast-table tbody tr").first).to_contain_text("2026-01-11 20:00")
    page.screenshot(path=artifacts / "forecast.png", full_page=True)
    page.locator("#result").screenshot(path=artifacts / "forecast-result.png")  # the README's picture
    _answer_matches_download_curl_and_python(page, forecast.value.json(), artifacts)
    assert session.console_errors == [] and session.foreign_requests == []


def _number(value: float) -> str:
    """A number as the page shows it (dom.js formatNumber)."""
    return f"{value:.0f}" if abs(value) >= 1000 else f"{value:#.4g}"


def _answer_matches_download_curl_and_python(page: Page, answer: dict[str, Any], artifacts: Path) -> None:
    """The CSV download holds the server's forecast rows, and the shown curl commands and
    Python client calls, run as they are, get the very same numbers from the server."""
    with page.expect_download() as download:
        page.click("#download")
    saved = artifacts / download.value.suggested_filename
    download.value.save_as(saved)
    rows = list(csv.DictReader(io.StringIO(saved.read_text())))
    assert list(rows[0]) == ["unique_id", "ds", "mean", "lo-80", "hi-80", "lo-95", "hi-95"]
    assert len(rows) == 24 and {r["unique_id"] for r in rows} == {"south"}
    assert rows[0]["ds"] == "2026-01-11T20:00:00" and rows[-1]["ds"] == "2026-01-12T19:00:00"
    downloaded = [float(r["mean"]) for r in rows]
    assert downloaded == [r["mean"] for r in answer["rows"]]

    scratch = artifacts / "snippets"  # the curl commands write rows.json where they run
    scratch.mkdir(exist_ok=True)
    curl = subprocess.run(["bash", "-c", page.locator("#curl").text_content() or ""], cwd=scratch,
                          capture_output=True, text=True, check=True, timeout=60)
    forecast, backtest, anomalies = (json.loads(line) for line in curl.stdout.splitlines())
    assert [r["mean"] for r in forecast["rows"]] == downloaded
    assert "metrics" in backtest and "anomalies" in anomalies
    python = subprocess.run([sys.executable, "-c", page.locator("#python").text_content() or ""], cwd=scratch,
                            capture_output=True, text=True, check=True, timeout=60)
    means = ast.literal_eval(python.stdout.splitlines()[0])
    assert means == pytest.approx(downloaded, rel=1e-6)  # float32 from Parquet, beside its shortest JSON text
    assert ast.literal_eval(python.stdout.splitlines()[1]) == pytest.approx(backtest["metrics"]["overall"])


def test_spikes_are_marked_as_anomalies(live_server: ServerProcess, open_page: OpenPage, artifacts: Path) -> None:
    """The built-in example has spikes at steps 150, 200 and 260 (hourly from 2025-03-01):
    the server's anomaly check flags them, and the page marks exactly what it flagged."""
    session = open_page(live_server)
    page = session.open()
    page.select_option("#example", "hourly-spikes")
    with page.expect_response("**/v1/anomalies?level=99*") as answer:
        session.forecast()
    flagged = [row["ds"] for row in answer.value.json()["rows"] if row["anomaly"]]
    note = page.locator("#anomaly-note").inner_text()
    assert note.startswith(f"{len(flagged)} of ")
    for spike in ("2025-03-07T06:00:00", "2025-03-09T08:00:00", "2025-03-11T20:00:00"):
        assert spike in flagged
        assert spike.replace("T", " ")[:16] in note, (spike, note)
    colours, _ = chart_palette(page)
    marked = ink(page, {"anomaly": opaque(colours["anomaly"])})["anomaly"]
    assert marked.count > 3 * 20, marked  # three rings at least
    page.screenshot(path=artifacts / "anomalies.png")
    assert session.console_errors == []


def _hover_time(page: Page, fraction: float) -> dict[str, str]:
    """Legend values with the cursor at ``fraction`` of the plot's width, halfway down."""
    page.locator("#chart").scroll_into_view_if_needed()
    box = page.locator("#chart .u-over").bounding_box()
    assert box is not None
    page.mouse.move(box["x"] + 1 + fraction * (box["width"] - 2), box["y"] + box["height"] / 2)
    rows = page.locator("#chart .u-legend .u-series")
    expect(rows.first.locator("td")).not_to_have_text("–")  # the legend follows on the next frame
    return {row.locator("th").inner_text().strip(): row.locator("td").inner_text().strip() for row in rows.all()}


def test_hover_shows_values_and_times_and_dragging_zooms(
    live_server: ServerProcess, open_page: OpenPage, artifacts: Path
) -> None:
    session = open_page(live_server, permissions=["clipboard-read", "clipboard-write"])
    page = session.open()
    page.select_option("#example", "hourly-spikes")  # 300 hourly values from 2025-03-01 00:00
    session.forecast()
    start = _hover_time(page, 0.0)
    assert start["Time"] == "2025-03-01"
    end = _hover_time(page, 1.0)
    assert end["Time"] == "2025-03-14 11:00"  # the last forecast step, 323 hours after the start
    last_row = page.locator("#forecast-table tbody tr").last.locator("td")
    assert [end["Time"], end["Forecast mean"]] == [last_row.nth(0).text_content(), last_row.nth(1).text_content()]
    box = page.locator("#chart .u-over").bounding_box()
    assert box is not None
    page.mouse.move(box["x"] + 0.5 * box["width"], box["y"] + 20)
    page.mouse.down()
    page.mouse.move(box["x"] + 0.9 * box["width"], box["y"] + 20, steps=5)
    page.mouse.up()
    zoomed = _hover_time(page, 0.0)["Time"]
    assert zoomed.startswith("2025-03-07"), zoomed  # the middle of the series is now the left edge
    page.screenshot(path=artifacts / "zoomed.png")
    page.dblclick("#chart .u-over")
    assert _hover_time(page, 0.0)["Time"] == "2025-03-01"
    page.click("#zoom-forecast")
    assert _hover_time(page, 0.0)["Time"] > "2025-03-09"

    page.click("summary:has-text('The same requests with curl')")
    page.click("button[data-copy='curl']")
    expect(page.locator("button[data-copy='curl']")).to_have_text("Copied")
    assert page.evaluate("navigator.clipboard.readText()") == page.locator("#curl").text_content()
    assert session.console_errors == []


@pytest.mark.parametrize(
    ("values", "screenshot"),
    [
        ("1, 2, 3", "error-too-short.png"),
        (", ".join(["1.5"] * 50 + ["abc"] + ["1.5"] * 60), "error-not-a-number.png"),
    ],
)
def test_bad_input_shows_the_servers_problem_details(
    live_server: ServerProcess, open_page: OpenPage, artifacts: Path, values: str, screenshot: str
) -> None:
    session = open_page(live_server)
    page = session.open()
    page.fill("#values", values)
    with page.expect_response("**/v1/forecast/rolling?*") as answer:
        session.forecast()
    problem = answer.value.json()
    assert answer.value.status == 422
    alert = page.get_by_role("alert")
    expect(alert).to_be_visible()
    expect(alert).to_contain_text(f"{problem['title']} (HTTP 422)")
    expect(alert).to_contain_text(problem["detail"])
    expect(alert).to_be_focused()  # and in view, however far down the form was submitted
    expect(page.locator("#result")).to_be_hidden()
    page.screenshot(path=artifacts / screenshot)
    # The only console error is Chromium's own note of the refused request.
    assert [m.group(1) if (m := HTTP_ERROR.match(e)) else e for e in session.console_errors] == ["422"]


def test_a_file_the_page_cannot_read_says_why(live_server: ServerProcess, open_page: OpenPage, tmp_path: Path) -> None:
    (tmp_path / "wide.csv").write_text("a,b,c\n1,2,3\n")
    session = open_page(live_server)
    page = session.open()
    page.set_input_files("#csv-file", tmp_path / "wide.csv")
    expect(page.get_by_role("alert")).to_contain_text(
        "wide.csv has the columns a, b, c; give one column of numbers, or the columns unique_id, ds, y"
    )
    assert session.console_errors == []


def test_a_backtest_the_server_refuses_leaves_the_forecast_and_says_why(
    live_server: ServerProcess, open_page: OpenPage
) -> None:
    """130 values forecast fine with the small model (window 100), but 3 backtest windows
    of 24 steps need more history: the forecast is drawn and the metrics say why not."""
    session = open_page(live_server)
    page = session.open()
    page.fill("#values", ", ".join(str(v) for v in make_series(130, seed=4)))
    with page.expect_response("**/v1/forecast/backtest?*") as refused:
        session.forecast()
    assert refused.value.status == 422
    expect(page.locator("#result")).to_be_visible()
    expect(page.locator("#problem")).to_be_hidden()
    expect(page.locator("#metrics caption")).to_have_text(f"No backtest: {refused.value.json()['detail']}")
    assert [m.group(1) if (m := HTTP_ERROR.match(e)) else e for e in session.console_errors] == ["422"]
