"""The forecast page's weight and load time on loopback, read from the browser's own
performance timing (Navigation and Resource Timing), never asserted in a test.

    .venv/bin/python -m bench.page_load --runs 10     # writes bench/PAGE.md

Needs the `browser` extra and Chromium (`make test-browser` installs both). Serves the
shipped models/ with `rnncast serve` pinned to core 0, as the load benchmark does; each
cold run opens a fresh browser context (empty cache), each warm run reloads in it.
"""

from __future__ import annotations

import argparse
import datetime
import platform
import statistics
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from playwright.sync_api import Browser, Page, sync_playwright

from app.artifact import read_metadata
from bench.paths import default_paths
from bench.procs import serving
from bench.targets import rnncast

CHROMIUM = "/usr/bin/chromium"
LAUNCH_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]
OUTPUT = Path(__file__).resolve().parent / "PAGE.md"

# Everything the page fetched, split into its own files and API answers, and the
# moments (ms after navigation start) that a person notices.
_TIMING = """() => {
  const nav = performance.getEntriesByType("navigation")[0];
  const entries = [nav, ...performance.getEntriesByType("resource")];
  const api = (e) => /\\/(v1|health)\\//.test(new URL(e.name).pathname);
  const sum = (list, key) => list.reduce((total, e) => total + e[key], 0);
  const page = entries.filter((e) => !api(e));
  return {
    files: page.length, transfer: sum(page, "transferSize"), body: sum(page, "encodedBodySize"),
    api_transfer: sum(entries.filter(api), "transferSize"),
    dom_ready: nav.domContentLoadedEventEnd, load: nav.loadEventEnd, models_shown: performance.now(),
  };
}"""


@dataclass(frozen=True)
class Load:
    """One page load as the browser measured it."""

    files: int
    transfer: int
    body: int
    api_transfer: int
    dom_ready: float
    load: float
    models_shown: float


def _load(page: Page, url: str, reload: bool) -> Load:
    if reload:
        page.reload()
    else:
        page.goto(url)
    page.wait_for_selector("#models[aria-busy='false']")
    page.wait_for_function("performance.getEntriesByType('navigation')[0].loadEventEnd > 0")
    timing: dict[str, Any] = page.evaluate(_TIMING)
    return Load(**timing)


def _forecast_ms(page: Page) -> float:
    """From pressing Forecast to the drawn chart (three requests and the drawing)."""
    page.select_option("#example", "noisy-sine")
    started = page.evaluate("performance.now()")
    page.click("#run")
    page.wait_for_selector("#result:not([hidden]) canvas")
    page.wait_for_selector("#run:not([disabled])")
    return float(page.evaluate("performance.now()")) - float(started)


def measure(browser: Browser, url: str, runs: int) -> tuple[list[Load], list[Load], list[float]]:
    """Cold loads (fresh context), warm reloads (cached, revalidated) and forecast times."""
    cold, warm, forecast = [], [], []
    for _ in range(runs):
        context = browser.new_context(viewport={"width": 1280, "height": 900})
        page = context.new_page()
        cold.append(_load(page, url, reload=False))
        warm.append(_load(page, url, reload=True))
        forecast.append(_forecast_ms(page))
        context.close()
    return cold, warm, forecast


def _row(name: str, values: list[float], unit: str) -> str:
    ordered = sorted(values)
    p90 = ordered[min(len(ordered) - 1, round(0.9 * (len(ordered) - 1)))]
    return f"| {name} | {statistics.median(values):,.1f} {unit} | {p90:,.1f} {unit} |"


def report(cold: list[Load], warm: list[Load], forecast: list[float], runs: int, browser_version: str) -> str:
    """The Markdown written to bench/PAGE.md."""
    first = cold[0]
    return "\n".join([
        "# The forecast page on loopback",
        "",
        f"`.venv/bin/python -m bench.page_load --runs {runs}` on {datetime.date.today().isoformat()}: "
        f"Chromium {browser_version} (headless, Debian's package) driven by Playwright, `rnncast serve` "
        f"with the shipped models/ pinned to core 0, {platform.machine()}, Python {platform.python_version()}.",
        "Figures are the browser's own Navigation and Resource Timing. A cold load has an empty cache; "
        "a warm load is a reload, which revalidates every file (`Cache-Control: no-cache`, answered 304). "
        "The machine may be shared with other work while this runs: the times are indicative.",
        "",
        f"- Page files: {first.files} (HTML, two style sheets, the uPlot bundle, the page's modules, its icon); "
        f"{first.body / 1024:.1f} KiB of bodies, {first.transfer / 1024:.1f} KiB transferred with headers, "
        "uncompressed (the server does not gzip).",
        f"- API answers on load (`/health/ready`, `/v1/models` with each model's metadata): "
        f"{first.api_transfer / 1024:.1f} KiB.",
        f"- Warm reload transfers {statistics.median(w.transfer for w in warm) / 1024:.1f} KiB of page files (304s).",
        "",
        "| moment (ms after navigation start) | median | p90 |",
        "|---|---|---|",
        _row("cold: DOMContentLoaded", [c.dom_ready for c in cold], "ms"),
        _row("cold: load event", [c.load for c in cold], "ms"),
        _row("cold: models listed", [c.models_shown for c in cold], "ms"),
        _row("warm: load event", [w.load for w in warm], "ms"),
        _row("warm: models listed", [w.models_shown for w in warm], "ms"),
        _row("Forecast pressed -> chart drawn (example, 400 values, 24 steps, 3 backtests, anomaly check)",
             forecast, "ms"),
        "",
    ])


def main(argv: list[str] | None = None) -> None:
    """Measure and write bench/PAGE.md."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=10)
    args = parser.parse_args(argv)
    paths = default_paths()
    window = read_metadata(paths.default_model).window  # the shipped model's own
    spec = rnncast(paths, model_dir=paths.default_models, model_path=paths.default_model, window=window)
    with serving(spec, paths.logs), sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=LAUNCH_ARGS)
        cold, warm, forecast = measure(browser, f"http://127.0.0.1:{spec.port}/", args.runs)
        text = report(cold, warm, forecast, args.runs, browser.version)
        browser.close()
    OUTPUT.write_text(text)
    print(text)


if __name__ == "__main__":
    main()
