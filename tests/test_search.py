"""Full-text search: the index against the data and the articles, the CLI, the API and the page."""

from __future__ import annotations

import re
import sqlite3
from pathlib import Path

import httpx
import pytest
from click.testing import CliRunner
from hypothesis import given
from hypothesis import strategies as st

from kzgraph.cli import main
from kzgraph.queries import search
from kzgraph.queries.running import run_saved
from kzgraph.store import state as store_state
from kzgraph.store.engines import OxigraphStore

from .conftest import normalise

KZ = "https://w3id.org/kzgraph/ontology#"


@pytest.fixture(scope="module")
def index(stores) -> search.SearchIndex:
    store = stores["oxigraph"]
    return search.SearchIndex.build(store)


@given(st.text(max_size=40))
def test_no_typed_text_breaks_the_fts5_syntax(words):
    conn = sqlite3.connect(":memory:")
    conn.execute("CREATE VIRTUAL TABLE t USING fts5(x)")
    try:
        query = search.expression(words)
    except search.SearchError as exc:
        assert "give at least one word" in str(exc)
        assert not re.search(r"\w", words)
        return
    conn.execute("SELECT * FROM t WHERE t MATCH ?", (query,)).fetchall()


@pytest.mark.parametrize("word", ["tenge", "polyethylene", "Huawei", "agreements", "railway"])
def test_quotation_hits_are_the_sentences_the_saved_query_finds(index, stores, word):
    """Two routes to one answer: the FTS index, and SPARQL CONTAINS in search-quotations."""
    hits = index.search(word, limit=search.MOST_HITS, kind="quotation")
    rows = run_saved("search-quotations", {"text": word}, store=stores["oxigraph"]).dicts()
    by_sparql = {
        str(r["quotation"])
        for r in rows
        if re.search(rf"\b{re.escape(word)}", str(r["quotation"]), re.IGNORECASE)
    }
    assert by_sparql, f"the articles quote no sentence with {word!r}"
    assert {h.text for h in hits} == by_sparql
    for h in hits:
        cited = {str(r["entity"]) for r in rows if str(r["quotation"]) == h.text and r["entity"]}
        assert {e.iri for e in h.entities} == cited or not cited


def test_a_quoted_hit_is_the_article_s_sentence_with_its_entities(index, seed_texts):
    hits = index.search("polyethylene Sinopec", kind="quotation")
    assert hits
    sentence = hits[0]
    assert "<mark>Sinopec</mark>" in sentence.marked_html()
    ((source_iri, _label),) = sentence.sources
    stem = source_iri.rsplit("/", 1)[-1]
    assert normalise(sentence.text) in seed_texts[stem]  # the article says it, word for word
    about = {e.iri.rsplit("/", 1)[-1] for e in sentence.entities}
    assert "sinopec" in about
    assert {e.class_label for e in sentence.entities} >= {"Company"}


def test_names_in_every_language_are_found(index, stores):
    # a name that is not in English, read from the data, must be found by its own words
    row = (
        stores["oxigraph"]
        .query(
            "SELECT ?e ?n WHERE { ?e rdfs:label|skos:altLabel ?n FILTER(LANG(?n) = 'kk') } LIMIT 1"
        )
        .rows
    )
    assert row, "the reference data carries Kazakh names"
    entity, name = (str(x) for x in row[0])
    hits = index.search(f'"{name}"', kind="name", limit=50)
    assert entity in {h.entity.iri for h in hits}


def test_a_class_filter_takes_subclasses_and_refuses_unknown_names(index, stores):
    project = index.resolve_class("Project")
    assert project == KZ + "Project"
    hits = index.search("tenge", classes=[project], limit=50)
    assert hits
    for h in hits:
        for e in h.entities:
            ask = f"ASK {{ <{e.iri}> a/rdfs:subClassOf* kz:Project }}"
            assert stores["oxigraph"].query(ask).boolean, e.iri
    with pytest.raises(search.SearchError, match="did you mean 'project'"):
        index.resolve_class("Projekt")


def test_the_index_beside_a_store_follows_its_content(tmp_path: Path, dataset):
    path = tmp_path / "db"
    store = OxigraphStore(path)
    store.load_dataset(dataset)
    content = store_state.content_of(store.store)
    built = search.index_for(store, content, search.beside(path))
    assert not built.search("Zyxwvut", limit=5)
    store.store.update(
        "INSERT DATA { GRAPH <urn:test:g> { <urn:test:firm> "
        '<http://www.w3.org/2000/01/rdf-schema#label> "Zyxwvut Holdings"@en } }'
    )
    store.refresh_union()
    reused = search.index_for(store, content, search.beside(path))
    assert not reused.search("Zyxwvut", limit=5)  # same id: the kept file is read, not rebuilt
    changed = store_state.chained(content, "insert Zyxwvut")
    rebuilt = search.index_for(store, changed, search.beside(path))
    assert [h.entity.iri for h in rebuilt.search("Zyxwvut", limit=5)] == ["urn:test:firm"]


def test_a_damaged_index_file_is_rebuilt_not_read(tmp_path: Path, stores):
    store = stores["oxigraph"]
    path = tmp_path / search.INDEX_FILE
    path.write_bytes(b"this is not SQLite" * 100)
    index = search.index_for(store, "some-id", path)
    assert index.search("Sinopec", limit=1)
    assert not list(tmp_path.glob(".search-*"))  # no temporary file left behind


def test_cli_search(tmp_path: Path):
    runner = CliRunner()
    found = runner.invoke(main, ["search", "Batys", "Power", "--class", "Company"])
    assert found.exit_code == 0, found.output
    assert "Batys Power (Company)" in found.output and "[Batys] [Power]" in found.output
    as_json = runner.invoke(main, ["search", "tenge", "--kind", "quotation", "--format", "json"])
    assert as_json.exit_code == 0
    assert '"kind": "quotation"' in as_json.output and '"kind": "name"' not in as_json.output
    empty = runner.invoke(main, ["search", '"', "*"])
    assert empty.exit_code == 2 and "give at least one word" in empty.output
    unknown = runner.invoke(main, ["search", "x", "--class", "Compnay"])
    assert unknown.exit_code == 2 and "did you mean 'company'" in unknown.output
    assert "Traceback" not in unknown.output + empty.output


def test_api_page_and_box_on_every_page(writable):
    server, store = writable
    with httpx.Client(base_url=server.url, timeout=60) as c:
        r = c.get("/api/search", params={"q": "Sinopec polyethylene"})
        assert r.status_code == 200, r.text
        body = r.json()
        assert body["count"] == len(body["hits"]) > 0
        assert any(h["label"] == "Sinopec" for hit in body["hits"] for h in hit["entities"])
        assert all(hit["sources"] for hit in body["hits"])
        assert (store / search.INDEX_FILE).exists()  # kept beside the store
        page = c.get("/search", params={"q": "Sinopec"})
        assert page.status_code == 200 and "<mark>Sinopec</mark>" in page.text
        assert 'href="/id/company/sinopec"' in page.text
        hostile = c.get("/search", params={"q": "<script>alert(1)</script>"})
        assert "<script>alert" not in hostile.text
        bad = c.get("/api/search", params={"q": "  "})
        assert bad.status_code == 400 and "give at least one word" in bad.text
        assert c.get("/api/search", params={"q": "x", "limit": "no"}).status_code == 400
        for path in ("/", "/sparql", "/id/company/sinopec", "/network", "/search", "/no-such"):
            page = c.get(path, headers={"Accept": "text/html"})
            assert 'action="/search"' in page.text, path
        docs = c.get("/ontology/classes.html")
        assert 'action="../search"' in docs.text


def test_a_write_is_found_by_the_next_search(writable):
    server, _store = writable
    update = (
        "INSERT DATA { GRAPH <urn:test:g> { <urn:test:firm> "
        '<http://www.w3.org/2000/01/rdf-schema#label> "Qwertyuiop Trading"@en } }'
    )
    with httpx.Client(base_url=server.url, timeout=60) as c:
        assert c.get("/api/search", params={"q": "Qwertyuiop"}).json()["count"] == 0
        ok = c.post("/sparql", data={"update": update}, headers={"Authorization": "Bearer s3cret"})
        assert ok.status_code == 204, ok.text
        hits = c.get("/api/search", params={"q": "Qwertyuiop"}).json()["hits"]
        assert [h["entity"] for h in hits] == ["urn:test:firm"]


def test_the_landing_page_leads_to_the_answers_without_sparql(writable):
    server, _store = writable
    with httpx.Client(base_url=server.url, timeout=60) as c:
        landing = c.get("/").text
        for href in ('href="/explore"', 'action="/search"', 'href="/table?', 'href="/shapes"'):
            assert href in landing, href
        assert c.get("/explore").status_code == 200
        config = c.get("/explore/config.ttl")
        assert config.status_code == 200 and "sh:targetClass kz:Project" in config.text


def test_cli_search_reuses_its_index_and_drops_stale_ones(settings):
    from kzgraph.graph.derived import cache_dir

    stale = cache_dir(settings) / "search-0000000000000000stale.sqlite"
    stale.parent.mkdir(parents=True, exist_ok=True)
    stale.write_bytes(b"an index of files as they once were")
    runner = CliRunner()
    assert runner.invoke(main, ["search", "Huawei"]).exit_code == 0
    assert not stale.exists()
    kept = list(cache_dir(settings).glob("search-*.sqlite"))
    assert len(kept) == 1
    before = kept[0].stat().st_mtime_ns
    assert runner.invoke(main, ["search", "Sinopec"]).exit_code == 0
    assert kept[0].stat().st_mtime_ns == before  # read, not rebuilt
