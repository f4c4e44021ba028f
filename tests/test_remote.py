"""kzgraph against a real Oxigraph server that ``kzgraph push`` filled: the same answers.

The server is the ``oxigraph`` binary from PyPI (a test dependency), started on loopback with an
empty on-disk store. Every saved query (with its example parameters), every network projection
and the CLI give the same rows on it as on the embedded store, order aside; pushes are
idempotent and drop only the kzgraph graphs that left the source.
"""

from __future__ import annotations

import collections

import httpx
import pytest
from rdflib import BNode, Dataset

from kzgraph.core.sparql_text import tokens
from kzgraph.network.projections import load_projections, project
from kzgraph.queries.catalogue import load_catalogue
from kzgraph.queries.running import run_saved
from kzgraph.remote.push import named_graphs
from kzgraph.remote.stores import ENV_PASSWORD, ENV_USER, Backend, RemoteStore, graph_counts

from .server_process import free_port, kzgraph


@pytest.fixture(scope="module")
def remote(oxigraph) -> RemoteStore:
    return RemoteStore(Backend(oxigraph))


def concatenated(text: str) -> dict[str, str]:
    """The variables a query binds with GROUP_CONCAT, and their separators (read from tokens)."""
    toks = tokens(text)
    found: dict[str, str] = {}
    for i, token in enumerate(toks):
        if token.keyword != "GROUP_CONCAT":
            continue
        depth, separator, j = 0, " ", i + 1
        while j < len(toks):
            t = toks[j]
            if t.kind == "punct" and t.text == "(":
                depth += 1
            elif t.kind == "punct" and t.text == ")":
                depth -= 1
                if depth == 0:
                    break
            elif t.keyword == "SEPARATOR" and j + 2 < len(toks):
                separator = toks[j + 2].text[1:-1]
            j += 1
        while j + 1 < len(toks) and toks[j].keyword not in ("AS", "GROUP_CONCAT", "WHERE"):
            j += 1  # COALESCE(GROUP_CONCAT(…), "") AS ?x: the AS follows the wrapping call
        if toks[j].keyword == "AS":
            found[toks[j + 1].text[1:]] = separator
    return found


def comparable(result, concat: dict[str, str] | None = None) -> collections.Counter:
    """Rows as a multiset of N-Triples strings; blank nodes only as blank.

    SPARQL leaves the order of GROUP_CONCAT's parts to the engine (here it follows the store's
    internal term ids, which differ between two stores holding the same triples), so those
    columns are compared as sorted parts.
    """
    concat = concat or {}

    def cell(name: str, term) -> str:
        if term is None:
            return ""
        if isinstance(term, BNode):
            return "_:b"
        if name in concat:  # the parts in order, and the language they share, if any
            tag = f"@{term.language}" if getattr(term, "language", None) else ""
            return " / ".join(sorted(str(term).split(concat[name]))) + tag
        return term.n3()

    return collections.Counter(
        tuple(cell(name, t) for name, t in zip(result.variables, row, strict=True))
        for row in result.rows
    )


def test_push_sends_every_named_graph_and_the_counts_match(oxigraph, remote, dataset):
    found = graph_counts(remote)
    sent = {iri: len(g) for iri, g in named_graphs(dataset).items()}
    assert sent and all(found[iri] == n for iri, n in sent.items())
    # the default graph is the merge, as in the embedded store
    local = len({(s, p, o) for s, p, o, _ in dataset.quads((None, None, None, None))})
    merged = remote.query("SELECT (COUNT(*) AS ?n) WHERE { ?s ?p ?o }").rows[0][0]
    assert int(str(merged)) == local


def test_push_again_changes_nothing_and_drops_stale_graphs(oxigraph, remote):
    store = oxigraph.replace("/query", "/store")
    before = graph_counts(remote)
    for graph in ("https://w3id.org/kzgraph/graph/stale", "urn:someone-else"):
        r = httpx.put(
            store,
            params={"graph": graph},
            content=b"<urn:a> <urn:b> <urn:c> .\n",
            headers={"Content-Type": "application/n-triples"},
        )
        assert r.status_code in (201, 204)
    out = kzgraph("push", "--backend", oxigraph)
    assert out.returncode == 0, out.stderr
    assert "graph/stale  dropped" in out.stdout and "all counts match" in out.stdout
    after = graph_counts(remote)
    assert after.pop("urn:someone-else") == 1  # not kzgraph's: left alone
    assert after == before


def test_every_saved_query_gives_the_same_rows(remote, stores):
    differences = []
    for name, saved in load_catalogue().items():
        params = {
            p.name: saved.defaults[p.name] for p in saved.parameters if p.name in saved.defaults
        }
        if any(p.required and p.name not in params for p in saved.parameters):
            continue
        local = run_saved(name, params, store=stores["oxigraph"])
        there = run_saved(name, params, store=remote)
        concat = concatenated(saved.text)
        if local.variables != there.variables or comparable(local, concat) != comparable(
            there, concat
        ):
            differences.append(name)
    assert not differences


def test_parameters_are_bound_on_the_backend(remote, stores):
    params = {"firm": "company:tbea"}
    local = run_saved("investments-by-firm", params, store=stores["oxigraph"])
    there = run_saved("investments-by-firm", params, store=remote)
    assert there.rows and comparable(local) == comparable(there)
    everyone = run_saved("investments-by-firm", {"firm": "company:fufeng-group"}, store=remote)
    assert comparable(everyone) != comparable(there)


def edges(g) -> list:
    """Edges with their data; an undirected edge's ends in a fixed order."""
    if g.is_directed():
        return sorted((u, v, sorted(d.items())) for u, v, d in g.edges(data=True))
    return sorted((min(u, v), max(u, v), sorted(d.items())) for u, v, d in g.edges(data=True))


def test_network_projections_are_the_same(remote, stores, settings):
    for name in load_projections(settings):
        local = project(name, stores["oxigraph"], None, settings)
        there = project(name, remote, None, settings)
        assert sorted(local.nodes(data=True)) == sorted(there.nodes(data=True)), name
        assert edges(local) == edges(there), name


def test_cli_query_and_network_with_backend(oxigraph):
    args = ["query", "investments-by-firm", "-p", "firm=company:tbea", "--format", "csv"]
    local, there = kzgraph(*args), kzgraph(*args, "--backend", oxigraph)
    assert there.returncode == 0, there.stderr
    assert sorted(local.stdout.splitlines()) == sorted(there.stdout.splitlines())
    rank = ["rank", "--projection", "company-region", "--measure", "degree", "--top", "5"]
    local = kzgraph("network", *rank)
    there = kzgraph("network", "--backend", oxigraph, *rank)
    assert there.returncode == 0, there.stderr
    assert local.stdout == there.stdout


def test_export_from_the_backend_holds_the_same_graphs(oxigraph, tmp_path, dataset):
    out = kzgraph("export", "--backend", oxigraph, "-o", str(tmp_path / "remote.nq"))
    assert out.returncode == 0, out.stderr
    exported = Dataset()
    exported.parse(tmp_path / "remote.nq", format="nquads")
    ours = {iri: len(g) for iri, g in named_graphs(dataset).items()}
    sizes = {str(g.identifier): len(g) for g in exported.contexts() if len(g)}
    # every project graph, whole; other tests may have added graphs of others to this store
    assert {g: n for g, n in sizes.items() if g in ours} == ours
    ground = {
        (s, p, o, c.identifier)
        for c in exported.contexts()
        for s, p, o in c
        if not isinstance(s, BNode) and not isinstance(o, BNode) and str(c.identifier) in ours
    }
    local = {
        (s, p, o, g)
        for s, p, o, g in dataset.quads((None, None, None, None))
        if not isinstance(s, BNode) and not isinstance(o, BNode) and g is not None
    }
    assert ground == {q for q in local if str(q[3]) in ours}


def test_an_unreachable_backend_is_a_one_line_error():
    out = kzgraph("sparql", "ASK {}", "--backend", f"http://127.0.0.1:{free_port()}/query")
    assert out.returncode == 2
    assert "cannot be reached" in out.stderr and "Traceback" not in out.stderr
    out = kzgraph("sparql", "ASK {}", "--backend", "file:///etc/passwd")
    assert out.returncode == 2 and "http(s) URL" in out.stderr


def test_a_bad_query_names_the_backends_complaint(remote):
    from kzgraph.store.engines import QuerySyntaxError

    with pytest.raises(QuerySyntaxError, match="refused the query"):
        remote.query("SELECT WHERE {")


def test_credentials_come_from_the_environment(monkeypatch):
    backend = Backend("http://127.0.0.1:1/query")
    monkeypatch.delenv(ENV_USER, raising=False)
    assert backend.auth() is None
    monkeypatch.setenv(ENV_USER, "reader")
    monkeypatch.setenv(ENV_PASSWORD, "pw")
    request = httpx.Request("GET", "http://127.0.0.1:1/")
    auth = backend.auth()
    assert auth is not None
    sent = next(auth.auth_flow(request))
    assert sent.headers["Authorization"].startswith("Basic ")


def test_count_through_the_backend_matches(remote, dataset):
    counts = graph_counts(remote)
    assert len(remote) == sum(counts.values())
    ours = sum(n for g, n in counts.items() if g.startswith("https://w3id.org/kzgraph/graph/"))
    assert ours == sum(len(g) for g in named_graphs(dataset).values())


def test_validation_on_the_backend_matches_the_embedded_one(remote, stores, shapes, oxigraph):
    from kzgraph.validation.report import validate_store

    local = validate_store(stores["oxigraph"].store, shapes)
    there = validate_store(remote, shapes)
    assert there.conforms == local.conforms
    assert len(there.findings) == len(local.findings)
    broken = oxigraph.replace("/query", "/update")
    firm = "https://w3id.org/kzgraph/id/company/tbea"
    httpx.post(
        broken,
        data={
            "update": f"DELETE WHERE {{ <{firm}> rdfs:label ?l }}".replace(
                "rdfs:label", "<http://www.w3.org/2000/01/rdf-schema#label>"
            )
        },
    )
    try:
        report = validate_store(remote, shapes)
        assert not report.conforms and any(firm in f.focus for f in report.findings)
        out = kzgraph("validate", "--backend", oxigraph)
        assert out.returncode == 1 and "tbea" in out.stdout
    finally:
        assert kzgraph("push", "--backend", oxigraph).returncode == 0
    assert validate_store(remote, shapes).conforms == local.conforms


def test_stats_by_sparql_match_the_files(remote, stores, dataset, oxigraph):
    from kzgraph.queries.stats import compute, compute_store

    update = oxigraph.replace("/query", "/update")
    httpx.post(update, data={"update": "DROP SILENT GRAPH <urn:someone-else>"})
    assert kzgraph("push", "--backend", oxigraph).returncode == 0  # the merge without it
    files = compute(dataset)
    for store in (stores["oxigraph"], remote):
        assert compute_store(store) == files
    out = kzgraph("stats", "--backend", oxigraph)
    assert out.returncode == 0 and files.to_text().splitlines()[0] in out.stdout


def test_validation_on_a_remote_store_batches_its_checks_and_finds_what_embedded_finds(
    oxigraph, dataset, shapes
):
    """A request per compiled check was 279 requests per write; an Oxigraph server started with
    --timeout-s keeps a watchdog thread per query for that long, and died of 16,365 threads.
    The checks now travel in batches, and the findings are the embedded store's, one by one."""
    import pyoxigraph as ox

    from kzgraph.store.engines import OxigraphStore
    from kzgraph.validation.report import validate_store

    breaks = (
        "DELETE WHERE { GRAPH ?g { <https://w3id.org/kzgraph/id/company/tbea> "
        "<http://www.w3.org/2000/01/rdf-schema#label> ?l } } ;\n"
        "DELETE WHERE { GRAPH ?g { ?amount <https://w3id.org/kzgraph/ontology#currency> ?c } } ;\n"
        "INSERT DATA { GRAPH <https://w3id.org/kzgraph/graph/user/t> { "
        "<https://w3id.org/kzgraph/id/company/x> a <https://w3id.org/kzgraph/ontology#Company> } }"
    )
    merge = (  # the default graph is the merge of the named graphs, on both stores
        " ;\nDELETE { ?s ?p ?o } WHERE { ?s ?p ?o } ;\n"
        "INSERT { ?s ?p ?o } WHERE { GRAPH ?g { ?s ?p ?o } }"
    )
    local = OxigraphStore()
    local.load_dataset(dataset)
    local.store.update(breaks + merge)
    r = httpx.post(oxigraph.replace("/query", "/update"), data={"update": breaks + merge})
    assert r.status_code in (200, 204), r.text
    try:
        store = RemoteStore(Backend(oxigraph))
        sent: list[str] = []
        ask = store.query

        def counted(sparql, *args, **kwargs):
            sent.append(sparql)
            return ask(sparql, *args, **kwargs)

        store.query = counted  # type: ignore[method-assign]
        there = validate_store(store, shapes, threads=2)
        here = validate_store(local.store, shapes)

        def key(f):
            return (f.focus if not f.focus.startswith("_:") else "_:", f.path or "", f.message)

        assert not here.conforms and len(here.findings) >= 3
        assert sorted(map(key, there.findings)) == sorted(map(key, here.findings))
        assert len(sent) <= 16, len(sent)  # 280 before, 13 now
        assert isinstance(local.store, ox.Store)
    finally:
        assert kzgraph("push", "--backend", oxigraph).returncode == 0
