"""/docs and /redoc render in Chromium with every request outside the API refused (an air-gapped machine).

The browser is Debian's Chromium driven by playwright (scripts/install-wordpress-deps.sh installs both); every
request whose origin is not the API's is aborted, so a page that needed a CDN would stay blank.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.integration.wordpress_support import CHROMIUM, CHROMIUM_ARGS
from tests.support.service import REPO, Service, running_service

pytestmark = pytest.mark.skipif(not Path(CHROMIUM).exists() or shutil.which("chromium") is None,
                                reason="needs Debian's Chromium (scripts/install-wordpress-deps.sh)")
HANDLERS = REPO / "tests" / "acceptance" / "svc" / "handlers.py"


@pytest.fixture(scope="module")
def service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Service]:
    base = tmp_path_factory.mktemp("docs")
    with running_service(HANDLERS, {"PRAISONAI_DATA_DIR": str(base / "data")}, base / "logs", workers=0) as svc:
        yield svc


def _render(service: Service, path: str, selector: str, shot: Path | None = None) -> tuple[str, list[str], list[str]]:
    from playwright.sync_api import sync_playwright

    refused: list[str] = []
    violations: list[str] = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 900})

            def only_the_api(route, request) -> None:  # the network is cut off: only the API answers
                if request.url.startswith(service.url):
                    route.continue_()
                else:
                    refused.append(request.url)
                    route.abort()

            page.route("**/*", only_the_api)
            page.on("console", lambda message: violations.append(message.text)
                    if "Content Security Policy" in message.text else None)
            page.goto(service.url + path)
            page.wait_for_selector(selector, timeout=30_000)
            text = page.inner_text("body")
            if shot is not None:
                page.screenshot(path=str(shot))
        finally:
            browser.close()
    return text, refused, violations


def test_swagger_ui_renders_offline_under_a_self_only_csp(service, tmp_path):
    text, refused, violations = _render(service, "/docs", ".opblock-summary-path", tmp_path / "docs.png")
    assert "/jobs/{job_id}/outputs/{name}/download" in text and "/usage" in text
    assert refused == [] and violations == []
    assert (tmp_path / "docs.png").stat().st_size > 10_000


def test_redoc_renders_offline(service):
    text, refused, violations = _render(service, "/redoc", "h1")
    assert "Acceptance" in text and "Usage per tenant and service" in text
    assert refused == []
    # ReDoc's bundle links its "powered by" logo on its CDN; the CSP stops that before any request leaves.
    assert all("cdn.redoc.ly" in violation for violation in violations), violations
