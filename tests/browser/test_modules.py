"""The page's own computations, run in the browser and compared with the server's
and numpy's: history timestamps, frequency inference, CSV reading and the scores."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime

import numpy as np
import pytest
from playwright.sync_api import Browser, Page

from app.runtime.calendar import step_times
from tests.server import ServerProcess

pytestmark = pytest.mark.browser

CODES = ["S", "15min", "H", "D", "W", "2W", "MS", "ME", "QS", "QE", "YS", "YE", "3MS"]
STARTS = ["2024-01-31", "2024-02-29T06:30:00", "2023-11-01"]


@pytest.fixture(scope="module")
def page(live_server: ServerProcess, browser: Browser) -> Iterator[Page]:
    """The loaded page, to import its modules from."""
    context = browser.new_context()
    loaded = context.new_page()
    loaded.goto(live_server.url + "/")
    yield loaded
    context.close()


def _call(page: Page, module: str, function: str, *args: object) -> object:
    return page.evaluate(
        "async ([module, name, args]) => (await import(`./static/js/${module}.js`))[name](...args)",
        [module, function, list(args)],
    )


@pytest.mark.parametrize("start", STARTS)
def test_history_timestamps_agree_with_the_servers_calendar(page: Page, start: str) -> None:
    for code in CODES:
        times = page.evaluate(
            "async ([s, f]) => (await import('./static/js/calendar.js')).stepTimes(s, f, 30).map((t) => t.toISOString().slice(0, 19))",
            [start, code],
        )
        assert times == step_times(datetime.fromisoformat(start), code, 0, 30), code


def test_frequency_inference_names_each_code(page: Page) -> None:
    for code in CODES:  # from February, so that 3MS is not also QS
        inferred = page.evaluate(
            "async ([s, f]) => { const c = await import('./static/js/calendar.js'); return c.inferFreq(c.stepTimes(s, f, 12)); }",
            ["2024-02-01", code],
        )
        assert inferred == code
    irregular = page.evaluate(
        "async () => (await import('./static/js/calendar.js')).inferFreq(['2024-01-01', '2024-01-02', '2024-01-04'].map((d) => new Date(d)))"
    )
    assert irregular is None


def test_csv_reading_follows_rfc_4180_and_the_long_format(page: Page) -> None:
    rows = _call(page, "series", "parseCsv", 'a,"b,c","d ""e"""\r\n\r\n1,2,3\n')
    assert rows == [["a", "b,c", 'd "e"'], ["1", "2", "3"]]
    one = _call(page, "series", "seriesFromCsv", "sales\n1\n2.5\nx\n", "one.csv")
    assert one == [{"id": "sales", "values": [1, 2.5, "x"], "start": "", "freq": ""}]
    long = _call(page, "series", "seriesFromCsv", "ds,y\n2024-03-01,2\n2024-01-01,1\n2024-02-01,1.5\n", "long.csv")
    assert long == [{"id": "series", "values": [1, 1.5, 2], "start": "2024-01-01", "freq": "MS",
                     "labels": ["2024-01-01", "2024-02-01", "2024-03-01"]}]


def test_scores_agree_with_numpy(page: Page) -> None:
    rng = np.random.default_rng(3)
    actual, forecast = rng.normal(5, 1, 50), rng.normal(5, 1, 50)
    history = rng.normal(5, 1, 80)
    lower, upper = forecast - 1, forecast + 1
    a, f = actual.tolist(), forecast.tolist()
    assert _call(page, "metrics", "mae", a, f) == pytest.approx(np.mean(np.abs(actual - forecast)))
    assert _call(page, "metrics", "rmse", a, f) == pytest.approx(np.sqrt(np.mean((actual - forecast) ** 2)))
    smape = 100 * np.mean(2 * np.abs(actual - forecast) / (np.abs(actual) + np.abs(forecast)))
    assert _call(page, "metrics", "smape", a, f) == pytest.approx(smape)
    assert _call(page, "metrics", "naiveScale", history.tolist(), 7) == pytest.approx(np.mean(np.abs(history[7:] - history[:-7])))
    inside = np.mean((actual >= lower) & (actual <= upper))
    assert _call(page, "metrics", "coverage", a, lower.tolist(), upper.tolist()) == pytest.approx(inside)
    for q in (0.005, 0.1, 0.5, 0.995):
        assert _call(page, "metrics", "quantile", a, q) == pytest.approx(np.quantile(actual, q))
