"""Headless Chromium from the system's packages, driven by Playwright, against a real
``rnncast serve`` on 127.0.0.1. Playwright never downloads a browser here: it launches
the executable that ``scripts/install-tools.sh browser`` installs (Debian's ``chromium``).

Every page records its console errors and any request to another origin (which the
test's router refuses, so nothing can leave the machine even if the page's CSP failed).
Screenshots go to ``test-artifacts/browser/`` (``RNNCAST_TEST_ARTIFACTS`` overrides).
"""

from __future__ import annotations

import importlib.util
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import pytest

from tests.server import ServerProcess

if TYPE_CHECKING:
    from playwright.sync_api import Browser, ConsoleMessage, Page, Route

# The default tier runs without the `browser` extra: these modules import Playwright,
# so they are not even collected there (`make test-browser` installs it first).
if importlib.util.find_spec("playwright") is None:
    collect_ignore_glob = ["test_*.py"]

REPO = Path(__file__).resolve().parents[2]
CHROMIUM = Path(os.environ.get("RNNCAST_CHROMIUM", "/usr/bin/chromium"))
LAUNCH_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]
DESKTOP = {"width": 1280, "height": 900}
WAIT_MS = 30_000


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    """One Chromium for the session (each test gets a fresh context: a fresh profile)."""
    from playwright import sync_api
    if not os.access(CHROMIUM, os.X_OK):
        pytest.skip(f"no Chromium at {CHROMIUM}: run scripts/install-tools.sh browser (or set RNNCAST_CHROMIUM)")
    # Generous waits: the machine running the tests may be busy (never a timing assertion).
    sync_api.expect.set_options(timeout=WAIT_MS)
    with sync_api.sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=LAUNCH_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture(scope="session")
def artifacts() -> Path:
    """Where screenshots and downloads of this run are kept."""
    root = Path(os.environ.get("RNNCAST_TEST_ARTIFACTS", REPO / "test-artifacts")) / "browser"
    root.mkdir(parents=True, exist_ok=True)
    return root


@dataclass
class PageSession:
    """An open page with what it logged and what it tried to fetch elsewhere."""

    page: Page
    origin: str
    console_errors: list[str] = field(default_factory=list)
    foreign_requests: list[str] = field(default_factory=list)

    def open(self) -> Page:
        """Load the forecast page and wait until the models are listed."""
        self.page.goto(self.origin + "/")
        self.page.wait_for_selector("#models[aria-busy='false'], #auth:not([hidden])")
        return self.page

    def forecast(self) -> None:
        """Submit the form and wait for the result or a problem."""
        self.page.click("#run")
        self.page.wait_for_selector("#run:not([disabled])")
        self.page.wait_for_selector("#result:not([hidden]) canvas, #problem:not([hidden])")


OpenPage = Callable[..., PageSession]


@pytest.fixture
def open_page(browser: Browser) -> Iterator[OpenPage]:
    """Factory: a fresh browser context on a server, recording errors and foreign requests."""
    contexts = []

    def make(server: ServerProcess, **context_options: Any) -> PageSession:
        context = browser.new_context(**({"viewport": DESKTOP} | context_options))
        contexts.append(context)
        context.set_default_timeout(WAIT_MS)
        session = PageSession(context.new_page(), server.url)

        def route(request: Route) -> None:
            url = request.request.url
            if url.startswith(("blob:", "data:")) or _origin(url) == server.url:
                request.continue_()
            else:
                session.foreign_requests.append(url)
                request.abort()

        def console(message: ConsoleMessage) -> None:
            if message.type == "error":
                session.console_errors.append(message.text)

        context.route("**/*", route)
        session.page.on("console", console)
        session.page.on("pageerror", lambda error: session.console_errors.append(f"uncaught: {error}"))
        return session

    yield make
    for context in contexts:
        context.close()


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"
