"""The whole graph, grown past the seeds from public articles cited by reference, keeps the rules.

The other tests read the seeded graph (tests/conftest.py); these read the checkout as users get
it: sixty-odd articles registered by address, their facts imported from the tables in
curation/, side by side with the seeds' quoted facts.
"""

from __future__ import annotations

import pytest
from rdflib import RDF, URIRef
from rdflib.namespace import PROV

from kzgraph.core.namespaces import KZ
from kzgraph.core.settings import Settings
from kzgraph.graph.loading import load
from kzgraph.network.projections import largest_components
from kzgraph.queries.running import run_saved
from kzgraph.queries.stats import summary_of
from kzgraph.sources.registry import records
from kzgraph.store.engines import open_store
from kzgraph.validation.lint import ERROR, lint
from kzgraph.validation.report import validate

from .conftest import CHECKOUT

FUFENG = URIRef("https://w3id.org/kzgraph/id/project/fufeng-corn-processing-plant")


@pytest.fixture(scope="module")
def grown() -> Settings:
    return Settings.discover(CHECKOUT)


@pytest.fixture(scope="module")
def grown_dataset(grown):
    return load(grown)


def test_the_grown_graph_is_clean_and_conforms(grown, grown_dataset):
    assert not [f for f in lint(grown) if f.severity == ERROR]
    assert validate(dataset=grown_dataset, settings=grown).conforms


def test_sources_cited_by_reference_keep_no_text_and_are_cited_by_locators(grown, grown_dataset):
    cited = [r for r in records(grown) if r.cited]
    assert len(cited) >= 30, "the growth registers its articles by reference"
    kept = {p.stem for p in (CHECKOUT / "sources").iterdir()}
    assert not {r.id for r in cited} & kept, "no copy of a cited article's text is kept"
    by_source: dict[URIRef, set[str]] = {}
    for d, _p, source, _g in grown_dataset.quads((None, PROV.entity, None, None)):
        kinds = by_source.setdefault(source, set())
        if (d, KZ.quotation, None, None) in grown_dataset:
            kinds.add("quotation")
        if (d, KZ.locator, None, None) in grown_dataset:
            kinds.add("locator")
    for rec in cited:
        assert by_source.get(rec.iri, set()) <= {"locator"}, f"{rec.id} is cited by locators only"
    # every article counts, even one whose rows only restate what the graph had: its locator is
    # cited by the firms and projects it names
    assert [rec.id for rec in cited if not by_source.get(rec.iri)] == []


def test_conflicting_figures_from_different_sources_are_listed_side_by_side(grown):
    store = open_store("oxigraph", settings=grown)
    rows = run_saved("conflicts-and-revisions", store=store).dicts()
    amounts = {
        (str(r["statedAs"]), str(r["file"]))
        for r in rows
        if str(r["subject"]) == str(FUFENG) and str(r["kind"]) == "different amounts"
    }
    # the seeds say $800 million; articles cited by reference say $300-350 million, 420 billion
    # tenge: every claim is kept with its source, none summed or merged away
    said = {s for s, _file in amounts}
    assert {"$800 million", "$300-350 million", "420 billion tenge"} <= said, said
    assert len({f for _s, f in amounts}) >= 2
    # each claim names its article (its file, or its address when cited by reference), never
    # the tracker table that carried the row
    urls = {r.url for r in records(grown) if r.cited}
    files = {r.file.name for r in records(grown) if r.file is not None and not r.cited}
    named = {str(r["file"]) for r in rows}
    assert named <= urls | files and named & urls
    assert not {f for f in named if f.endswith(".csv")}, "a table is named instead of an article"
    # a stage read from a cited article counts as a stated stage
    stages = [r for r in rows if str(r["kind"]) == "several stages stated"]
    assert {str(r["file"]) for r in stages} & urls


def test_sources_per_entity_count_articles_not_tables(grown):
    store = open_store("oxigraph", settings=grown)
    rows = run_saved("entities-in-several-sources", store=store).dicts()
    [fufeng] = [r for r in rows if str(r["entity"]) == str(FUFENG)]
    files = str(fufeng["files"]).split()
    assert len(files) == int(fufeng["sources"]) and not [f for f in files if f.endswith(".csv")]


def test_growth_widens_coverage(grown, grown_dataset):
    from kzgraph.store.engines import OxigraphStore

    store = OxigraphStore()
    store.load_dataset(grown_dataset)
    counts = summary_of(store)
    # the targets for the growth: 100 projects, 80 firms, 12 regions, 30 articles, and a
    # company-project component holding most of the nodes
    assert counts["regions with projects"] >= 12
    assert counts["projects"] >= 100 and counts["firms (kz:Company)"] >= 80
    assert counts["sources cited by reference"] >= 30
    for name, (nodes, largest) in largest_components(store, grown).items():
        assert largest * 2 > nodes, f"{name}: largest component {largest} of {nodes} nodes"
    assert (URIRef("https://w3id.org/kzgraph/id/source/x"), RDF.type, None) not in grown_dataset
