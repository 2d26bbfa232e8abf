"""The forecast page at / : served from the package, same-origin only, vendored assets
as recorded, and the model plots it shows. The page's behaviour in a real browser is
tested in tests/browser/."""

from __future__ import annotations

import hashlib
import re
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from prometheus_client import REGISTRY

from app.api.page import CONTENT_SECURITY_POLICY
from app.config import Settings
from app.main import create_app

STATIC = Path(__file__).resolve().parents[2] / "app" / "api" / "static"
_ASSET = re.compile(r'(?:src|href)="([^"#]+)"')
_IMPORT = re.compile(r'from "\./([\w-]+\.js)";')


def test_page_is_served_at_the_root_with_a_same_origin_policy(client: TestClient) -> None:
    response = client.get("/")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    policy = dict(d.strip().split(" ", 1) for d in response.headers["content-security-policy"].split(";"))
    assert policy["default-src"] == "'none'"
    for directive in ("script-src", "style-src", "connect-src", "font-src"):
        assert policy[directive] == "'self'", directive
    assert policy["img-src"] == "'self' blob:"
    assert policy["frame-ancestors"] == "'none'"
    assert response.headers["x-content-type-options"] == "nosniff"


def test_every_asset_the_page_names_is_served_locally(client: TestClient) -> None:
    html = client.get("/").text
    assert "http://" not in html and "https://" not in html
    assert "<style" not in html and " style=" not in html  # CSP: no inline styles
    assert not re.search(r"<script(?![^>]*\bsrc=)", html)  # CSP: no inline scripts
    urls = set(_ASSET.findall(html)) - {"docs"}
    modules = {"static/js/main.js"}
    while modules:  # follow the module graph, as the browser does
        url = modules.pop()
        urls.add(url)
        modules |= {f"static/js/{name}" for name in _IMPORT.findall(client.get("/" + url).text)} - urls
    assert {"static/vendor/uPlot.iife.min.js", "static/vendor/uPlot.min.css", "static/page.css"} <= urls
    for url in urls:
        asset = client.get("/" + url)
        assert asset.status_code == 200, url
        assert asset.headers["content-security-policy"] == CONTENT_SECURITY_POLICY
        assert "http://" not in asset.text.replace("http://www.w3.org/2000/svg", ""), url
    assert urls >= {f"static/js/{p.name}" for p in (STATIC / "js").glob("*.js")}, "a module the page never loads"


def test_docs_keep_their_own_assets_and_no_page_policy(client: TestClient) -> None:
    docs = client.get("/docs")
    assert docs.status_code == 200
    assert "content-security-policy" not in docs.headers  # Swagger UI starts from an inline script
    assert client.get("/docs-assets/swagger-ui-bundle.js").status_code == 200


def test_vendored_files_match_their_recorded_hashes() -> None:
    readme = (STATIC / "vendor" / "README.md").read_text()
    recorded = dict(re.findall(r"^\| `([^`]+)` \| `[^`]+` \| `([0-9a-f]{64})` \|$", readme, flags=re.M))
    on_disk = {p.name for p in (STATIC / "vendor").iterdir()} - {"README.md"}
    assert set(recorded) == on_disk
    for name, sha256 in recorded.items():
        assert hashlib.sha256((STATIC / "vendor" / name).read_bytes()).hexdigest() == sha256, name
    assert re.search(r"^\| uplot \| 1\.6\.32 \| MIT", readme, flags=re.M)
    assert "MIT License" in (STATIC / "vendor" / "uPlot.LICENSE").read_text()
    header = (STATIC / "vendor" / "uPlot.iife.min.js").read_text()[:80]
    assert "(v1.6.32)" in header


def test_models_list_their_training_plots_and_serve_them(client: TestClient) -> None:
    model = client.get("/v1/models/default").json()
    assert model["plots"] == ["loss.png", "test.png"]
    plot = client.get("/v1/models/default/plots/loss.png")
    assert plot.status_code == 200
    assert plot.headers["content-type"] == "image/png"
    assert plot.content.startswith(b"\x89PNG")


@pytest.mark.parametrize("plot", ["model.pt", "metrics.json", "..%2Fdefault%2Floss.png", "nope.png"])
def test_only_listed_plots_are_served(client: TestClient, plot: str) -> None:
    response = client.get(f"/v1/models/default/plots/{plot}")
    assert response.status_code == 404
    assert response.headers["content-type"] == "application/problem+json"
    body = response.json()
    assert body["title"] in {"Plot not found", "Not found"}
    if body["title"] == "Plot not found":
        assert body["detail"].endswith("it has: loss.png, test.png")


def test_plots_need_the_api_key_like_the_models(model_dir: Path) -> None:
    settings = Settings(model_dir=model_dir, device="cpu", api_keys=["k1"], _env_file=None)  # type: ignore[call-arg]
    with TestClient(create_app(settings)) as client:
        assert client.get("/v1/models/default/plots/loss.png").status_code == 401
        assert client.get("/v1/models/default/plots/loss.png", headers={"Authorization": "Bearer k1"}).status_code == 200
        assert client.get("/").status_code == 200  # the page itself is public: it asks for the key


def test_the_wheel_ships_the_page(tmp_path: Path) -> None:
    """What `pip install .` and the image get: every file of the page is in the wheel."""
    root = STATIC.parents[2]
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", str(tmp_path), str(root)],
        check=True,
    )
    [wheel] = tmp_path.glob("rnncast-*.whl")
    shipped = set(zipfile.ZipFile(wheel).namelist())
    expected = {f"app/api/static/{p.relative_to(STATIC).as_posix()}" for p in STATIC.rglob("*") if p.is_file()}
    assert expected <= shipped


def test_static_files_are_counted_under_their_mount(client: TestClient) -> None:
    """Files under a mount share one bounded label, found or not; only paths that no
    route or mount serves are "unmatched"."""
    def count(route: str, status: str) -> float:
        labels = {"route": route, "method": "GET", "status": status}
        return REGISTRY.get_sample_value("rnncast_requests_total", labels) or 0.0

    before = {key: count(*key) for key in [("/static/{path}", "200"), ("/static/{path}", "404"),
                                           ("/docs-assets/{path}", "200"), ("unmatched", "404")]}
    for path in ("/static/page.css", "/static/js/main.js", "/static/no-such.js", "/docs-assets/swagger-ui.css",
                 "/no-such-page"):
        client.get(path)
    assert {key: count(*key) - seen for key, seen in before.items()} == {
        ("/static/{path}", "200"): 2, ("/static/{path}", "404"): 1, ("/docs-assets/{path}", "200"): 1,
        ("unmatched", "404"): 1,
    }
