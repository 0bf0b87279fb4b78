"""The WordPress plugin end to end: a real WordPress (Debian's package, served by `php -S`) on a fresh MariaDB
database, the plugin installed from the zip that integrations/wordpress/build.sh builds, a running praisonai-svc PPT
service with an API key, and headless Chromium (Debian's, driven by Python playwright) playing the administrator,
a subscriber and an anonymous visitor.

The tests form one scenario and run in file order, sharing the site: install → configure → generate a deck → fail
a job → privacy and access → history → limits → direct mode → claiming another user's job → one visitor spamming
the site → nothing secret reached a browser → uninstall.
Screenshots of every widget state are taken; PRAISONAI_UPDATE_SCREENSHOTS=1 writes them to docs/img/ for
docs/wordpress.md.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import re
import secrets
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import jwt
import pytest

from tests.integration.wordpress_support import (
    CHROMIUM,
    CHROMIUM_ARGS,
    CLIENT_IP_HEADER,
    PLUGIN_SRC,
    PPT_SAMPLE,
    REPO,
    PraisonService,
    WordPress,
    build_plugin_zip,
    create_page,
    database_exists,
    fresh_database,
    har_texts,
    install_dependencies,
    running_ppt_service,
    running_wordpress,
)
from tests.support.service import running_service

pytestmark = [pytest.mark.wordpress, pytest.mark.timeout(900)]

DOCS_IMG = REPO / "docs" / "img"
SCRATCH_IMG = Path(tempfile.gettempdir()) / "praisonai-wordpress-screenshots"
LIVE_HANDLERS = REPO / "tests" / "acceptance" / "svc" / "live_handlers.py"
PASSWORDS = {name: secrets.token_urlsafe(12) for name in ("admin", "alice", "bob", "carol")}
USERS = {"admin": ("administrator", PASSWORDS["admin"]), "alice": ("subscriber", PASSWORDS["alice"]),
         "bob": ("subscriber", PASSWORDS["bob"]), "carol": ("subscriber", PASSWORDS["carol"])}
JWT_SECRET = secrets.token_hex(32)
WIDGET = ".praisonai-chatbot"
LAST_JOB = ".praisonai-chatbot__job >> nth=-1"
VIEWPORT = {"width": 1100, "height": 900}


@dataclass
class Scenario:
    """What the steps share: the site, the service, the browser and what earlier steps produced."""

    wp: WordPress
    service: PraisonService
    browser: Any
    work: Path
    zip_path: Path
    chat_url: str = ""
    contexts: dict[str, Any] = field(default_factory=dict)
    pages: dict[str, Any] = field(default_factory=dict)
    hars: dict[str, Path] = field(default_factory=dict)
    html_seen: list[tuple[str, str]] = field(default_factory=list)
    jobs: dict[str, str] = field(default_factory=dict)
    page_errors: list[str] = field(default_factory=list)

    def context(self, name: str, ip: str | None = None) -> Any:
        """A browser context per person; the visitors' traffic is recorded (HAR with bodies) for the key check.
        With ``ip`` the person browses from that address (see CLIENT_IP_HEADER)."""
        if name not in self.contexts:
            options: dict[str, Any] = {"viewport": VIEWPORT, "accept_downloads": True}
            if name != "admin":
                self.hars[name] = self.work / f"{name}.har"
                options.update(record_har_path=str(self.hars[name]), record_har_content="embed")
            if ip is not None:
                options["extra_http_headers"] = {CLIENT_IP_HEADER: ip}
            self.contexts[name] = self.browser.new_context(**options)
        return self.contexts[name]

    def page(self, name: str, user: str | None = None, ip: str | None = None) -> Any:
        """The page of one person (a browser of its own); logged in as ``user`` (default: the user ``name``)."""
        if name not in self.pages:
            page = self.context(name, ip).new_page()
            page.set_default_timeout(30_000)
            page.on("pageerror", lambda exc, who=name: self.page_errors.append(f"{who}: {exc}"))
            login_as = user or (name if name in USERS else None)
            if login_as is not None:
                login(page, self.wp, login_as)
            self.pages[name] = page
        return self.pages[name]

    def remember_html(self, name: str, page: Any) -> None:
        self.html_seen.append((f"{name} {page.url}", page.content()))


def login(page: Any, wp: WordPress, user: str) -> None:
    page.goto(f"{wp.url}/wp-login.php")
    page.fill("#user_login", user)
    page.fill("#user_pass", PASSWORDS[user])
    page.click("#wp-submit")
    page.wait_for_url(lambda url: "wp-login.php" not in url)


def shot(locator: Any, name: str) -> None:
    """Screenshot a widget state: into docs/img/ with PRAISONAI_UPDATE_SCREENSHOTS=1 (to refresh the docs), else
    into a scratch directory, so that a test run leaves the checkout clean."""
    target = DOCS_IMG if os.environ.get("PRAISONAI_UPDATE_SCREENSHOTS") == "1" else SCRATCH_IMG
    target.mkdir(parents=True, exist_ok=True)
    locator.screenshot(path=str(target / f"wordpress-{name}.png"), animations="disabled")


def assert_pptx(path: Path, slides: int | None = None) -> None:
    from pptx import Presentation

    deck = Presentation(str(path))
    assert len(deck.slides) > 0
    if slides is not None:
        assert len(deck.slides) == slides


def rest_fetch(page: Any, method: str, route: str, body: Any = None) -> dict[str, Any]:
    """Call the plugin's REST API from inside the page, with the page's own wp_rest nonce."""
    return page.evaluate(  # type: ignore[no-any-return]
        """async ([method, route, body]) => {
            const cfg = window.praisonaiChatbot;
            const init = {method, credentials: 'same-origin', headers: {'X-WP-Nonce': cfg.nonce}};
            if (body !== null) { init.headers['Content-Type'] = 'application/json'; init.body = JSON.stringify(body); }
            const response = await fetch(cfg.restRoot + route, init);
            return {status: response.status, retryAfter: response.headers.get('Retry-After'),
                    body: await response.json()};
        }""",
        [method, route, body],
    )


def job_rows(wp: WordPress) -> list[dict[str, Any]]:
    return wp.php(  # type: ignore[no-any-return]
        "global $wpdb; echo wp_json_encode( $wpdb->get_results( \"SELECT job_id, user_id, visitor, service, "
        "status, error_msg, filename FROM {$wpdb->prefix}praisonai_chatbot_jobs ORDER BY id\" ) );"
    )


@pytest.fixture(scope="module")
def scenario(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Scenario]:
    install_dependencies()
    from playwright.sync_api import sync_playwright

    work = tmp_path_factory.mktemp("wordpress-e2e")
    with ExitStack() as stack:
        db = stack.enter_context(fresh_database())
        service = stack.enter_context(running_ppt_service(work / "service", jwt_secret=JWT_SECRET))
        wp = stack.enter_context(running_wordpress(work / "wordpress", db, USERS))
        zip_path = build_plugin_zip(work / "dist")
        playwright = stack.enter_context(sync_playwright())
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        stack.callback(browser.close)
        state = Scenario(wp=wp, service=service, browser=browser, work=work, zip_path=zip_path)
        stack.callback(lambda: [ctx.close() for ctx in state.contexts.values()])
        state.chat_url = create_page(wp, "Deck maker", '[praisonai_chatbot service="ppt" title="Make a slide deck"]'
                                     "\n\n[praisonai_chatbot_history]")
        yield state
    assert not database_exists(db.name), "the test database was not dropped"


def test_php_jwt_is_standard_hs256(tmp_path: Path) -> None:
    """The plugin's ~20-line HS256 signer produces tokens any JWT library verifies (checked here by hand)."""
    install_dependencies()
    script = tmp_path / "jwt.php"
    script.write_text(
        "<?php define( 'PRAISONAI_CHATBOT_STANDALONE', true );\n"
        f"require '{PLUGIN_SRC / 'includes' / 'class-praisonai-chatbot-jwt.php'}';\n"
        "$claims = PraisonAI_Chatbot_JWT::claims( 'https://site.example', '42', 300, 1700000000 );\n"
        "$token = PraisonAI_Chatbot_JWT::encode( $claims, 'top-secret-top-secret-top-secret' );\n"
        "echo json_encode( array( 'token' => $token,\n"
        "  'roundtrip' => PraisonAI_Chatbot_JWT::decode( $token, 'top-secret-top-secret-top-secret', 1700000100 ),\n"
        "  'expired' => PraisonAI_Chatbot_JWT::decode( $token, 'top-secret-top-secret-top-secret', 1700000300 ),\n"
        "  'wrong_key' => PraisonAI_Chatbot_JWT::decode( $token, 'another-secret', 1700000100 ) ) );\n"
    )
    out = json.loads(subprocess.run(["php", str(script)], check=True, capture_output=True, text=True).stdout)
    claims = verify_hs256(out["token"], "top-secret-top-secret-top-secret")
    assert claims["iss"] == "https://site.example"
    assert claims["aud"] == "praisonai-svc"
    assert claims["sub"] == "42"
    assert claims["exp"] - claims["iat"] == 300
    assert out["roundtrip"] == claims
    assert out["expired"] is None
    assert out["wrong_key"] is None


def test_php_verifies_the_services_receipts(tmp_path: Path) -> None:
    """The plugin's receipt check accepts what praisonai_svc.security.receipts issues, and nothing else."""
    from praisonai_svc.security.receipts import ReceiptSigner

    install_dependencies()
    secret = "receipt-secret-" + "r" * 40
    now = 1_700_000_000
    signer = ReceiptSigner.from_secret(secret)
    good = signer.issue(job_id="ab" * 16, service="ppt", subject="42", issuer="https://site.example", tenant=None,
                        now=now)
    header, claims, signature = good.split(".")
    bearer = jwt.encode({"job": "ab" * 16, "sub": "42", "exp": now + 600}, secret, algorithm="HS256",
                        headers={"typ": "praisonai-receipt+jwt"})  # right type, but signed with the secret itself
    cases = {"good": (good, now + 10), "expired": (good, now + 600), "other secret": (good, now + 10),
             "tampered": (f"{header}.{claims[:-2]}AA.{signature}", now + 10), "bearer": (bearer, now + 10)}
    script = tmp_path / "receipt.php"
    script.write_text(
        "<?php define( 'PRAISONAI_CHATBOT_STANDALONE', true );\n"
        f"require '{PLUGIN_SRC / 'includes' / 'class-praisonai-chatbot-jwt.php'}';\n"
        f"$cases = json_decode( '{json.dumps(cases)}', true );\n"
        "$out = array();\n"
        "foreach ( $cases as $name => $case ) {\n"
        f"  $key = 'other secret' === $name ? 'another-secret-another-secret-1234' : '{secret}';\n"
        "  $out[ $name ] = PraisonAI_Chatbot_JWT::decode_receipt( $case[0], $key, $case[1] );\n"
        "}\n"
        "echo json_encode( $out );\n"
    )
    out = json.loads(subprocess.run(["php", str(script)], check=True, capture_output=True, text=True).stdout)
    assert out["good"]["job"] == "ab" * 16 and out["good"]["sub"] == "42"
    assert out["good"]["iss"] == "https://site.example" and out["good"]["svc"] == "ppt"
    assert {name: value for name, value in out.items() if name != "good"} == {
        "expired": None, "other secret": None, "tampered": None, "bearer": None}


def verify_hs256(token: str, secret: str) -> dict[str, Any]:
    def unb64(part: str) -> bytes:
        return base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))

    header_b64, claims_b64, signature_b64 = token.split(".")
    assert json.loads(unb64(header_b64)) == {"alg": "HS256", "typ": "JWT"}
    expected = hmac.new(secret.encode(), f"{header_b64}.{claims_b64}".encode(), hashlib.sha256).digest()
    assert hmac.compare_digest(expected, unb64(signature_b64)), "bad HS256 signature"
    return json.loads(unb64(claims_b64))  # type: ignore[no-any-return]


def test_plugin_installs_from_the_built_zip(scenario: Scenario) -> None:
    """Plugins → Add New → Upload Plugin with the built zip, then Activate: WordPress's own installer."""
    page = scenario.page("admin")
    page.goto(f"{scenario.wp.url}/wp-admin/plugin-install.php?tab=upload")
    page.set_input_files("#pluginzip", str(scenario.zip_path))
    page.click("#install-plugin-submit")
    page.get_by_text("Plugin installed successfully.").wait_for()
    page.click("a.button-primary:has-text('Activate Plugin')")
    page.get_by_text("Plugin activated.").wait_for()
    assert (scenario.wp.plugin_dir / "praisonai-chatbot.php").is_file()
    state = scenario.wp.php("""
        global $wpdb;
        echo wp_json_encode( array(
            'table' => $wpdb->get_var( "SHOW TABLES LIKE '{$wpdb->prefix}praisonai_chatbot_jobs'" ),
            'settings' => get_option( 'praisonai_chatbot_settings' ),
            'active' => in_array( 'praisonai-chatbot/praisonai-chatbot.php',
                                  (array) get_option( 'active_plugins' ), true ) ) );
    """)
    assert state["active"] is True
    assert state["table"] == "wp_praisonai_chatbot_jobs"
    assert state["settings"]["mode"] == "proxy" and state["settings"]["api_key"] == ""


def test_admin_configures_the_plugin(scenario: Scenario) -> None:
    wp, service = scenario.wp, scenario.service
    page = scenario.page("admin")
    page.goto(f"{wp.url}/wp-admin/options-general.php?page=praisonai-chatbot")
    page.fill("#praisonai_chatbot_service_url", service.url)
    page.fill("#praisonai_chatbot_api_key", service.site_key)  # a site key: its visitors get their own limits
    page.fill("#praisonai_chatbot_default_service", "ppt")
    page.check("input[name='praisonai_chatbot_settings[mode]'][value='proxy']")
    page.check("input[name='praisonai_chatbot_settings[access]'][value='logged_in']")
    page.fill("#praisonai_chatbot_user_limit", "20")
    page.fill("#praisonai_chatbot_poll_budget_minutes", "15")
    page.click("#submit")
    page.get_by_text("Settings saved.").wait_for()
    assert service.site_key not in page.content(), "the settings page printed the stored API key"
    assert page.locator("#praisonai_chatbot_api_key").input_value() == ""
    page.get_by_text("A value is stored (hidden).").first.wait_for()
    stored = wp.settings()
    assert stored["api_key"] == service.site_key
    assert stored["service_url"] == service.url and stored["user_limit"] == 20

    page.click("#submit")  # saving again with the key field empty keeps the stored key
    page.get_by_text("Settings saved.").wait_for()
    assert wp.settings()["api_key"] == service.site_key

    page.click("#praisonai-chatbot-test")
    result = page.locator(".praisonai-chatbot-test-result")
    result.wait_for()
    assert "Services: ppt" in result.inner_text()
    assert service.site_key not in page.content()
    shot(page.locator("#wpbody-content"), "settings")


def test_user_generates_a_deck_from_the_sample(scenario: Scenario, tmp_path: Path) -> None:
    page = scenario.page("alice")
    requests: list[tuple[float, str, str]] = []
    page.on("request", lambda r: requests.append((time.monotonic(), r.method, r.url)))
    page.goto(scenario.chat_url)
    widget = page.locator(WIDGET)
    widget.locator("textarea").wait_for()
    assert widget.get_by_label("Your request (YAML or JSON)").is_visible()
    config = page.evaluate("window.praisonaiChatbot")
    assert config["mode"] == "proxy" and config["pollIntervalMs"] == 5000
    assert config["pollBudgetMs"] == 15 * 60 * 1000
    assert "serviceUrl" not in config or config["serviceUrl"] == ""
    scenario.remember_html("alice", page)
    shot(widget, "widget-empty")

    widget.get_by_role("button", name="Use sample").click()
    assert widget.locator("textarea").input_value() == PPT_SAMPLE.read_text()
    with page.expect_response(lambda r: "praisonai/v1/jobs" in r.url and r.request.method == "POST") as submitted:
        widget.get_by_role("button", name="Send").click()
    assert submitted.value.status == 202
    job = submitted.value.json()
    assert job["status"] == "queued"
    assert "download_url" not in job, "the service's own download URL (which needs the key) must not be passed on"
    scenario.jobs["sample"] = job["job_id"]
    card = page.locator(LAST_JOB)
    card.and_(page.locator("[data-status=queued], [data-status=processing]")).wait_for()
    shot(widget, "widget-queued")

    card.and_(page.locator("[data-status=done]")).wait_for(timeout=90_000)
    assert "is ready" in card.inner_text()
    assert card.locator("progress").get_attribute("value") == "100"
    assert "Done" in page.locator(".praisonai-chatbot__live").inner_text()  # announced in the live region
    shot(widget, "widget-done")
    # Followed live through the proxy's event stream, not by polling: the job itself is read once, at the end,
    # for its file name.
    assert any(method == "GET" and f"jobs/{job['job_id']}/events" in url for _, method, url in requests)
    status_reads = [url for _, method, url in requests
                    if method == "GET" and re.search(rf"jobs/{job['job_id']}(?:[?&]|$)", url)]
    assert len(status_reads) <= 1, status_reads

    with page.expect_download() as download_info:
        card.get_by_role("button", name="Download").click()
    download = download_info.value
    target = tmp_path / "deck.pptx"
    download.save_as(target)
    assert download.suggested_filename.endswith(".pptx")
    assert_pptx(target, slides=7)

    # The same request again is the same job (the service is idempotent): done at once, no second history row.
    widget.get_by_role("button", name="Use sample").click()
    with page.expect_response(lambda r: "praisonai/v1/jobs" in r.url and r.request.method == "POST") as again:
        widget.get_by_role("button", name="Send").click()
    assert again.value.status == 200 and again.value.json()["job_id"] == job["job_id"]
    page.locator(LAST_JOB).and_(page.locator("[data-status=done]")).wait_for()
    rows = [row for row in job_rows(scenario.wp) if row["job_id"] == job["job_id"]]
    assert len(rows) == 1 and rows[0]["status"] == "done"
    assert rows[0]["user_id"] == str(scenario.wp.users["alice"]["id"])
    scenario.remember_html("alice", page)


def test_failed_job_shows_error_msg_and_polling_backs_off(scenario: Scenario) -> None:
    page = scenario.page("alice")
    widget = page.locator(WIDGET)
    textarea = widget.locator("textarea")

    # Malformed YAML: the service refuses it (400) and the widget shows the service's explanation at once.
    textarea.fill("payload: [unclosed")
    with page.expect_response(lambda r: "praisonai/v1/jobs" in r.url and r.request.method == "POST") as refused:
        widget.get_by_role("button", name="Send").click()
    assert refused.value.status == 400
    error = page.locator(LAST_JOB).locator(".praisonai-chatbot__job-error")
    error.wait_for()
    assert "refused the request" in error.inner_text()
    assert textarea.input_value() == "payload: [unclosed", "a refused request must stay in the box to be fixed"

    # A payload the PPT handler rejects, with the first status poll answered "503, Retry-After: 2". Making the
    # service really unavailable would also stop the other steps' jobs, so this one answer is faked in the browser.
    faked: list[str] = []

    def unavailable_once(route: Any) -> None:
        if faked:
            route.continue_()
            return
        faked.append(route.request.url)
        route.fulfill(status=503, headers={"Retry-After": "2", "Content-Type": "application/json"},
                      body=json.dumps({"code": "praisonai_unavailable", "data": {"status": 503},
                                       "message": "The job service is temporarily unavailable."}))

    page.route(lambda url: re.search(r"praisonai/v1/jobs/[a-f0-9]+$", url) is not None, unavailable_once)
    # And no event stream either (a proxy that buffers, an old service): the widget falls back to polling.
    page.route(lambda url: re.search(r"praisonai/v1/jobs/[a-f0-9]+/events", url) is not None,
               lambda route: route.fulfill(status=503, body="{}", headers={"Content-Type": "application/json"}))
    textarea.fill("payload:\n  presentation_title: Nothing to show\n  sections: []\n")
    with page.expect_response(lambda r: "praisonai/v1/jobs" in r.url and r.request.method == "POST") as accepted:
        widget.get_by_role("button", name="Send").click()
    assert accepted.value.status == 202
    scenario.jobs["error"] = accepted.value.json()["job_id"]
    card = page.locator(LAST_JOB)
    note = card.locator(".praisonai-chatbot__job-note")
    note.get_by_text("checking again in 2 s").wait_for(timeout=20_000)
    card.and_(page.locator("[data-status=error]")).wait_for(timeout=60_000)
    assert faked, "the fake 503 was never served"
    assert "sections must be a non-empty list" in card.locator(".praisonai-chatbot__job-error").inner_text()
    assert card.locator(".praisonai-chatbot__job-error").get_attribute("role") == "alert"
    shot(widget, "widget-error")
    page.unroute_all()
    scenario.remember_html("alice", page)
    row = next(r for r in job_rows(scenario.wp) if r["job_id"] == scenario.jobs["error"])
    assert row["status"] == "error" and "sections" in row["error_msg"]


def test_live_progress_and_cancel_in_proxy_and_direct_mode(scenario: Scenario, tmp_path: Path) -> None:
    """A service with slow, chatty and cancellable handlers: the widget shows each progress message as it comes
    (through the proxy's stream in mode A, straight from the service in mode B) and its Cancel button works."""
    wp = scenario.wp
    key = f"wp-live-key-{secrets.token_hex(16)}"
    env = {"PRAISONAI_DATA_DIR": str(tmp_path / "data"), "PRAISONAI_API_KEY": key, "PRAISONAI_JWT_SECRET": JWT_SECRET,
           "PRAISONAI_CORS_ORIGINS": wp.url}
    before = wp.settings()
    with running_service(LIVE_HANDLERS, env, tmp_path / "logs") as live:
        wp.update_settings(service_url=live.url, api_key=key)
        try:
            url = create_page(wp, "Live", '[praisonai_chatbot service="steps" title="Ten steps"]'
                                          '[praisonai_chatbot service="cooperative" title="Stoppable"]')
            page = scenario.page("carol")  # her own user: the other steps count Alice's jobs
            page.goto(url)
            steps, stoppable = page.locator(WIDGET).nth(0), page.locator(WIDGET).nth(1)
            streams: list[str] = []
            page.on("response", lambda r: streams.append(r.url) if "/events" in r.url and r.ok else None)
            steps.locator("textarea").fill('{"payload": {"delay": 0.7}}')
            steps.get_by_role("button", name="Send").click()
            card = steps.locator(".praisonai-chatbot__job >> nth=-1")
            card.get_by_text("step 4").wait_for(timeout=30_000)  # a progress message, live
            assert streams and all(url.startswith(wp.url) for url in streams)  # relayed by the proxy
            assert card.get_attribute("data-status") == "processing"
            assert card.get_by_role("button", name="Cancel").is_visible()
            shot(steps, "widget-live-progress")
            card.and_(page.locator("[data-status=done]")).wait_for(timeout=30_000)
            assert not card.get_by_role("button", name="Cancel").is_visible()

            stoppable.locator("textarea").fill('{"payload": {"seconds": 600}}')
            stoppable.get_by_role("button", name="Send").click()
            running = stoppable.locator(".praisonai-chatbot__job >> nth=-1")
            running.get_by_text("working").wait_for(timeout=30_000)
            running.get_by_role("button", name="Cancel").click()
            running.and_(page.locator("[data-status=cancelled]")).wait_for(timeout=15_000)
            assert "cancelled" in running.inner_text().lower()
            shot(stoppable, "widget-cancelled")
            job_id = running.locator(".praisonai-chatbot__job-id").get_attribute("title")
            with live.client(headers={"X-API-Key": key}) as client:
                assert client.get(f"/jobs/{job_id}").json()["status"] == "cancelled"

            # Mode B: the browser streams from the service itself with its short-lived token (not recorded in a
            # HAR: the proxy-mode check at the end is about what visitors' browsers send to WordPress).
            wp.update_settings(mode="direct", jwt_secret=JWT_SECRET)
            direct = scenario.browser.new_context(viewport=VIEWPORT)
            try:
                direct_page = direct.new_page()
                login(direct_page, wp, "carol")
                direct_page.goto(url)
                widget = direct_page.locator(WIDGET).nth(0)
                streamed: list[str] = []
                direct_page.on("request", lambda r: streamed.append(r.url) if "/events" in r.url else None)
                widget.locator("textarea").fill('{"payload": {"delay": 0.5, "direct": 1}}')
                widget.get_by_role("button", name="Send").click()
                live_card = widget.locator(".praisonai-chatbot__job >> nth=-1")
                live_card.get_by_text("step 3").wait_for(timeout=30_000)
                live_card.and_(direct_page.locator("[data-status=done]")).wait_for(timeout=30_000)
                assert streamed and all(u.startswith(live.url) for u in streamed), streamed
            finally:
                direct.close()
        finally:
            wp.update_settings(service_url=before["service_url"], api_key=before["api_key"], mode=before["mode"])
    assert not scenario.page_errors, scenario.page_errors


def test_access_setting_and_job_ownership(scenario: Scenario) -> None:
    wp = scenario.wp
    sample = scenario.jobs["sample"]

    # Logged-in users only: a visitor sees a message instead of the chat, and the proxy refuses them.
    visitor = scenario.page("visitor")
    visitor.goto(scenario.chat_url)
    notice = visitor.locator(f"{WIDGET} .praisonai-chatbot__notice")
    assert "log in" in notice.inner_text()
    assert visitor.locator(f"{WIDGET} textarea").count() == 0
    shot(visitor.locator(WIDGET), "widget-login-required")
    scenario.remember_html("visitor", visitor)
    with httpx.Client(timeout=10) as anonymous:
        posted = anonymous.post(wp.rest("praisonai/v1/jobs"), json={"document": PPT_SAMPLE.read_text()})
        read = anonymous.get(wp.rest(f"praisonai/v1/jobs/{sample}"))
        link = anonymous.get(wp.rest(f"praisonai/v1/jobs/{sample}/download"))
    for response in (posted, read, link):
        assert response.status_code in (401, 403), response.text
        assert scenario.service.site_key not in response.text

    # Only the submitter reads a job through the proxy: the administrator gets 404 for Alice's job.
    admin = scenario.page("admin")
    admin.goto(scenario.chat_url)
    assert rest_fetch(admin, "GET", f"jobs/{sample}")["status"] == 404
    assert rest_fetch(admin, "GET", f"jobs/{sample}/download")["status"] == 404
    alice = scenario.page("alice")
    own = rest_fetch(alice, "GET", f"jobs/{sample}")
    assert own["status"] == 200 and own["body"]["status"] == "done"
    assert rest_fetch(alice, "GET", "jobs/0123456789abcdef0123456789abcdef")["status"] == 404

    # "Everyone": visitors may use the chat; their jobs belong to their browser (a cookie), not to all visitors.
    wp.update_settings(access="everyone")
    try:
        visitor.goto(scenario.chat_url)
        widget = visitor.locator(WIDGET)
        widget.get_by_role("button", name="Use sample").click()
        widget.get_by_role("button", name="Send").click()
        card = visitor.locator(LAST_JOB)
        card.and_(visitor.locator("[data-status=done]")).wait_for()  # the same deck as Alice's: done at once
        with visitor.expect_download() as download_info:
            card.get_by_role("button", name="Download").click()
        assert download_info.value.suggested_filename.endswith(".pptx")
        scenario.remember_html("visitor", visitor)
        stranger = scenario.page("stranger")
        stranger.goto(scenario.chat_url)
        assert rest_fetch(stranger, "GET", f"jobs/{sample}")["status"] == 404
        assert rest_fetch(visitor, "GET", f"jobs/{sample}")["status"] == 200
    finally:
        wp.update_settings(access="logged_in")


def test_history_lists_jobs_with_fresh_download_links(scenario: Scenario, tmp_path: Path) -> None:
    wp = scenario.wp
    admin = scenario.page("admin")
    admin.goto(f"{wp.url}/wp-admin/index.php?page=praisonai-chatbot-jobs")
    table = admin.locator("table.praisonai-history__table")
    sample_row = table.locator(f"tr[data-job-id='{scenario.jobs['sample']}']", has_text="Alice")
    error_row = table.locator(f"tr[data-job-id='{scenario.jobs['error']}']")
    # text_content, not inner_text: the status badges are upper-cased by CSS.
    assert "Alice" in sample_row.text_content() and "Done" in sample_row.text_content()
    assert "Failed" in error_row.text_content() and "sections" in error_row.text_content()
    assert "Visitor" in table.text_content()
    assert "All time:" in admin.locator(".praisonai-usage").inner_text()
    assert scenario.service.site_key not in admin.content()
    shot(admin.locator("#wpbody-content"), "history")
    with admin.expect_download() as download_info:
        sample_row.get_by_role("link", name="Download").click()
    target = tmp_path / "from-admin.pptx"
    download_info.value.save_as(target)
    assert_pptx(target, slides=7)

    # Alice's own history (the shortcode on the chat page): her jobs only, downloads minted on click.
    alice = scenario.page("alice")
    alice.goto(scenario.chat_url)
    history = alice.locator(".praisonai-history")
    assert history.locator("tbody tr").count() == 2
    with alice.expect_download() as download_info:
        history.locator(f"tr[data-job-id='{scenario.jobs['sample']}']").get_by_role("link", name="Download").click()
    assert download_info.value.suggested_filename.endswith(".pptx")
    alice.goto(f"{wp.url}/wp-admin/index.php?page=praisonai-chatbot-jobs")
    assert alice.locator("h1").inner_text() == "My PraisonAI Jobs"
    assert "Visitor" not in alice.locator("table").inner_text()
    scenario.remember_html("alice", alice)


def test_usage_page_charts_jobs_per_day_and_the_most_active_users(scenario: Scenario) -> None:
    wp = scenario.wp
    rows = job_rows(wp)
    failed = sum(1 for row in rows if row["status"] == "error")
    admin = scenario.page("admin")
    admin.goto(f"{wp.url}/wp-admin/index.php?page=praisonai-chatbot-usage")
    page = admin.locator(".praisonai-usage-page")
    assert page.locator("h1").inner_text() == "PraisonAI Usage"
    assert page.locator("[data-figure=total]").inner_text() == str(len(rows))
    assert page.locator("[data-figure=failed]").inner_text() == str(failed)
    chart = page.locator("svg.praisonai-usage-chart")
    assert chart.is_visible() and chart.locator("g.day").count() == 14
    today = chart.locator("g.day").last
    assert today.get_attribute("data-total") == str(len(rows))  # every job of this run is from today
    assert today.locator("rect.done").count() == 1 and today.locator("rect.failed").count() == (1 if failed else 0)
    users = page.locator("table.praisonai-usage-users tbody tr")
    counts = [int(users.nth(i).locator("td").nth(1).inner_text()) for i in range(users.count())]
    assert counts == sorted(counts, reverse=True) and sum(counts) == len(rows)
    assert "Alice" in page.locator("table.praisonai-usage-users").inner_text()
    assert scenario.service.api_key not in admin.content()
    shot(admin.locator("#wpbody-content"), "usage")
    scenario.remember_html("admin", admin)

    alice = scenario.page("alice")  # not an administrator: no usage page, no menu entry
    response = alice.goto(f"{wp.url}/wp-admin/index.php?page=praisonai-chatbot-usage")
    assert response is not None and response.status == 403
    alice.goto(f"{wp.url}/wp-admin/index.php")
    assert alice.locator("a[href*='praisonai-chatbot-usage']").count() == 0


def test_per_user_limit(scenario: Scenario) -> None:
    scenario.wp.update_settings(user_limit=2)  # Alice has made four submissions in the last hour (two were refused)
    try:
        page = scenario.page("alice")
        page.goto(scenario.chat_url)
        widget = page.locator(WIDGET)
        widget.locator("textarea").fill("payload:\n  presentation_title: One more\n  sections: []\n")
        with page.expect_response(lambda r: "praisonai/v1/jobs" in r.url and r.request.method == "POST") as limited:
            widget.get_by_role("button", name="Send").click()
        assert limited.value.status == 429
        assert 0 < int(limited.value.headers["retry-after"]) <= 3600
        error = page.locator(LAST_JOB).locator(".praisonai-chatbot__job-error")
        error.wait_for()
        assert "limit of 2 requests per hour" in error.inner_text()
        scenario.remember_html("alice", page)
    finally:
        scenario.wp.update_settings(user_limit=20)


def test_direct_mode_gives_the_browser_a_short_lived_jwt(scenario: Scenario) -> None:
    wp = scenario.wp
    wp.update_settings(mode="direct", jwt_secret=JWT_SECRET)
    try:
        page = scenario.page("alice")
        page.goto(scenario.chat_url)
        config = page.evaluate("window.praisonaiChatbot")
        assert config["mode"] == "direct" and config["serviceUrl"] == scenario.service.url
        answer = rest_fetch(page, "POST", "token", {})
        assert answer["status"] == 200
        claims = verify_hs256(answer["body"]["token"], JWT_SECRET)
        assert claims["iss"] == wp.url
        assert claims["aud"] == "praisonai-svc"
        assert claims["sub"] == str(wp.users["alice"]["id"])
        assert 290 <= claims["exp"] - time.time() <= 310
        scenario.remember_html("alice", page)
    finally:
        wp.update_settings(mode="proxy")
    assert rest_fetch(page, "POST", "token", {})["status"] == 400  # no tokens in proxy mode


SMALL_DECK = "payload:\n  presentation_title: {title}\n  sections:\n    - section: Only\n      verses:\n" \
             "        - reference: One\n          text: One slide.\n"


def service_token(page: Any) -> str:
    """A mode B bearer token, minted by WordPress for whoever is logged in on ``page``."""
    answer = rest_fetch(page, "POST", "token", {})
    assert answer["status"] == 200, answer
    return str(answer["body"]["token"])


def claim(page: Any, job_id: str, receipt: str | None) -> dict[str, Any]:
    """POST praisonai/v1/history from ``page``: ask WordPress to record ``job_id`` as this person's."""
    return rest_fetch(page, "POST", "history", {"job_id": job_id, **({"receipt": receipt} if receipt else {})})


def test_direct_mode_history_needs_the_services_receipt(scenario: Scenario) -> None:
    """Issue 11 item 6: a job id alone (every signed link has one) no longer lets anyone adopt another's job.

    Alice submits in mode B through the widget in Chromium; the service's answer carries a receipt that WordPress
    verifies before recording the job. Bob, who learnt her job id, tries every way of claiming it and is refused;
    afterwards he can neither read it nor mint a download link for it, through WordPress or the service.
    """
    wp, service = scenario.wp, scenario.service
    wp.update_settings(mode="direct", jwt_secret=JWT_SECRET)
    try:
        alice = scenario.page("alice-direct", user="alice")  # her own browser: its traffic goes to the service
        alice.goto(scenario.chat_url)
        widget = alice.locator(WIDGET)
        widget.locator("textarea").fill(SMALL_DECK.format(title="Alice direct"))
        with alice.expect_response(lambda r: r.url.startswith(f"{service.url}/jobs")
                                   and r.request.method == "POST") as submitted, \
                alice.expect_response(lambda r: "praisonai/v1/history" in r.url) as recorded:
            widget.get_by_role("button", name="Send").click()
        assert submitted.value.status == 202
        job = submitted.value.json()
        job_id, receipt = job["job_id"], job["receipt"]
        assert submitted.value.headers["x-submission-receipt"] == receipt
        assert recorded.value.status == 201, recorded.value.text()
        alice.locator(LAST_JOB).and_(alice.locator("[data-status=done]")).wait_for(timeout=90_000)
        owners = [row["user_id"] for row in job_rows(wp) if row["job_id"] == job_id]
        assert owners == [str(wp.users["alice"]["id"])]
        assert rest_fetch(alice, "GET", f"jobs/{job_id}")["status"] == 200

        bob = scenario.page("bob")
        bob.goto(scenario.chat_url)
        bob_token = service_token(bob)
        with httpx.Client(base_url=service.url, timeout=15) as http:
            own = http.post("/jobs", content=SMALL_DECK.format(title="Bob direct"),
                            headers={"Authorization": f"Bearer {bob_token}", "Content-Type": "application/yaml"})
            assert own.status_code == 202
            bob_job, bob_receipt = own.json()["job_id"], own.json()["receipt"]
            # The service never shows Bob Alice's job: tokens see only their own subject's jobs.
            assert http.get(f"/jobs/{job_id}", headers={"Authorization": f"Bearer {bob_token}"}).status_code == 404

        header, claims, signature = receipt.split(".")
        decoded = json.loads(base64.urlsafe_b64decode(claims + "=" * (-len(claims) % 4)))
        assert decoded["job"] == job_id and decoded["sub"] == str(wp.users["alice"]["id"])
        assert decoded["iss"] == wp.url
        as_bob = base64.urlsafe_b64encode(json.dumps({**decoded, "sub": str(wp.users["bob"]["id"])}).encode())
        attacks = {
            "no receipt": None,
            "a made-up receipt": "eyJhbGciOiJIUzI1NiJ9.e30.AAAA",
            "Alice's own receipt, replayed by Bob": receipt,
            "Bob's receipt for his own job": bob_receipt,
            "Alice's receipt rewritten to name Bob": f"{header}.{as_bob.decode().rstrip('=')}.{signature}",
            "Bob's bearer token (signed with the secret itself)": bob_token,
        }
        for what, presented in attacks.items():
            answer = claim(bob, job_id, presented)
            assert answer["status"] in (400, 403), f"{what}: {answer}"
            assert answer["body"]["code"] in ("rest_missing_callback_param", "praisonai_not_your_job"), what
        assert [row for row in job_rows(wp) if row["job_id"] == job_id and row["user_id"] != owners[0]] == []
        assert rest_fetch(bob, "GET", f"jobs/{job_id}")["status"] == 404
        assert rest_fetch(bob, "GET", f"jobs/{job_id}/download")["status"] == 404

        # A visitor's session is an owner too: a stranger's browser cannot adopt the job either.
        wp.update_settings(access="everyone")
        stranger = scenario.page("stranger")
        stranger.goto(scenario.chat_url)
        service_token(stranger)  # sets the stranger's visitor cookie
        assert claim(stranger, job_id, receipt)["status"] == 403

        # The honest path still works: Bob's own receipt records Bob's own job.
        assert claim(bob, bob_job, bob_receipt)["status"] == 201
        assert rest_fetch(bob, "GET", f"jobs/{bob_job}")["status"] == 200
    finally:
        wp.update_settings(mode="proxy", access="logged_in")
    # In mode A WordPress submits every job itself, so there is nothing to claim.
    refused = claim(bob, job_id, receipt)
    assert refused["status"] == 400 and refused["body"]["code"] == "praisonai_not_direct"


def test_one_visitor_cannot_use_up_the_sites_share(scenario: Scenario) -> None:
    """Issue 11 item 7: junk and oversized submissions count, and one visitor's flood stays that visitor's problem.

    In mode A every call comes from the WordPress server. The plugin counts every attempt before it calls the
    service and refuses oversized bodies itself; and it names the visitor's address to the service, which (for a
    site key) counts that visitor in a bucket of its own. The spammer ends up at 429 from both, while another
    visitor's deck is made meanwhile.
    """
    wp = scenario.wp
    wp.update_settings(access="everyone", user_limit=3)
    try:
        spammer = scenario.page("spammer", ip="198.51.100.7")
        spammer.goto(scenario.chat_url)
        junk = {"document": "payload: [unclosed"}
        oversized = {"document": "a" * (1024 * 1024 + 1)}
        answers = [rest_fetch(spammer, "POST", "jobs", body) for body in (junk, junk, oversized, junk)]
        assert [a["status"] for a in answers] == [400, 400, 413, 429], answers
        assert answers[2]["body"]["code"] == "praisonai_too_large", "WordPress itself refuses an oversized request"
        assert answers[3]["body"]["code"] == "praisonai_limit_reached"
        assert 0 < int(answers[3]["retryAfter"]) <= 3600
        huge = rest_fetch(spammer, "POST", "jobs", {"document": "b" * (3 * 1024 * 1024)})
        assert huge["status"] == 413 and huge["body"]["code"] == "praisonai_too_large"  # refused before parsing

        # With the plugin's limit off, the service's own per-address limit stops the spammer: in the spammer's
        # bucket, not in the one the whole site shares.
        wp.update_settings(user_limit=0)
        statuses: list[int] = []
        while 429 not in statuses and len(statuses) < 25:  # 10 a minute; at most one window ends meanwhile
            statuses.append(rest_fetch(spammer, "POST", "jobs", junk)["status"])
        assert statuses[-1] == 429 and set(statuses[:-1]) == {400}, statuses
        limited = rest_fetch(spammer, "POST", "jobs", junk)
        assert limited["status"] == 429 and limited["body"]["code"] == "praisonai_busy", limited

        honest = scenario.page("honest", ip="203.0.113.9")
        honest.goto(scenario.chat_url)
        widget = honest.locator(WIDGET)
        widget.locator("textarea").fill(SMALL_DECK.format(title="Meanwhile"))
        with honest.expect_response(lambda r: "praisonai/v1/jobs" in r.url and r.request.method == "POST") as sent:
            widget.get_by_role("button", name="Send").click()
        assert sent.value.status == 202, sent.value.text()
        honest.locator(LAST_JOB).and_(honest.locator("[data-status=done]")).wait_for(timeout=90_000)
        # And the site's other users, whose calls share the WordPress server's own address, are served too.
        alice = scenario.page("alice")
        alice.goto(scenario.chat_url)
        assert rest_fetch(alice, "GET", f"jobs/{scenario.jobs['sample']}")["status"] == 200
    finally:
        wp.update_settings(access="logged_in", user_limit=20)


def test_no_secret_reaches_any_browser(scenario: Scenario) -> None:
    """The API key (and the JWT secret) appear in no page, script, request or response a visitor's browser saw."""
    for name in list(scenario.contexts):
        if name != "admin":
            scenario.contexts.pop(name).close()  # writes the HAR
            scenario.pages.pop(name, None)
    secrets_ = {"API key": scenario.service.api_key, "site key": scenario.service.site_key, "JWT secret": JWT_SECRET}
    seen = list(scenario.html_seen)
    for har in scenario.hars.values():
        seen += har_texts(har)
    for where, text in seen:
        for what, value in secrets_.items():
            assert value not in text, f"the {what} leaked into {where}"

    alice = har_texts(scenario.hars["alice"])
    urls = {text for where, text in alice if where.endswith(" url")}
    assert any("praisonai/v1/jobs" in url for url in urls), "no proxy traffic was recorded: the check is vacuous"
    assert any("praisonai-chatbot.js" in url for url in urls), "the widget script was not recorded"
    assert any(where.endswith("request header X-WP-Nonce") for where, _ in alice)
    # In proxy mode the browser talks to WordPress, and to the service only to fetch a signed file.
    for url in urls:
        assert url.startswith(scenario.wp.url) or url.startswith(f"{scenario.service.url}/blobs/"), url
    assert not scenario.page_errors, scenario.page_errors


def test_no_php_errors_in_plugin_code(scenario: Scenario) -> None:
    assert scenario.wp.plugin_errors() == []


def test_uninstall_removes_options_and_table(scenario: Scenario) -> None:
    state = scenario.wp.php("""
        require_once ABSPATH . 'wp-admin/includes/plugin.php';
        deactivate_plugins( 'praisonai-chatbot/praisonai-chatbot.php' );
        uninstall_plugin( 'praisonai-chatbot/praisonai-chatbot.php' );
        global $wpdb;
        echo wp_json_encode( array(
            'table' => $wpdb->get_var( "SHOW TABLES LIKE '{$wpdb->prefix}praisonai_chatbot_jobs'" ),
            'settings' => get_option( 'praisonai_chatbot_settings', null ),
            'db_version' => get_option( 'praisonai_chatbot_db_version', null ),
            'leftovers' => $wpdb->get_col(
                "SELECT option_name FROM {$wpdb->options} WHERE option_name LIKE '%praisonai%'" ) ) );
    """)
    assert state == {"table": None, "settings": None, "db_version": None, "leftovers": []}
