"""Every saved query, run on the seeded graph, against figures read from the articles.

Expected values are taken from the article text with a pattern (the sentence is named beside
each), never copied from a query's output.
"""

from __future__ import annotations

import re
from decimal import Decimal

import pycountry
import pytest
from rdflib import BNode, Literal, URIRef
from rdflib.namespace import XSD

from kzgraph.core.figures import parse_stated
from kzgraph.core.namespaces import KZ, entity
from kzgraph.core.settings import Settings
from kzgraph.docs.catalogue_page import catalogue_markdown
from kzgraph.queries.catalogue import ParameterError, QueryNotFoundError, get_query, load_catalogue
from kzgraph.queries.running import run_saved, to_dataframe

from .conftest import ROOT, article_figure, paragraph_with

S000, S001, S002, S003, S004 = (
    "000_096687169d175def",
    "001_eb158449043a4115",
    "002_97890c3330489398",
    "003_497b471c4106a90e",
    "004_2b059f08c0a5d038",
)


# ---- the catalogue itself ---------------------------------------------------------


def test_catalogue_has_at_least_25_documented_queries():
    catalogue = load_catalogue()
    assert len(catalogue) >= 25
    for name, saved in catalogue.items():
        assert saved.summary, f"{name} has no #+ summary"
        assert saved.tags, f"{name} has no #+ tags"


@pytest.mark.parametrize("name", sorted(load_catalogue()))
def test_query_runs_the_same_on_both_engines(stores, name):
    saved = get_query(name)
    bindings = saved.bind(saved.defaults)  # required parameters take their #+ example
    a = stores["rdflib"].query(saved.text, bindings)
    b = stores["oxigraph"].query(saved.text, bindings)
    assert a.variables == b.variables

    def canon(rows):
        out = []
        for row in rows:
            cells = []
            for v in row:
                if isinstance(v, BNode):
                    cells.append("_:b")
                elif isinstance(v, Literal) and " " in str(v) and v.datatype in (None, XSD.string):
                    # GROUP_CONCAT's order is free
                    cells.append(" ".join(sorted(re.split(r" \| | ", str(v)))))
                elif isinstance(v, Literal):
                    py = v.toPython()
                    cells.append(py.normalize() if isinstance(py, Decimal) else py)
                else:
                    cells.append(v)
            out.append(tuple(str(c) for c in cells))
        return sorted(out)

    assert canon(a.rows) == canon(b.rows)


@pytest.mark.parametrize("name", sorted(load_catalogue()))
def test_parameters_are_projected(name):
    # Oxigraph binds a variable only if the SELECT projects it (SEP-0007 substitution).
    saved = get_query(name)
    select = re.search(r"SELECT(.*?)WHERE", saved.text, re.S)
    assert select
    for param in saved.parameters:
        assert f"?{param.variable}" in select.group(1), f"{name}: ?{param.variable} not projected"


def test_catalogue_page_is_up_to_date(settings):
    page = (settings.queries_dir / "README.md").read_text(encoding="utf-8")
    assert page == catalogue_markdown(load_catalogue()), (
        "run: kzgraph queries --format md > queries/README.md"
    )


# ---- parameters ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "hostile",
    [
        'x" } UNION { ?s ?p ?o } #',
        "} ; DROP ALL ; {",
        'tbea" ) } SELECT * WHERE { ?a ?b ?c } #',
        '\\"}}}',
    ],
)
def test_hostile_literal_parameter_changes_nothing(run, hostile):
    for engine in ("oxigraph", "rdflib"):
        assert run("entity-by-label", engine=engine, label=hostile) == []


@pytest.mark.parametrize(
    "hostile",
    [
        "region:zhambyl> } UNION { ?s ?p ?o",
        "http://x/ } UNION {",
        "<http://x/> . ?a ?b ?c",
        "not an iri",
    ],
)
def test_hostile_iri_parameter_is_refused(hostile):
    with pytest.raises(ParameterError, match="expects an IRI"):
        get_query("investments-in-region").bind({"region": hostile})


def test_missing_unknown_and_mistyped_parameters():
    saved = get_query("entity-neighbourhood")
    with pytest.raises(ParameterError, match="unknown parameter 'nope'"):
        saved.bind({"nope": "x"})
    saved.meta["defaults"] = []
    with pytest.raises(ParameterError, match="missing required parameter entity"):
        saved.bind({})


def test_typed_parameter_kinds():
    from kzgraph.queries.catalogue import _parameter

    year = _parameter("__", "year", "_xsd_gYear")
    assert not year.required and year.datatype is not None
    with pytest.raises(ParameterError, match="expects xsd:integer"):
        _parameter("_", "count", "_integer").to_term("many")
    assert _parameter("_", "name", "_en").to_term("TBEA") == Literal("TBEA", lang="en")


def test_unknown_query_suggests_names():
    with pytest.raises(QueryNotFoundError, match="did you mean investments-in-region"):
        get_query("investments-in-regoin")


# ---- the headline question ---------------------------------------------------------------

#: (source, firm as the article writes it, region words in the same paragraph, region IRI slug)
HEADLINE = [
    (S002, "Fufeng Group", None, "zhambyl"),
    (S002, "Xinjiang Lihua Group Co Ltd", "Turkistan region", "turkistan"),
    (S002, "Dalian Hesheng Holdings", "Akmola region", "akmola"),
    (S002, "TBEA Company Limited", "Almaty region", "almaty-region"),
    (S003, "Sinopec", "Atyrau region", "atyrau"),
    (S003, "CNPC", "Shymkent", "shymkent"),
    (S003, "China Huadian Corporation", "Mangystau region", "mangystau"),
    (S003, "Fujian Hengwang Investment", "Zhambyl region", "zhambyl"),
    (S003, "Jiaxin International", "Almaty region", "almaty-region"),
    (S000, "INO Hong Kong International Industrial Company", None, "west-kazakhstan"),
    (S000, "Shihong Trading Company", None, "west-kazakhstan"),
    (S000, "Zhejiang Haihe Environmental Technology", None, "west-kazakhstan"),
]


def test_headline_lists_every_chinese_firm_tied_to_a_region(run, settings, union):
    from rdflib.namespace import RDFS

    rows = run("chinese-investors-by-region")
    found = {(str(union.value(r["firm"], RDFS.label)), r["region"]) for r in rows}
    expected = set()
    for stem, firm, region_words, slug in HEADLINE:
        if region_words:
            paragraph_with(settings, stem, firm, region_words)
        expected.add((firm, entity("region", slug)))
    assert expected <= found
    assert {r["firm"] for r in rows} == {
        f
        for f in union.subjects(KZ.headquartersCountry, entity("country", "CN"))
        if any(
            True
            for role in (KZ.investor, KZ.developer, KZ.partner)
            for _p in union.subjects(role, f)
        )
    }


def test_headline_keeps_firms_whose_region_is_not_stated(run, seed_texts):
    """A firm investing somewhere the article does not name is still an answer (issue 12)."""
    rows = run("chinese-investors-by-region")
    wanlin = [r for r in rows if r["firm"] == entity("company", "qingdao-wanlin-food")]
    # "Qingdao Wanlin Food Corporation is investing $89 million to establish a plant ..." (002)
    assert wanlin and all(r["region"] == "not stated" for r in wanlin)
    assert Decimal(wanlin[0]["amount"]) == article_figure(
        seed_texts, S002, r"investing \$\d+ million"
    )


def test_headline_amounts_as_stated(run, seed_texts):
    rows = {r["project"]: r for r in run("chinese-investors-by-region")}
    fufeng = rows[entity("project", "fufeng-corn-processing-plant")]
    # "China’s Fufeng Group plans to invest $800 million in building a plant ..."
    assert Decimal(fufeng["amount"]) == article_figure(seed_texts, S002, r"invest \$\d+ million")
    assert fufeng["currency"] == "USD" and fufeng["statedAs"] == "$800 million"
    sinopec = rows[entity("project", "sinopec-atyrau-polyethylene-plant")]
    # "This facility will have a capacity of 1.25 million tonnes per year, backed by $7.4 billion"
    assert Decimal(sinopec["amount"]) == article_figure(
        seed_texts, S003, r"\$[\d.]+ billion in investments"
    )


def test_investments_in_one_region(run, settings):
    rows = run("investments-in-region", region="region:zhambyl")
    firms = {r["firm"] for r in rows}
    paragraph_with(settings, S003, "Zhambyl region", "Fujian Hengwang Investment")
    assert firms == {
        entity("company", "fufeng-group"),
        entity("company", "fujian-hengwang-investment"),
    }


def test_investments_by_one_firm(run, seed_texts):
    rows = run("investments-by-firm", firm="company:tbea")
    projects = {r["project"] for r in rows}
    assert (
        len(projects) == 4
    )  # "A 1000 MW power plant and a transformer plant ..., 1,320 MW coal-fired"
    total = [r for r in rows if r["amount"] is not None]
    # "The total investment for the energy infrastructure is projected at $3.7 billion."
    assert [Decimal(r["amount"]) for r in total] == [
        article_figure(seed_texts, S002, r"projected at \$[\d.]+ billion")
    ]


def test_investments_in_sector_includes_narrower_sectors(run):
    rows = run("investments-in-sector", sector="sector:energy")
    projects = {r["project"] for r in rows}
    assert entity("project", "tbea-1320-mw-coal-power-plant") in projects  # electric-power ⊂ energy
    assert entity("project", "almaty-region-pumped-storage-plant") in projects  # renewable ⊂ power
    assert entity("project", "fufeng-corn-processing-plant") not in projects


def test_investment_totals_never_mix_currencies(run, seed_texts):
    rows = run("investment-total-by-region")
    assert all(r["currency"] in ("USD", "KZT") for r in rows)
    west = [r for r in rows if r["region"] == entity("region", "west-kazakhstan")]
    assert [r["currency"] for r in west] == ["KZT"]
    # The tenge figures of the two projects are added; "Another 53 billion tenge is expected in
    # 2025" may or may not be part of the 78.8 billion, so it is listed beside, never added.
    sentences = re.split(r"(?<=\.) ", seed_texts[S000])
    added = [
        m
        for s in sentences
        if not s.startswith("Another")
        for m in re.findall(r"[\d.]+ billion tenge", s)
    ]
    aside = [
        m
        for s in sentences
        if s.startswith("Another")
        for m in re.findall(r"[\d.]+ billion tenge", s)
    ]
    assert len(added) == 2 and len(aside) == 1
    assert Decimal(west[0]["firmTotal"]) == sum(parse_stated(m) for m in added)
    assert Decimal(west[0]["total"]) == Decimal(west[0]["firmTotal"])
    assert aside[0] in west[0]["notAdded"]
    assert aside[0] not in west[0]["contributing"]


def test_investment_total_by_sector(run, seed_texts):
    rows = {
        (r["topSector"], r["currency"]): Decimal(r["total"])
        for r in run("investment-total-by-sector")
    }
    energy = URIRef("https://w3id.org/kzgraph/vocab/sector/energy")
    assert rows[(energy, "USD")] == article_figure(
        seed_texts, S002, r"projected at \$[\d.]+ billion"
    )
    assert rows[(energy, "KZT")] == article_figure(seed_texts, S000, r"[\d.]+ billion tenge")


def test_investment_total_by_firm(run, seed_texts):
    rows = {
        (r["firm"], r["role"], r["currency"]): Decimal(r["total"])
        for r in run("investment-total-by-firm")
    }
    assert rows[(entity("company", "qingdao-wanlin-food"), "investor", "USD")] == article_figure(
        seed_texts, S002, r"investing \$\d+ million"
    )


def test_chinese_capital_projects(run, seed_texts):
    projects = {r["project"] for r in run("chinese-capital-projects")}
    assert "projects involving Chinese capital" in seed_texts[S000]
    assert entity("project", "batys-power-gas-turbine-expansion") in projects
    assert entity("project", "zhaikpetroleum-methanol-complex") in projects
    assert "with Chinese participation" in seed_texts[S004]
    assert entity("project", "aktobe-oil-and-gas") in projects


def test_energy_projects_ranked_by_capacity(run, seed_texts):
    rows = run("energy-projects-by-capacity")
    capacities = [Decimal(r["capacity"]) for r in rows if r["capacity"] is not None]
    stated = {
        parse_stated(m)
        for stem in (S000, S002, S003)
        for m in re.findall(r"[\d,]+ MW", seed_texts[stem])
    }
    assert capacities == sorted(stated, reverse=True)
    # projects with no MW figure are answers too, ranked after the stated ones
    unstated = [r["project"] for r in rows if r["capacity"] is None]
    assert rows[-len(unstated) :] == [r for r in rows if r["capacity"] is None]
    assert "Pumped Storage Power Plant in the Almaty Region" in seed_texts[S001]
    assert entity("project", "almaty-region-pumped-storage-plant") in unstated
    assert "Nuclear energy cooperation with CNNC" in seed_texts[S003]
    assert entity("project", "cnnc-nuclear-cooperation") in unstated


def test_projects_by_status(run, seed_texts):
    building = {r["project"] for r in run("projects-by-status", status="status:under-construction")}
    assert "a polyethylene plant is being built" in seed_texts[S003]
    assert entity("project", "sinopec-atyrau-polyethylene-plant") in building
    every = run("projects-by-status")
    stages = {r["status"].split("/")[-1] for r in every}
    assert {"under-discussion", "planned", "under-construction", "completed"} <= stages
    assert all(r["statusStatedAs"] for r in every)


def test_projects_with_jobs(run, seed_texts):
    rows = run("projects-with-jobs")
    jobs = sorted(Decimal(r["jobs"]) for r in rows if r["jobs"] is not None)
    stated = sorted(
        parse_stated(m)
        for m in re.findall(r"[\d,]+ jobs|employ around \d+ people", seed_texts[S002])
    )
    assert jobs == stated
    # a claim without a number is a fact too, kept with the source's words
    unquantified = {(r["project"], r["statedAs"]) for r in rows if r["jobs"] is None}
    claim = re.search(r"will create new jobs", seed_texts[S000])
    assert claim
    assert (entity("project", "zhaikpetroleum-methanol-complex"), claim.group(0)) in unquantified


def test_agreements_and_events(run, seed_texts):
    rows = run("agreements-and-events")
    counts = {Decimal(r["count"]) for r in rows if r["count"] is not None}
    assert counts == {
        article_figure(seed_texts, S002, r"\d+ commercial agreements"),
        article_figure(seed_texts, S003, r"more than \d+ agreements"),
    }
    totals = run("event-agreement-totals")
    # "over $24 billion" is a floor, never an exact total
    assert {Decimal(r["atLeastValue"]) for r in totals} == {
        article_figure(seed_texts, S002, r"over \$\d+ billion"),
        article_figure(seed_texts, S003, r"over \$\d+ billion"),
    }
    assert all(r["exactValue"] is None for r in totals)
    assert all("over $" in r["valueStated"] for r in totals)
    # "more than 70 agreements" is a floor too; "58 commercial agreements" is exact
    by_count = {r["countStated"]: (r["exactCount"], r["atLeastCount"]) for r in totals}
    exact = article_figure(seed_texts, S002, r"\d+ commercial agreements")
    floor = article_figure(seed_texts, S003, r"more than \d+ agreements")
    assert {(Decimal(e) if e is not None else None, Decimal(a) if a is not None else None)
            for e, a in by_count.values()} == {(exact, None), (None, floor)}  # fmt: skip
    assert all(r["source"] for r in totals)


def test_corridors_list_countries_traversed(run, seed_texts):
    rows = {r["corridor"]: r for r in run("corridors")}
    route = rows[entity("corridor", "chengdu-lodz-container-route")]
    sentence = re.search(r"passed through the territories of ([^.]+)\.", seed_texts[S004]).group(1)
    names = re.split(r", | and ", sentence)
    renamed = {"Turkey": "Türkiye"}  # ISO 3166 renamed it in 2022; the article uses the old name
    codes = {pycountry.countries.search_fuzzy(renamed.get(n, n))[0].alpha_2 for n in names}
    assert codes <= set(route["countries"].split())
    assert route["mode"] == "rail"


def test_corridor_figures(run, seed_texts):
    rows = run("corridor-figures")
    trans = {
        (r["measure"].split("/")[-1], Decimal(r["value"]))
        for r in rows
        if r["corridor"] == entity("corridor", "trans-caspian-route")
    }
    # "In 2024 alone, 4.5 million tonnes of cargo ... a 62 per cent increase ... 10 million tonnes"
    assert (
        "cargo-volume",
        article_figure(seed_texts, S003, r"[\d.]+ million tonnes of cargo"),
    ) in trans
    assert ("growth", article_figure(seed_texts, S003, r"\d+ per cent increase")) in trans
    assert (
        "cargo-volume",
        article_figure(seed_texts, S003, r"\d+ million tonnes in the near future"),
    ) in trans


def test_corridor_links(run):
    rows = run("corridor-links")
    links = {(r["corridor"], r["link"], r["linked"]) for r in rows}
    assert (
        entity("corridor", "chengdu-lodz-container-route"),
        "operator",
        entity("company", "ktz-express"),
    ) in links
    assert (
        entity("corridor", "dostyk-moyynty"),
        "project on the corridor",
        entity("project", "dostyk-moyynty-second-track"),
    ) in links


def test_west_kazakhstan_trade(run, seed_texts):
    rows = {r["direction"].split("/")[-1]: r for r in run("west-kazakhstan-trade")}
    # "trade turnover ... reached $88.4 million — a 25% increase"; "Exports grew by 50%, totaling
    # $1.8 million."; "Imports amounted to $86.6 million, up by around 25%."
    assert Decimal(rows["turnover"]["value"]) == article_figure(
        seed_texts, S000, r"reached \$[\d.]+ million"
    )
    assert Decimal(rows["export"]["growth"]) == article_figure(seed_texts, S000, r"grew by \d+%")
    assert Decimal(rows["import"]["value"]) == article_figure(
        seed_texts, S000, r"amounted to \$[\d.]+ million"
    )
    assert rows["import"]["growthQualifier"] == "around"


def test_trade_by_commodity(run, settings):
    imports = run("trade-by-commodity", direction="dir:import")
    text = (settings.seeds_dir / f"{S000}.txt").read_text(encoding="utf-8")
    # The bulleted list after "Western Kazakhstan imported $86.6 million worth of goods from China."
    block = text.split("worth of goods from China.", 1)[1].split("Ulysmedia.kz", 1)[0]
    listed = [parse_stated(line) for line in block.splitlines() if line.startswith("- ")]
    values = [Decimal(r["value"]) for r in imports]
    assert values == sorted(listed, reverse=True)


def test_people_and_offices(run, seed_texts):
    rows = {(r["person"], r["roleTitle"]) for r in run("people-and-offices")}
    assert "First Vice Prime Minister Roman Sklyar" in seed_texts[S002]
    assert (entity("person", "roman-sklyar"), "First Vice Prime Minister") in rows
    assert "First Vice Premier Ding Xuexiang" in seed_texts[S003]
    assert (entity("person", "ding-xuexiang"), "First Vice Premier") in rows


def test_people_at_events(run):
    rows = run("people-at-events")
    visit = [
        r for r in rows if r["role"] == "visitor" and r["person"] == entity("person", "xi-jinping")
    ]
    # "the upcoming state visit of the Chinese leader to Astana, scheduled for June 17-18, 2025"
    assert any(str(r["date"]) == "2025-06-17" for r in visit)


def test_timeline_is_in_date_order(run):
    dates = [str(r["date"]) for r in run("timeline")]
    assert dates == sorted(dates)
    assert dates[0] == "2013"  # "the Chinese Belt and Road initiative, launched in 2013"


def test_fact_sources(run, seed_texts):
    rows = run("fact-sources", entity="company:huawei")
    assert {r["file"] for r in rows} == {f"{S002}.txt", f"{S003}.txt"}
    assert all("Huawei" in r["quotation"] for r in rows)


def test_facts_from_source(run, dataset):
    from kzgraph.core.namespaces import GRAPH

    rows = run("facts-from-source", source=f"source:{S001}")
    graph = dataset.graph(GRAPH[S001])
    assert rows
    assert all(isinstance(r["subject"], BNode) or (r["subject"], None, None) in graph for r in rows)


def test_conflicting_figures(run, seed_texts):
    rows = {r["measure"].split("/")[-1]: r for r in run("conflicting-figures")}
    assert set(rows) == {"company-count", "investment-stock"}
    firms = rows["company-count"]
    assert {Decimal(firms["value1"]), Decimal(firms["value2"])} == {
        article_figure(seed_texts, S001, r"over [\d,]+ businesses"),
        article_figure(seed_texts, S003, r"Over [\d,]+ Chinese companies"),
    }


def test_stated_figures(run, seed_texts):
    rows = run("stated-figures")
    share = [r for r in rows if r["measure"].endswith("/share")]
    assert "approximately half" in seed_texts[S001]
    assert [Decimal(r["value"]) for r in share] == [Decimal(50)]


def test_entity_neighbourhood(run):
    rows = run("entity-neighbourhood", entity="region:zhambyl")
    incoming = {r["other"] for r in rows if r["direction"] == "in"}
    assert entity("project", "fufeng-corn-processing-plant") in incoming
    assert entity("project", "fujian-hengwang-steel-plant") in incoming


def test_entity_by_label(run):
    rows = run("entity-by-label", label="TBEA")
    assert entity("company", "tbea") in {r["entity"] for r in rows}


def test_co_investment(run, settings):
    region_pairs = {(r["region"], r["firm1"], r["firm2"]) for r in run("co-investment-by-region")}
    assert (
        entity("region", "zhambyl"),
        entity("company", "fufeng-group"),
        entity("company", "fujian-hengwang-investment"),
    ) in region_pairs
    sector_pairs = run("co-investment-by-sector")
    assert all(r["firm1"] != r["firm2"] for r in sector_pairs)
    # "renewable energy projects in collaboration with China Power International Holding and China Energy"
    paragraph_with(
        settings,
        S003,
        "renewable energy projects",
        "China Power International Holding",
        "China Energy",
    )
    renewable = {
        (r["firm1"], r["firm2"])
        for r in sector_pairs
        if str(r["sector"]).endswith("/renewable-energy")
    }
    assert (
        entity("company", "china-energy"),
        entity("company", "china-power-international-holding"),
    ) in renewable
    event_pairs = {(r["firm1"], r["firm2"]) for r in run("co-investment-by-event")}
    paragraph_with(settings, S002, "Huawei", "YTO Express")
    assert (entity("company", "huawei"), entity("company", "yto-express")) in event_pairs


def test_quality_views(run, settings):
    no_amount = {r["project"] for r in run("projects-without-amount")}
    assert entity("project", "jiaxin-tungsten-processing-plant") in no_amount
    assert entity("project", "tbea-1000-mw-power-plant") not in no_amount  # its parent has one
    no_region = {r["project"] for r in run("projects-without-region")}
    wanlin = paragraph_with(settings, S002, "Qingdao Wanlin")
    assert "region" not in wanlin
    assert entity("project", "qingdao-wanlin-onion-dehydration-plant") in no_region
    no_status = {r["project"] for r in run("projects-without-status")}
    assert entity("project", "almaty-region-pumped-storage-plant") in no_status


def test_dataframe(stores):
    pandas = pytest.importorskip("pandas")
    result = run_saved("energy-projects-by-capacity", store=stores["oxigraph"])
    frame = to_dataframe(result)
    assert isinstance(frame, pandas.DataFrame)
    assert list(frame.columns) == result.variables
    assert frame["capacity"].max() == max(float(r[1]) for r in result.rows if r[1] is not None)


def test_conflicts_compare_capacities_and_jobs_across_sources(tmp_path):
    """A capacity stated differently by two sources is listed with both; one source's two
    figures for now and later (the Trans-Caspian route's 4.5 and 10 million tonnes) are not."""
    import shutil

    from kzgraph.queries.running import run_saved

    root = tmp_path / "project"
    for folder in ("ontology", "graph", "queries"):
        shutil.copytree(ROOT / folder, root / folder)
    plant = "https://w3id.org/kzgraph/id/project/sinopec-atyrau-polyethylene-plant"
    (root / "graph" / "documents").mkdir(exist_ok=True)
    # made up for this test, in a copy: a second source giving the plant another capacity
    (root / "graph" / "documents" / "other.trig").write_text(
        f"""@prefix kz: <https://w3id.org/kzgraph/ontology#> .
@prefix prov: <http://www.w3.org/ns/prov#> .
<https://w3id.org/kzgraph/graph/other> {{
  <https://w3id.org/kzgraph/graph/other> prov:wasDerivedFrom
      <https://w3id.org/kzgraph/id/source/000_096687169d175def> .
  <{plant}> kz:quantity [ kz:measure <https://w3id.org/kzgraph/vocab/measure/production-capacity> ;
      kz:unit <https://w3id.org/kzgraph/vocab/unit/tonne-per-year> ; kz:value 1000000.0 ;
      kz:statedAs "1 million tonnes a year" ] .
}}
""",
        encoding="utf-8",
    )
    rows = run_saved("conflicts-and-revisions", settings=Settings.discover(root)).dicts()
    quantities = {
        (str(r["statedAs"]), str(r["file"]))
        for r in rows
        if str(r["kind"]) == "different quantities"
    }
    assert quantities == {
        ("1.25 million tonnes per year", "003_497b471c4106a90e.txt"),
        ("1 million tonnes a year", "000_096687169d175def.txt"),
    }
