"""The page's own computations, run in the browser and compared with the server's:
history timestamps, frequency inference, CSV reading, and the rows it sends."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime

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


def test_rows_and_positions_round_trip_through_the_servers_times(page: Page) -> None:
    """The rows the page sends carry each value's time as the server reads it, and the
    page finds the server's `ds` text (dates, date-times) back at those positions."""
    found = page.evaluate("""async () => {
        const a = await import('./static/js/analysis.js');
        const c = await import('./static/js/calendar.js');
        const daily = { id: 'd', values: [1, 2, 3], times: c.stepTimes('2024-02-28', 'D', 3) };
        const hourly = { id: 'h', values: [1, 2], times: c.stepTimes('2024-02-28T23:00', 'H', 2) };
        const plain = { id: 'p', values: [5, 6], times: null };
        const at = [a.positionOf(daily), a.positionOf(hourly), a.positionOf(plain)];
        return {
            rows: [a.seriesRows(daily), a.seriesRows(plain)],
            positions: [at[0]('2024-03-01'), at[0]('2024-03-02'), at[1]('2024-02-29T00:00:00'), at[2](1)],
            query: a.queryString({ horizon: 24, level: [80, 95], model: '', seed: 0 }),
        };
    }""")
    assert found["rows"] == [
        [{"unique_id": "d", "ds": f"2024-{day}T00:00:00", "y": y} for day, y in (("02-28", 1), ("02-29", 2), ("03-01", 3))],
        [{"unique_id": "p", "ds": 0, "y": 5}, {"unique_id": "p", "ds": 1, "y": 6}],
    ]
    assert found["positions"] == [2, None, 1, 1]  # undefined (a time the history lacks) arrives as None
    assert found["query"] == "horizon=24&level=80,95&seed=0"
