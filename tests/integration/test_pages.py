"""The pages people use, in a real browser: Debian's Chromium, headless, driven by Playwright, against a
real server started here on a demo deployment of its own (trained on the demo data, on each backend)."""

from __future__ import annotations

import contextlib
import json
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import expect

from models.db import make_engine, make_session_factory, session_scope
from tests.conftest import BACKENDS, IN_CI, key_for
from tests.processes import server_stacks, settings_env, start_server, stop_server

pytestmark = pytest.mark.slow  # a real server and Chromium

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
SHOTS = Path(__file__).resolve().parents[2] / "var" / "screenshots"


@pytest.fixture(scope="module")
def browser():
    """Chromium by its path (never a downloaded browser); skipped when absent, a failure under CI."""
    if not Path(CHROMIUM).exists():
        message = f"Chromium not found at {CHROMIUM} (apt-get install chromium)"
        if IN_CI:
            pytest.fail(message)
        pytest.skip(message)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=["--no-sandbox"])
        yield browser
        browser.close()


@pytest.fixture(scope="module", params=BACKENDS)
def site(request, deployments, tmp_path_factory) -> Iterator[dict]:
    """A demo deployment of its own (its events must not leak into other tests), served for real."""
    settings = deployments.copy(request.param, root=tmp_path_factory.mktemp(f"pages-{request.param}"))
    log = settings.models.artifacts_dir.parent / "server.log"
    server, port = start_server(settings_env(settings, HELPDESK_INCIDENT_POLL_SECONDS="3600"), log)
    try:
        yield {
            "url": f"http://127.0.0.1:{port}",
            "db": settings.database.url,
            "backend": request.param,
            "server": server,
            "log": log,
        }
    finally:
        stop_server(server)


@contextlib.contextmanager
def stacks_on_timeout(site: dict) -> Iterator[None]:
    """A wait that times out fails with the server's threads' stacks (what the page was waiting on)."""
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    try:
        yield
    except PlaywrightTimeout as error:
        raise AssertionError(f"{error}\n{server_stacks(site['server'])}") from error


def _events(db_url: str) -> list[tuple[str, str | None]]:
    from sqlalchemy import select

    from models import PortalEvent

    engine = make_engine(db_url)
    try:
        with session_scope(make_session_factory(engine)) as session:
            return [(e.type, e.article_slug) for e in session.scalars(select(PortalEvent).order_by(PortalEvent.id))]
    finally:
        engine.dispose()


def test_the_demo_portal_suggests_as_the_customer_types_and_records_what_helped(browser, site):
    key = key_for(site["db"], "portal")
    page = browser.new_page()
    errors: list[str] = []
    page.on("console", lambda message: errors.append(message.text) if message.type == "error" else None)
    page.goto(f"{site['url']}/demo/portal?key={key}")

    # too little text: nothing is asked, nothing shown
    page.fill("#subject", "help")
    page.wait_for_timeout(900)
    assert not page.locator(".helpdesk-suggestions li").count()

    page.fill("#subject", "I forgot my password")
    page.type("#body", "and now I cannot sign in to Windows or Outlook", delay=15)  # keystrokes, debounced
    first = page.locator(".helpdesk-suggestions li").first  # Playwright's locators pierce the shadow root
    first.wait_for(timeout=20_000)
    # a stall in the typing (a busy machine) lets the widget answer a half-typed draft first; the answer to
    # the whole draft replaces it
    expect(first.locator("a")).to_contain_text("Kestrel ID password", timeout=20_000)
    assert first.locator(".section").inner_text()
    assert first.locator(".snippet").inner_text()
    if site["backend"] == "sqlite":
        SHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SHOTS / "portal.png"), full_page=True)

    # keyboard only: tab from the description to the first suggestion's link, on to its buttons
    page.focus("#body")
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.shadowRoot.activeElement.tagName") == "A"
    page.keyboard.press("Tab")
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.shadowRoot.activeElement.textContent") == "Not helpful"
    page.keyboard.press("Shift+Tab")
    page.keyboard.press("Enter")  # "This solved it"
    first.locator(".thanks").wait_for(timeout=5_000)
    page.wait_for_timeout(500)  # the event is sent in the background
    assert ("helpful", "forgot-kestrel-id-password") in _events(site["db"])

    # the article link opens the published article at its section
    href = first.locator("a").get_attribute("href")
    article = browser.new_page()
    article.goto(href)
    assert "Forgot your Kestrel ID password" in article.locator("h1").inner_text()
    article.close()

    # nothing fits: the panel goes away
    page.fill("#subject", "zxqv wombat trombone")
    page.fill("#body", "purple elephants juggling quantum marmalade on Tuesdays")
    page.wait_for_timeout(1500)
    assert not page.locator(".helpdesk-suggestions section").is_visible()
    assert not errors, errors
    page.close()


def test_the_widget_stays_out_of_the_portals_css_and_the_pages_refuse_foreign_scripts(browser, site):
    key = key_for(site["db"], "portal")
    context = browser.new_context(bypass_csp=True)  # so that the test can add the hostile portal CSS
    page = context.new_page()
    response = page.goto(f"{site['url']}/demo/portal?key={key}")
    assert "script-src 'self'" in response.headers["content-security-policy"]
    page.add_style_tag(content="li { display: none !important; } a { color: red !important; }")
    page.fill("#subject", "VPN keeps disconnecting")
    page.fill("#body", "GlobalProtect drops every few minutes when I work from home")
    link = page.locator(".helpdesk-suggestions li a").first
    link.wait_for(timeout=20_000)
    assert link.is_visible()  # the page's rule for li did not reach into the shadow root
    assert page.evaluate("(a) => getComputedStyle(a).color", link.element_handle()) != "rgb(255, 0, 0)"
    context.close()


def test_the_widget_speaks_the_language_of_its_data_lang_over_the_pages(browser, site):
    page = browser.new_page()
    page.goto(f"{site['url']}/demo/portal")  # an English page (<html lang="en">), without the widget
    page.evaluate(  # resolves once the script has run and listens to the form (a busy machine loads it late)
        "key => new Promise(loaded => { const s = document.createElement('script');"
        " s.src = '/static/portal-widget.js'; s.onload = loaded; s.dataset.key = key; s.dataset.lang = 'de';"
        " s.dataset.form = '#ticket-form'; document.body.append(s); })",
        key_for(site["db"], "portal"),
    )
    page.fill("#subject", "I forgot my password")
    page.fill("#body", "and now I cannot sign in to Windows or Outlook")
    heading = page.locator(".helpdesk-suggestions h2")
    heading.wait_for(timeout=20_000)
    assert heading.inner_text() == "Diese Artikel beantworten vielleicht Ihre Frage"
    assert page.locator(".helpdesk-suggestions li button").first.inner_text() == "Problem gelöst"
    assert "?lang=de#" in page.locator(".helpdesk-suggestions li a").first.get_attribute("href")
    page.close()


def test_pages_without_a_key_or_for_unpublished_articles(browser, site):
    page = browser.new_page()
    page.goto(f"{site['url']}/demo/portal?key=%22%3E%3Cscript%3Ealert(1)%3C/script%3E")
    assert page.locator("[role=alert]").inner_text().startswith("This page needs a portal key")
    assert page.locator("script[data-key]").count() == 0
    response = page.goto(f"{site['url']}/help/no-such-article")
    assert response.status == 404
    assert json.loads(page.locator("body").inner_text())["field"] == "slug"
    page.close()


def test_the_server_log_holds_no_query_string_and_no_raw_control_character(site):
    import time
    import urllib.error
    import urllib.request

    secret = "hdt_" + "NotARealKey" * 4
    forged = "/help/forged%0aINFO:%20%20%20%20%20FORGED%20line"
    statuses, types = {}, {}
    for path in (f"/demo/portal?key={secret}", "/static/pages.css%00.js", forged):
        try:
            with urllib.request.urlopen(site["url"] + path, timeout=30) as response:
                statuses[path] = response.status
        except urllib.error.HTTPError as error:
            statuses[path], types[path] = error.code, error.headers.get("content-type", "")
    assert statuses["/static/pages.css%00.js"] == 404  # not a 500 from a NUL byte in a file name
    assert types["/static/pages.css%00.js"].startswith("application/problem+json")
    assert statuses[forged] == 404
    time.sleep(1)  # the access log's line follows the response
    log = site["log"].read_text()
    assert secret not in log and "\x00" not in log
    forged_lines = [line for line in log.splitlines() if "FORGED" in line]
    assert len(forged_lines) == 1 and forged_lines[0].startswith("INFO:     127.0.0.1")  # one access line, no forgery
    assert '"GET /demo/portal HTTP/1.1" 200' in log  # the path alone, never the query string


def _call(site: dict, key: str, method: str, path: str, body: dict | None = None) -> dict:
    import urllib.request

    request = urllib.request.Request(
        site["url"] + path,
        method=method,
        data=json.dumps(body).encode() if body is not None else None,
        headers={"authorization": f"Bearer {key}", "content-type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=60) as response:
        return json.loads(response.read() or b"null")


def _sign_in(browser, site: dict, key: str, page_path: str):
    page = browser.new_page()
    errors: list[str] = []
    page.on("console", lambda message: errors.append(message.text) if message.type == "error" else None)
    page.goto(f"{site['url']}/signin?next={page_path}")
    page.fill("#key", key)
    page.click("button[type=submit]")
    page.wait_for_url(f"**{page_path}", timeout=10_000)
    return page, errors


def test_the_console_shows_predictions_with_evidence_and_records_an_accepted_one(browser, site):
    agent = key_for(site["db"], "agent")
    ticket = _call(
        site,
        agent,
        "POST",
        "/v1/tickets",
        {"subject": "VPN keeps dropping", "body": "GlobalProtect disconnects every ten minutes when I work from home."},
    )
    category = ticket["suggestion"]["predictions"]["category"]
    vague = _call(site, agent, "POST", "/v1/tickets", {"subject": "hello", "body": "something is wrong, please help"})
    page, errors = _sign_in(browser, site, agent, "/console")
    abstained = 0
    for shown_ticket in (vague, ticket):
        page.locator(f'.ticket-link[data-id="{shown_ticket["id"]}"]').click()
        page.locator(f'.ticket-subject:has-text("{shown_ticket["subject"]}")').wait_for(timeout=20_000)
        for name, prediction in shown_ticket["suggestion"]["predictions"].items():
            value = page.locator(f'.prediction[data-field="{name}"] .value')
            value.wait_for(timeout=20_000)
            if prediction["status"] == "ok":
                assert value.inner_text() == prediction["label"]
            elif prediction["status"] == "abstained":  # named, with its probability, but not committed
                percent = int(prediction["top"]["probability"] * 100 + 0.5)
                assert value.inner_text() == f"probably {prediction['top']['label']} ({percent}%), not sure"
                abstained += 1
    assert abstained, "no abstained field shown: a vacuous check"
    card = page.locator('.prediction[data-field="category"]')
    with stacks_on_timeout(site):
        card.wait_for(timeout=20_000)
    assert page.locator(".ticket-subject").inner_text().endswith("VPN keeps dropping")
    assert card.locator(".confidence .pct").inner_text().endswith("%")
    assert card.locator(".chip").count() == len(category["prediction_set"])
    assert "most similar resolved tickets" in card.locator(".evidence summary").inner_text()
    with stacks_on_timeout(site):
        page.locator(".similar li").first.wait_for(timeout=20_000)
        page.locator(".replies").wait_for(timeout=20_000)
    assert page.locator(".replies .reply").count() >= 1  # the demo's VPN tickets and article have answers
    if site["backend"] == "sqlite":
        page.screenshot(path=str(SHOTS / "console.png"), full_page=True)

    label = category["label"] or category["prediction_set"][0]
    if category["label"]:
        card.locator("button.accept").click()
    else:
        card.locator("select").select_option(label)
        card.locator("button.override").click()
    decision = card.locator(".decision")
    decision.filter(has_text=label).wait_for(timeout=10_000)
    feedback = _call(site, agent, "GET", f"/v1/tickets/{ticket['id']}/feedback")
    assert [(f["field"], f["value"], f["action"]) for f in feedback] == [
        ("category", label, "accepted" if category["label"] else "overridden")
    ]
    assert decision.inner_text() == f"{feedback[0]['action']}: {label}"

    # a field the deployment added (request_type, a fixed label set) is shown and set like the others
    kind = page.locator('.prediction[data-field="request_type"]')
    assert kind.locator("h3").inner_text().lower() == "request type"
    kind.locator("select").select_option("request")
    kind.locator("button.override").click()
    kind.locator(".decision").filter(has_text="request").wait_for(timeout=10_000)
    stored = _call(site, agent, "GET", f"/v1/tickets/{ticket['id']}")
    assert stored["labels"]["request_type"] == "request"
    assert "SLA" in page.locator(".sla-line").inner_text()  # its due times, from the predicted priority

    page.fill("#kb-q", "reset my password")
    page.click("#kb-form button")
    page.locator("#kb-results li a").first.wait_for(timeout=10_000)
    assert not errors, errors
    page.close()


def test_the_dashboard_draws_its_charts_for_an_analyst_and_refuses_other_roles(browser, site):
    analyst = key_for(site["db"], "analyst")
    page, errors = _sign_in(browser, site, analyst, "/dashboard")
    page.locator(".dashboard[data-loaded=true]").wait_for(timeout=30_000)
    assert page.locator("#volume svg rect.bar").count() > 0  # the demo history has tickets every week
    assert page.locator("#deflection .big").inner_text()
    assert page.locator("#acceptance svg").count() >= 1
    figures = page.locator("#curves figure")
    assert figures.count() >= 2 and figures.first.locator("svg polyline").count() == 2
    assert page.locator("#sla table tbody tr").count() >= 1  # attainment per week of the demo history
    assert page.locator("#bundles tbody tr").count() == 1
    assert page.locator("#bundles tbody tr td").nth(1).inner_text() == "active"
    if site["backend"] == "sqlite":
        page.screenshot(path=str(SHOTS / "dashboard.png"), full_page=True)
    page.click("#rollback")  # only one bundle: the API's 409 is shown, nothing changes
    page.locator("#status").filter(has_text="no earlier active triage bundle").wait_for(timeout=10_000)
    assert not [e for e in errors if "409" not in e], errors
    page.close()

    portal = key_for(site["db"], "portal")
    page = browser.new_page()
    page.goto(f"{site['url']}/signin?next=/dashboard")
    page.fill("#key", portal)
    page.click("button[type=submit]")
    page.locator("#message").filter(has_text="may not open").wait_for(timeout=10_000)
    assert page.url.endswith("/signin?next=/dashboard")
    page.close()
