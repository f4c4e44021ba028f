"""The web UI in a real headless Chromium (Debian's, installed by scripts/test.sh)."""

from __future__ import annotations

import shutil
from pathlib import Path
from urllib.parse import urlparse

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


#: Screenshots the suite keeps (git-ignored), one per page a test looked at.
SHOTS = Path(__file__).resolve().parent / "artifacts" / "screenshots"

#: Every request the pages make to a host other than the test server.
offsite: list[str] = []


@pytest.fixture(scope="module")
def page(tmp_path_factory):
    if not shutil.which("chromium"):
        pytest.fail("chromium is missing: scripts/test.sh installs Debian's chromium package")
    from playwright.sync_api import sync_playwright

    SHOTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        context = browser.new_context(viewport={"width": 1400, "height": 1000})

        def guard(route, request):  # type: ignore[no-untyped-def]
            if urlparse(request.url).hostname not in ("127.0.0.1", "localhost"):
                offsite.append(request.url)
                route.abort()
            else:
                route.continue_()

        context.route("**/*", guard)
        yield context.new_page()
        browser.close()


@pytest.fixture(autouse=True)
def no_offsite_requests():
    offsite.clear()
    yield
    assert not offsite, f"the page contacted other hosts: {offsite[:5]}"


def test_ui_runs_a_saved_query_and_shows_the_table(server, page):
    page.goto(server.url + "sparql", wait_until="networkidle")
    page.select_option("#saved", "energy-projects-by-capacity")
    page.wait_for_selector("#saved-results table.kz-results tr td", timeout=30_000)
    page.locator(".yasqe_queryButton:visible").click()
    page.wait_for_selector(".tabPanel.active .yasr table.kz-results td", timeout=30_000)
    page.screenshot(path=str(SHOTS / "yasgui-saved-query.png"), full_page=True)
    text = page.inner_text(".tabPanel.active .yasr")
    assert "1,320" in text  # "a 1,320 MW coal-fired thermal power plant" (002), as a number
    assert "^^" not in text and "https://w3id.org" not in text  # labels, not raw terms
    link = page.locator(".tabPanel.active .yasr table.kz-results a").first
    assert link.get_attribute("href").startswith("/")  # a local page, not w3id.org
    assert link.get_attribute("title").startswith("https://w3id.org/kzgraph/")  # IRI on hover
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 1400  # the layout wraps instead of running off the screen


def test_query_forms_run_parameterised_queries(server, page):
    page.goto(server.url + "sparql", wait_until="networkidle")
    page.select_option("#saved", "investments-in-region")
    page.wait_for_selector("#saved-params input[name=region]")
    # every region of Kazakhstan is offered (searchable by name), not only those with projects
    offered = page.eval_on_selector_all("#choices-region option", "os => os.map(o => o.label)")
    assert {"Zhambyl Region", "Atyrau Region", "Kostanay Region"} <= set(offered)
    page.fill("#saved-params input[name=region]", "Zhambyl Region")  # a name, not an IRI
    page.click("#saved-form button[type=submit]")
    page.wait_for_selector("#saved-results table.kz-results td")
    results = page.inner_text("#saved-results")
    assert "Fufeng Group" in results and "Almaty" not in results
    assert "region=Zhambyl+Region" in page.inner_text("#saved-url")
    page.screenshot(path=str(SHOTS / "query-form-region.png"), full_page=True)
    page.select_option("#saved", "entity-by-label")
    page.wait_for_selector("#saved-params input[name=label]")
    page.fill("#saved-params input[name=label]", "TBEA")
    page.click("#saved-form button[type=submit]")
    page.wait_for_selector("#saved-results table.kz-results td")
    assert "TBEA Company Limited" in page.inner_text("#saved-results")


def test_editor_completes_from_the_project_ontology_only(server, page):
    page.goto(server.url + "sparql", wait_until="networkidle")
    page.evaluate(
        """() => { const y = kzgraphYasgui.getTab().getYasqe();
          y.setValue('SELECT * WHERE {\\n  ?s a kz:C\\n}'); y.focus();
          y.setCursor({line: y.lineCount() - 2, ch: 11}); }"""
    )
    page.keyboard.type("o")  # the user types; completion is offered from kzgraph's own terms
    page.keyboard.press("Control+Space")
    page.wait_for_selector(".CodeMirror-hints li", timeout=10_000)
    hints = page.inner_text(".CodeMirror-hints")
    assert "kz:Company" in hints
    page.screenshot(path=str(SHOTS / "editor-completion.png"))


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


def test_void_graph_pages_404_and_favicon_for_people(server, page):
    page.goto(server.url + ".well-known/void")
    assert "VoID / DCAT description" in page.inner_text("h1")
    assert "Entities per class" in page.inner_text("main")
    page.goto(server.url + "graph/002_97890c3330489398")
    heading = page.inner_text("h1")
    assert "58 commercial agreements" in heading  # the source article's title, not a raw IRI
    main = page.inner_text("main")
    assert "Fufeng Group" in main and "triples" in main
    page.screenshot(path=str(SHOTS / "named-graph-page.png"), full_page=True)
    response = page.goto(server.url + "id/company/no-such-firm")
    assert response.status == 404 and "Not found" in page.inner_text("h1")
    icon = page.request.get(server.url + "favicon.ico")
    assert icon.status == 200 and icon.headers["content-type"].startswith("image/")
    page.goto(server.url + "dumps/")
    assert page.locator("header a").count() > 3  # the site's header: a way back
    page.goto(server.url + "ontology/classes.html")
    page.click("text=← kzgraph endpoint")
    assert page.url == server.url


def test_network_page_names_a_firm_by_its_short_name_with_a_legend(server, page):
    page.goto(server.url + "network?focus=TBEA&depth=1", wait_until="networkidle")
    page.wait_for_function(
        "document.getElementById('status').textContent.includes('nodes')", timeout=30_000
    )
    assert page.locator("#problem").is_hidden()
    legend = page.inner_text("#legend")
    assert "Company (1)" in legend and "EnergyProject" in legend
    labels = page.evaluate("kzgraphNetwork.body.data.nodes.get().map((n) => n.label)")
    assert any("TBEA Company Limited" in label for label in labels)
    assert all("…" not in label for label in labels)
    page.wait_for_timeout(1500)
    page.screenshot(path=str(SHOTS / "network-tbea.png"))
    page.goto(server.url + "network?focus=TBEA+energy", wait_until="networkidle")
    page.wait_for_selector("#problem:not([hidden])")
    assert "did you mean" in page.inner_text("#problem")


def test_map_shows_regions_and_their_projects_without_tiles(server, page):
    page.goto(server.url + "map", wait_until="networkidle")
    page.wait_for_function("window.kzgraphMap !== undefined", timeout=30_000)
    assert page.locator("#map path.leaflet-interactive").count() == 20
    assert "20 regions, 10 with projects" in page.inner_text("#status")
    page.screenshot(path=str(SHOTS / "map.png"))
    tooltip = page.locator(".region-name", has_text="Zhambyl Region").get_attribute("id")
    page.locator(f"path[aria-describedby={tooltip}]").click(force=True)  # the region itself
    page.wait_for_selector(".leaflet-popup-content")
    popup = page.inner_text(".leaflet-popup-content")
    assert "Fufeng Group corn processing plant in Zhambyl Region" in popup
    assert "800,000,000 USD" in popup
    page.screenshot(path=str(SHOTS / "map-zhambyl-popup.png"))
    page.click(".leaflet-popup-content a >> text=Zhambyl Region")
    assert page.inner_text("h1") == "Zhambyl Region"


def test_a_refused_query_shows_the_server_s_message_not_zero_rows(server, page):
    page.goto(server.url + "sparql", wait_until="networkidle")
    page.evaluate("() => kzgraphYasgui.getTab().getYasqe().setValue('SELECT * WHERE { ?s ?p }')")
    page.locator(".yasqe_queryButton:visible").click()
    page.wait_for_selector(".tabPanel.active .yasr .kz-error", timeout=30_000)
    shown = page.inner_text(".tabPanel.active .yasr")
    assert "refused the query" in shown and "syntax error" in shown and "0 rows" not in shown
    assert "1:" in shown  # the position the server names (line:column)
    page.screenshot(path=str(SHOTS / "editor-refusal.png"))


def test_a_saved_query_s_editor_tab_has_its_parameter_bound(server, page):
    page.goto(server.url + "sparql", wait_until="networkidle")
    page.select_option("#saved", "place-profile")
    page.wait_for_function(
        "() => kzgraphYasgui.getTab().getYasqe().getValue().includes('VALUES')", timeout=30_000
    )
    text = page.evaluate("() => kzgraphYasgui.getTab().getYasqe().getValue()")
    assert "an example" in text and "west-kazakhstan" in text
    page.locator(".yasqe_queryButton:visible").click()
    page.wait_for_selector(".tabPanel.active .yasr table.kz-results td", timeout=30_000)
    assert "West Kazakhstan" in page.inner_text(
        ".tabPanel.active .yasr"
    ) or "Batys" in page.inner_text(".tabPanel.active .yasr")
    # the form's own value reaches the tab
    page.fill("#saved-params input[name=place]", "region:atyrau")
    page.click("#saved-form button[type=submit]")
    page.wait_for_function(
        "() => kzgraphYasgui.getTab().getYasqe().getValue().includes('region/atyrau')",
        timeout=30_000,
    )
    # and firms come as names, not IRIs
    page.wait_for_selector("#saved-results table.kz-results td")
    assert "Sinopec" in page.inner_text("#saved-results")


WORDS_CUT = """() => {
  let cut = [];
  for (const td of document.querySelectorAll(SEL)) {
    const node = td.firstChild && td.firstChild.nodeType === 3 ? td.firstChild
      : (td.querySelector('a') || {}).firstChild;
    if (!node || node.nodeType !== 3) continue;
    const text = node.textContent;
    const re = /[A-Za-z]{2,14}/g; let m;
    while ((m = re.exec(text))) {
      const r = document.createRange(); r.setStart(node, m.index); r.setEnd(node, m.index + m[0].length);
      const lines = new Set([...r.getClientRects()].map((q) => Math.round(q.top)));
      if (lines.size > 1) cut.push(m[0]);
    }
  }
  return cut;
}"""


def test_result_tables_do_not_cut_short_words(server, page):
    page.set_viewport_size({"width": 900, "height": 1000})
    try:
        page.goto(server.url + "sparql", wait_until="networkidle")
        page.select_option("#saved", "stated-figures")
        page.wait_for_selector("#saved-results table.kz-results td", timeout=30_000)
        cut = page.evaluate(WORDS_CUT.replace("SEL", "'#saved-results table.kz-results td'"))
        page.screenshot(path=str(SHOTS / "narrow-results.png"), full_page=True)
        assert cut == []
    finally:
        page.set_viewport_size({"width": 1400, "height": 1000})


def test_a_graph_page_s_query_link_opens_the_editor(server, page):
    page.goto(server.url + "graph/003_497b471c4106a90e", wait_until="networkidle")
    link = page.locator("a", has_text="query it")
    assert link.get_attribute("href").startswith("/sparql#query=")
    link.click()
    page.wait_for_function(
        "() => window.kzgraphYasgui && kzgraphYasgui.getTab().getYasqe().getValue()"
        ".includes('003_497b471c4106a90e')",
        timeout=30_000,
    )
    assert page.url.split("#")[0].endswith("/sparql")  # a page, not a downloaded file


def test_network_default_view_names_its_nodes_and_colours_project_kinds(server, page):
    page.goto(server.url + "network", wait_until="networkidle")
    page.wait_for_function("window.kzgraphNetwork !== undefined", timeout=30_000)
    page.wait_for_timeout(2500)  # the layout settles and fits the view
    shown = page.evaluate(
        """() => { const ns = Object.values(kzgraphNetwork.body.nodes);
                   return [ns.filter((n) => n.labelModule.visible()).length, ns.length]; }"""
    )
    assert shown[1] > 0 and shown[0] == shown[1], shown
    swatches = page.eval_on_selector_all(
        "#legend > span",
        "items => items.map(i => [i.textContent, i.querySelector('.swatch').style.background])",
    )
    projects = {text.split(" (")[0]: bg for text, bg in swatches if "Project" in text}
    assert len(projects) >= 2 and len(set(projects.values())) == len(projects), projects
    page.screenshot(path=str(SHOTS / "network-default.png"))


EXPLORE = "https://w3id.org/kzgraph/explore#"


def test_explore_builds_a_three_hop_query_and_shows_labelled_rows(server, page, stores):
    page.goto(server.url + "explore", wait_until="networkidle")
    page.wait_for_selector(".StartClassGroup .htmlSelectUiUxLists", timeout=30_000)
    start = page.locator(".StartClassGroup .htmlSelectUiUxLists")
    offered = set(start.inner_text().split("\n"))
    assert {"Project", "Company", "Country", "Region of Kazakhstan"} <= offered
    start.get_by_text("Project", exact=True).first.click()  # a person's first pick
    page.wait_for_selector(".EndClassGroup .htmlSelectUiUxLists", timeout=10_000)
    ends = page.locator(".EndClassGroup .htmlSelectUiUxLists").inner_text()
    assert "Company" in ends  # what a project links to, read from the shapes and the data
    # Project — investor — Company — headquarters country — China
    china = "https://w3id.org/kzgraph/id/country/CN"
    query = {
        "distinct": True, "order": None, "limit": 1000,
        "variables": [{"termType": "Variable", "value": v} for v in ("Project_1", "Company_2", "Country_3")],
        "branches": [{"line": {"s": "Project_1", "p": EXPLORE + "Project-investor", "o": "Company_2",
                               "sType": EXPLORE + "Project", "oType": EXPLORE + "Company", "values": []},
                      "children": [{"line": {"s": "Company_2", "p": EXPLORE + "Company-headquartersCountry",
                                             "o": "Country_3", "sType": EXPLORE + "Company",
                                             "oType": EXPLORE + "Country",
                                             "values": [{"label": "China", "rdfTerm": {"type": "uri", "value": china}}]},
                                    "children": []}]}],
    }  # fmt: skip
    page.evaluate("(q) => kzgraphBuilder.loadQuery(q)", query)
    page.wait_for_function(
        "() => document.getElementById('sparql').textContent.includes('investor')"
    )
    page.locator(".playBtn").click()
    page.wait_for_selector("#results table.kz-results td", timeout=30_000)
    page.screenshot(path=str(SHOTS / "explore-three-hops.png"), full_page=True)
    shown = page.eval_on_selector_all(
        "#results table.kz-results tr", "rows => rows.slice(1).map(r => r.cells[0].innerText)"
    )
    want = stores["oxigraph"].query(
        "SELECT DISTINCT ?l WHERE { ?p a/rdfs:subClassOf* kz:Project ; kz:investor ?f . "
        "?f kz:headquartersCountry country:CN . ?p rdfs:label ?l }"
    )
    assert set(shown) == {str(r[0]) for r in want.rows} and shown
    assert "https://w3id.org" not in page.inner_text("#results")  # labels, IRIs on hover
    # the generated SPARQL opens in the editor
    page.click("#open-editor")
    page.wait_for_function(
        "() => window.kzgraphYasgui && kzgraphYasgui.getTab().getYasqe().getValue().includes('investor')",
        timeout=30_000,
    )


def test_search_from_the_header_box_marks_words_and_links_entities(server, page):
    page.goto(server.url + "map", wait_until="networkidle")
    page.fill("header form.search input[name=q]", "Sinopec polyethylene")
    page.press("header form.search input[name=q]", "Enter")
    page.wait_for_selector("#hits li", timeout=30_000)
    marks = page.eval_on_selector_all("#hits mark", "ms => ms.map(m => m.textContent)")
    assert "Sinopec" in marks and "polyethylene" in marks
    link = page.locator('#hits a[href="/id/company/sinopec"]').first
    assert link.inner_text() == "Sinopec"
    page.screenshot(path=str(SHOTS / "search.png"), full_page=True)
    link.click()
    page.wait_for_selector("h1")
    assert page.inner_text("h1") == "Sinopec"


def test_a_table_with_a_sum_per_currency_in_the_browser(server, page, seed_texts):
    page.goto(server.url + "table", wait_until="networkidle")
    page.fill("input[name=class]", "Project")
    page.fill("input[name=group-by]", "region")
    page.fill("input[name=sum]", "amount")
    page.click("form.table-form button")
    page.wait_for_selector("table.kz-results td", timeout=30_000)
    rows = page.eval_on_selector_all(
        "table.kz-results tr", "rs => rs.slice(1).map(r => [...r.cells].map(c => c.innerText))"
    )
    page.screenshot(path=str(SHOTS / "table-sum.png"), full_page=True)
    units = {r[1] for r in rows}
    assert {"KZT", "USD"} <= units  # never one total across currencies
    almaty = [r for r in rows if r[0] == "Almaty Region" and r[1] == "USD"]
    assert almaty and almaty[0][3] == "" and "projected at $3.7 billion" in almaty[0][5]
    assert any("projected at $3.7 billion" in t for t in seed_texts.values())
