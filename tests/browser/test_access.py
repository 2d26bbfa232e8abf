"""The forecast page for everyone: the keyboard alone reaches and works every control,
every control has an accessible name, it fits a phone's width, and it asks for the
API key when the server wants one (keeping it in the tab's session only)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from tests.browser.conftest import OpenPage, PageSession
from tests.server import ServerProcess, run_server

pytestmark = pytest.mark.browser

# Everything a person can operate, once visible and enabled.
CONTROLS = "a[href], button, input, select, textarea, summary, [tabindex]:not([tabindex='-1'])"
_MARK_CONTROLS = """(selector) => {
  const usable = [...document.querySelectorAll(selector)].filter((e) => e.getClientRects().length > 0 && !e.disabled);
  usable.forEach((e, i) => { e.dataset.control = String(i); });
  return usable.map((e) => e.id || e.textContent.trim().slice(0, 40));
}"""
_FOCUSED = """() => {
  const e = document.activeElement;
  return { control: e.dataset.control ?? null, outline: getComputedStyle(e).outlineStyle };
}"""


def _tab_to(page: Page, selector: str, limit: int = 80) -> None:
    """Press Tab until ``selector`` has the focus."""
    for _ in range(limit):
        page.keyboard.press("Tab")
        if page.evaluate("(s) => document.activeElement.matches(s)", selector):
            return
    raise AssertionError(f"Tab never reached {selector}")


def _forecast_by_keyboard(session: PageSession) -> Page:
    page = session.open()
    _tab_to(page, "#example")
    page.keyboard.press("ArrowDown")  # the first built-in example
    expect(page.locator("#values")).not_to_be_empty()
    _tab_to(page, "#run")
    page.keyboard.press("Enter")
    expect(page.locator("#result")).to_be_visible()
    expect(page.locator("#chart canvas")).to_be_visible()
    return page


def test_the_keyboard_reaches_every_control(live_server: ServerProcess, open_page: OpenPage, artifacts: Path) -> None:
    session = open_page(live_server)
    page = _forecast_by_keyboard(session)
    page.evaluate("() => document.querySelectorAll('details').forEach((d) => { d.open = true; })")
    names = page.evaluate(_MARK_CONTROLS, CONTROLS)
    page.evaluate("() => document.activeElement.blur()")
    reached: dict[str, str] = {}
    for _ in range(3 * len(names)):
        page.keyboard.press("Tab")
        focused = page.evaluate(_FOCUSED)
        if focused["control"] is not None:
            reached[focused["control"]] = focused["outline"]
        if focused["control"] == "4":
            page.screenshot(path=artifacts / "keyboard.png")
    missed = [name for i, name in enumerate(names) if str(i) not in reached]
    assert missed == [], f"Tab never reaches {missed}"
    assert set(reached.values()) == {"solid"}, "every focused control shows a focus ring"
    # Legend entries are operable too: Enter hides and shows a series.
    legend = page.get_by_role("button", name=re.compile("^Forecast mean"))
    legend.focus()
    page.keyboard.press("Enter")
    expect(legend).to_have_attribute("aria-pressed", "false")
    page.keyboard.press("Enter")
    expect(legend).to_have_attribute("aria-pressed", "true")
    assert session.console_errors == []


def test_every_control_has_an_accessible_name(live_server: ServerProcess, open_page: OpenPage) -> None:
    session = open_page(live_server)
    page = _forecast_by_keyboard(session)
    page.evaluate("() => document.querySelectorAll('details').forEach((d) => { d.open = true; })")
    controls = page.locator(CONTROLS)
    assert controls.count() > 30
    for control in controls.all():
        if control.is_visible():
            expect(control).to_have_accessible_name(re.compile(r"\w"))
    chart = page.get_by_role("img", name=re.compile(r"^Chart: \d+ values of noisy-sine, forecast 24 steps ahead"))
    expect(chart).to_be_visible()
    expect(page.get_by_role("table", name=re.compile("^Backtest"))).to_be_visible()
    for heading in ("Models", "Forecast a series", "Forecast"):
        expect(page.get_by_role("heading", name=heading, exact=True)).to_be_visible()


def test_the_page_fits_a_phone(live_server: ServerProcess, open_page: OpenPage, artifacts: Path) -> None:
    session = open_page(live_server, viewport={"width": 390, "height": 844}, device_scale_factor=2,
                        is_mobile=True, has_touch=True)
    page = session.open()
    page.select_option("#example", "hourly-spikes")
    session.forecast()
    expect(page.locator("#result")).to_be_visible()
    assert page.evaluate("() => document.documentElement.scrollWidth") <= 390, "the page scrolls sideways"
    box = page.locator("#chart canvas").bounding_box()
    assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= 390
    page.screenshot(path=artifacts / "phone.png", full_page=True)
    assert session.console_errors == []


def test_the_page_asks_for_the_api_key_and_keeps_it_in_the_tab(
    model_dir: Path, tmp_path: Path, open_page: OpenPage, artifacts: Path
) -> None:
    with run_server(model_dir, tmp_path, env={"RNNCAST_API_KEYS": "right-key"}) as server:
        session = open_page(server)
        page = session.open()
        expect(page.get_by_role("heading", name="API key")).to_be_visible()
        page.get_by_role("textbox", name="API key").fill("wrong-key")
        page.get_by_role("button", name="Use this key").click()
        expect(page.get_by_role("alert")).to_contain_text("Unauthorized (HTTP 401)")
        expect(page.get_by_role("alert")).to_contain_text("send a valid API key as 'Authorization: Bearer <key>'")
        page.screenshot(path=artifacts / "api-key.png")

        page.get_by_role("textbox", name="API key").fill("right-key")
        page.get_by_role("button", name="Use this key").click()
        expect(page.locator("article.model h3")).to_have_text("default ready")
        expect(page.locator("#auth")).to_be_hidden()
        page.select_option("#example", "noisy-sine")
        session.forecast()
        expect(page.locator("#result")).to_be_visible()
        assert 'Authorization: Bearer $RNNCAST_API_KEY' in (page.locator("#curl").text_content() or "")
        assert "right-key" not in page.content()
        storage = page.evaluate("() => [JSON.stringify(sessionStorage), JSON.stringify(localStorage), document.cookie]")
        assert storage == ['{"rnncast.apiKey":"right-key"}', "{}", ""]

        # Another tab of the same browser has its own session: the key is asked for again.
        other = page.context.new_page()
        other.goto(server.url + "/")
        expect(other.get_by_role("heading", name="API key")).to_be_visible()
        assert [e for e in session.console_errors if "401" not in e] == []
