"""The forecast page at ``/``: static files shipped in the package, under a strict CSP.

The page (``app/api/static/``) is plain HTML, CSS and JavaScript modules with its
charting library vendored beside it (``static/vendor/README.md``): nothing is built at
install time and nothing is loaded from another origin. It talks to the same /v1 API
as every other client, so it adds no server-side logic of its own.
"""

from __future__ import annotations

import os

from fastapi import FastAPI
from starlette.responses import FileResponse, Response
from starlette.staticfiles import PathLike, StaticFiles
from starlette.types import Scope

STATIC_URL = "/static"
STATIC_PACKAGE = ("app.api", "static")

# Same origin only: no CDN, no web fonts, no inline script or style, no framing.
# blob: images are the training plots, fetched with the API key and shown from memory.
CONTENT_SECURITY_POLICY = "; ".join([
    "default-src 'none'",
    "script-src 'self'",
    "style-src 'self'",
    "img-src 'self' blob:",
    "connect-src 'self'",
    "font-src 'self'",
    "base-uri 'none'",
    "form-action 'none'",
    "frame-ancestors 'none'",
])
HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    # Revalidate on every load (a 304 while unchanged): a new version's page never
    # runs with the previous version's cached modules.
    "Cache-Control": "no-cache",
}


class PageFiles(StaticFiles):
    """The page's static files, each answered with the page's security headers."""

    def file_response(
        self, full_path: PathLike, stat_result: os.stat_result, scope: Scope, status_code: int = 200
    ) -> Response:
        response = super().file_response(full_path, stat_result, scope, status_code)
        response.headers.update(HEADERS)
        return response


def install_page(app: FastAPI) -> None:
    """Serve the forecast page at ``/`` and its assets under ``/static``."""
    files = PageFiles(packages=[STATIC_PACKAGE])
    app.mount(STATIC_URL, files, name="page-static")
    index = os.path.join(files.all_directories[0], "index.html")

    @app.get("/", include_in_schema=False)
    async def forecast_page() -> FileResponse:
        return FileResponse(index, media_type="text/html", headers=HEADERS)
