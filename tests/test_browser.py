"""The web UI in a real headless Chromium (Debian's, installed by scripts/test.sh)."""

from __future__ import annotations

import shutil

import pytest

from .server_process import Server

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
ARGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture(scope="module")
def server():
    s = Server("--workers", "1")
    yield s
    s.stop()


@pytest.fixture(scope="module")
def page(tmp_path_factory):
    if not shutil.which("chromium"):
        pytest.fail("chromium is missing: scripts/test.sh installs Debian's chromium package")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        context = browser.new_context(viewport={"width": 1400, "height": 1000})
        yield context.new_page()
        browser.close()


def test_ui_runs_a_saved_query_and_shows_the_table(server, page, tmp_path_factory):
    tmp_path = tmp_path_factory.getbasetemp()
    page.goto(server.url + "sparql", wait_until="networkidle")
    page.select_option("#saved", "energy-projects-by-capacity")
    page.wait_for_timeout(500)
    page.locator(".yasqe_queryButton:visible").click()
    page.wait_for_selector(".tabPanel.active .yasr table tbody tr", timeout=30_000)
    page.screenshot(path=str(tmp_path / "yasgui.png"))
    text = page.inner_text(".tabPanel.active .yasr")
    assert "1320" in text  # "a 1,320 MW coal-fired thermal power plant" (002)


def test_entity_page_in_the_browser(server, page):
    page.goto(server.url + "id/company/fufeng-group")
    assert page.inner_text("h1") == "Fufeng Group"
    assert "plans to invest $800 million" in page.inner_text("main")
    page.click("text=Fufeng Group corn processing plant in Zhambyl Region")
    assert page.inner_text("h1") == "Fufeng Group corn processing plant in Zhambyl Region"


def test_api_docs_page_renders(server, page):
    page.goto(server.url + "api/docs", wait_until="networkidle")
    page.wait_for_selector(".opblock", timeout=30_000)
    assert "chinese-investors-by-region" in page.inner_text("#swagger-ui")


def test_network_view_draws_a_neighbourhood(server, page):
    page.goto(server.url + "network?focus=region:zhambyl&depth=1", wait_until="networkidle")
    page.wait_for_function(
        "document.getElementById('status').textContent.includes('nodes')", timeout=30_000
    )
    status = page.inner_text("#status")
    assert status.startswith("5 nodes")  # Zhambyl, its two projects, a facility, Kazakhstan
    assert page.locator("#net canvas").count() == 1


def test_docs_site_through_the_ontology_iri(server, page):
    page.goto(server.url + "ontology", wait_until="networkidle")
    assert "Class model" in page.inner_text("main")
    page.click("text=Classes")
    assert "Instances in the graph" in page.inner_text("main")
