"""The endpoint as clients meet it: a real server process, real HTTP, real client libraries."""

from __future__ import annotations

import gzip
import io
import threading
import time
from pathlib import Path

import httpx
import pytest
from rdflib import Dataset, Graph, URIRef
from rdflib.namespace import OWL, RDF
from rdflib.query import Result

from kzgraph.core.namespaces import GRAPH, entity

from .server_process import Server

SD = "http://www.w3.org/ns/sparql-service-description#"
COMPANIES = "SELECT ?c WHERE { ?c a kz:Company } ORDER BY ?c"
EXPENSIVE = "SELECT (COUNT(*) AS ?n) WHERE { ?a ?b ?c . ?d ?e ?f . ?g ?h ?i }"


@pytest.fixture(scope="module")
def server():
    s = Server("--max-rows", "1000", "--timeout", "20", "--workers", "2")
    yield s
    s.stop()


@pytest.fixture(scope="module")
def client(server):
    with httpx.Client(base_url=server.url, timeout=60) as c:
        yield c


def parse_results(body: bytes, fmt: str) -> Result:
    return Result.parse(io.BytesIO(body), format=fmt)


# ---- protocol ------------------------------------------------------------------------


def test_get_post_form_and_post_body_agree(client, union):
    expected = len(
        set(union.subjects(RDF.type, URIRef("https://w3id.org/kzgraph/ontology#Company")))
    )
    accept = {"Accept": "application/sparql-results+json"}
    answers = [
        client.get("/sparql", params={"query": COMPANIES}, headers=accept),
        client.post("/sparql", data={"query": COMPANIES}, headers=accept),
        client.post(
            "/sparql",
            content=COMPANIES,
            headers={**accept, "Content-Type": "application/sparql-query"},
        ),
    ]
    for response in answers:
        assert response.status_code == 200, response.text
        assert len(response.json()["results"]["bindings"]) == expected


def test_dataset_parameters(client):
    one = str(GRAPH["002_97890c3330489398"])
    query = "SELECT (COUNT(*) AS ?n) WHERE { ?s ?p ?o }"
    only = client.get(
        "/sparql", params={"query": query, "default-graph-uri": one}, headers={"Accept": "text/csv"}
    )
    everything = client.get("/sparql", params={"query": query}, headers={"Accept": "text/csv"})
    assert int(only.text.split()[1]) < int(everything.text.split()[1])
    named = client.get(
        "/sparql",
        params={
            "query": "SELECT DISTINCT ?g WHERE { GRAPH ?g { ?s ?p ?o } }",
            "named-graph-uri": one,
        },
        headers={"Accept": "text/csv"},
    )
    assert named.text.split()[1:] == [one]


@pytest.mark.parametrize(
    "media,fmt",
    [
        ("application/sparql-results+json", "json"),
        ("application/sparql-results+xml", "xml"),
        ("text/csv", "csv"),
        ("text/tab-separated-values", "tsv"),
    ],
)
def test_select_formats(client, media, fmt):
    response = client.get("/sparql", params={"query": COMPANIES}, headers={"Accept": media})
    assert response.status_code == 200
    assert response.headers["content-type"].startswith(media)
    result = parse_results(response.content, fmt)
    assert len(list(result)) > 20


@pytest.mark.parametrize(
    "media,parser",
    [
        ("text/turtle", "turtle"),
        ("application/n-triples", "nt"),
        ("application/rdf+xml", "xml"),
        ("application/ld+json", "json-ld"),
        ("application/n-quads", "nquads"),
        ("application/trig", "trig"),
    ],
)
def test_construct_formats(client, media, parser):
    query = "CONSTRUCT { ?c ?p ?o } WHERE { ?c a kz:Company ; ?p ?o }"
    response = client.get("/sparql", params={"query": query}, headers={"Accept": media})
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith(media)
    if parser in ("nquads", "trig"):
        data = Dataset()
        data.parse(data=response.content, format=parser)
        assert len(data) > 50
    else:
        assert len(Graph().parse(data=response.content, format=parser)) > 50


def test_ask(client):
    response = client.get(
        "/sparql",
        params={"query": "ASK { company:tbea a kz:Company }"},
        headers={"Accept": "application/sparql-results+json"},
    )
    assert response.json()["boolean"] is True


def test_conneg_q_values_and_override(client):
    r = client.get(
        "/sparql",
        params={"query": COMPANIES},
        headers={"Accept": "text/csv;q=0.5, application/sparql-results+xml"},
    )
    assert r.headers["content-type"].startswith("application/sparql-results+xml")
    r = client.get(
        "/sparql", params={"query": COMPANIES, "format": "tsv"}, headers={"Accept": "text/csv"}
    )
    assert r.headers["content-type"].startswith("text/tab-separated-values")
    r = client.get("/sparql", params={"query": COMPANIES}, headers={"Accept": "*/*"})
    assert r.headers["content-type"].startswith("application/sparql-results+json")


def test_service_description(client, dataset):
    r = client.get("/sparql", headers={"Accept": "text/turtle"})
    g = Graph().parse(data=r.text, format="turtle")
    assert (None, RDF.type, URIRef(SD + "Service")) in g
    names = set(g.objects(None, URIRef(SD + "name")))
    assert URIRef(GRAPH["000_096687169d175def"]) in names
    html = client.get("/sparql", headers={"Accept": "text/html,application/xhtml+xml"})
    assert "yasgui" in html.text.lower()


def test_cors(client):
    r = client.get("/sparql", params={"query": "ASK {}"}, headers={"Origin": "http://example.org"})
    assert r.headers["access-control-allow-origin"] == "*"
    pre = client.options(
        "/sparql", headers={"Origin": "http://example.org", "Access-Control-Request-Method": "POST"}
    )
    assert pre.status_code == 200


# ---- errors ------------------------------------------------------------------------------


def test_error_statuses(client):
    bad = client.get("/sparql", params={"query": "SELECT ?x WHERE { ?x ?y }"})
    assert bad.status_code == 400 and "syntax error" in bad.text and "1:" in bad.text
    assert client.put("/sparql", content="x").status_code == 405
    assert (
        client.get(
            "/sparql", params={"query": COMPANIES}, headers={"Accept": "image/png"}
        ).status_code
        == 406
    )
    big = "SELECT * WHERE { ?s ?p ?o } #" + "x" * 1_100_000
    assert (
        client.post(
            "/sparql", content=big, headers={"Content-Type": "application/sparql-query"}
        ).status_code
        == 413
    )
    assert (
        client.post(
            "/sparql", content=COMPANIES, headers={"Content-Type": "text/plain"}
        ).status_code
        == 415
    )


def test_updates_are_refused(client):
    update = "INSERT DATA { GRAPH <urn:x> { <urn:a> <urn:b> <urn:c> } }"
    assert client.post("/sparql", data={"update": update}).status_code == 403
    r = client.post(
        "/sparql", content=update, headers={"Content-Type": "application/sparql-update"}
    )
    assert r.status_code == 403
    as_query = client.get("/sparql", params={"query": update})
    assert as_query.status_code == 400 and "SPARQL Update" in as_query.text
    assert client.post("/sparql", data={"update": "LOAD <file:///etc/passwd>"}).status_code == 403
    assert (
        client.put(
            "/store?graph=urn:x",
            content="<urn:a> <urn:b> <urn:c> .",
            headers={"Content-Type": "application/n-triples"},
        ).status_code
        == 403
    )


def test_no_other_hosts_or_files(client):
    service = client.get(
        "/sparql",
        params={"query": "SELECT * WHERE { SERVICE <http://example.org/sparql> { ?s ?p ?o } }"},
    )
    assert service.status_code == 400 and "SERVICE is refused" in service.text
    remote = client.get(
        "/sparql",
        params={"query": "SELECT * FROM <http://example.org/data.ttl> WHERE { ?s ?p ?o }"},
    )
    assert remote.status_code == 400 and "never fetched" in remote.text
    local = client.get(
        "/sparql",
        params={
            "query": f"SELECT (COUNT(*) AS ?n) FROM <{GRAPH['001_eb158449043a4115']}> WHERE {{ ?s ?p ?o }}",
        },
        headers={"Accept": "text/csv"},
    )
    assert local.status_code == 200 and int(local.text.split()[1]) > 100


def test_row_cap(client):
    r = client.get(
        "/sparql", params={"query": "SELECT * WHERE { ?s ?p ?o }"}, headers={"Accept": "text/csv"}
    )
    assert r.headers["x-kzgraph-truncated"] == "true"
    import csv

    assert len(list(csv.reader(io.StringIO(r.text)))) == 1001  # header + 1,000 rows


def test_timeout_stops_the_query_while_others_are_answered(client, server):
    answered = []
    stop = threading.Event()

    def other_client() -> None:
        with httpx.Client(base_url=server.url, timeout=30) as c:
            while not stop.is_set():
                r = c.get("/sparql", params={"query": "ASK { ?s ?p ?o }"})
                answered.append(r.status_code)

    thread = threading.Thread(target=other_client)
    thread.start()
    started = time.monotonic()
    r = client.get("/sparql", params={"query": EXPENSIVE, "timeout": "2"})
    elapsed = time.monotonic() - started
    stop.set()
    thread.join()
    assert r.status_code == 503 and "was stopped" in r.text
    assert elapsed < 10
    assert len(answered) > 10 and set(answered) == {200}
    after = client.get("/sparql", params={"query": "ASK { ?s ?p ?o }"})
    assert after.status_code == 200
    assert "kzgraph_query_timeouts_total 1.0" in client.get("/metrics").text


# ---- saved-query API ---------------------------------------------------------------------


def test_api_lists_and_runs_saved_queries(client):
    listing = client.get("/api/queries").json()
    names = {q["name"] for q in listing}
    assert "chinese-investors-by-region" in names
    r = client.get(
        "/api/queries/investments-in-region",
        params={"region": "region:zhambyl"},
        headers={"Accept": "application/sparql-results+json"},
    )
    firms = {b["firm"]["value"] for b in r.json()["results"]["bindings"]}
    assert str(entity("company", "fufeng-group")) in firms
    csv = client.get(
        "/api/queries/investments-in-region", params={"region": "region:zhambyl", "format": "csv"}
    )
    assert csv.headers["content-type"].startswith("text/csv")


def test_api_errors_and_hostile_values(client):
    assert client.get("/api/queries/nope").status_code == 404
    assert (
        client.get("/api/queries/investments-in-region", params={"regoin": "x"}).status_code == 400
    )
    assert (
        client.get("/api/queries/investments-in-region", params={"region": "a b"}).status_code
        == 400
    )
    r = client.get(
        "/api/queries/entity-by-label",
        params={"label": 'x" } UNION { ?s ?p ?o } #'},
        headers={"Accept": "application/sparql-results+json"},
    )
    assert r.status_code == 200 and r.json()["results"]["bindings"] == []


def test_openapi_and_docs(client):
    spec = client.get("/openapi.json").json()
    assert spec["openapi"].startswith("3.")
    assert "/api/queries/chinese-investors-by-region" in spec["paths"]
    params = spec["paths"]["/api/queries/investments-in-region"]["get"]["parameters"]
    assert {"region", "format"} <= {p["name"] for p in params}
    assert "swagger-ui" in client.get("/api/docs").text


# ---- linked data, VoID, dumps -------------------------------------------------------------


def test_entity_page_for_people(client):
    r = client.get("/id/company/fufeng-group", headers={"Accept": "text/html"})
    assert r.status_code == 200
    assert "Fufeng Group" in r.text
    assert "plans to invest $800 million" in r.text  # the quotation behind the facts
    assert "/id/project/fufeng-corn-processing-plant" in r.text  # incoming link


@pytest.mark.parametrize(
    "media,parser",
    [
        ("text/turtle", "turtle"),
        ("application/ld+json", "json-ld"),
        ("application/n-triples", "nt"),
    ],
)
def test_entity_rdf_for_machines(client, media, parser):
    r = client.get("/id/company/fufeng-group", headers={"Accept": media})
    g = Graph().parse(data=r.content, format=parser)
    tbea = entity("company", "fufeng-group")
    assert (tbea, RDF.type, URIRef("https://w3id.org/kzgraph/ontology#Company")) in g


def test_resolver_and_404(client):
    r = client.get(
        "/resolve", params={"iri": str(entity("region", "zhambyl"))}, follow_redirects=False
    )
    assert r.status_code == 303 and r.headers["location"] == "/id/region/zhambyl"
    assert client.get("/id/company/no-such-firm").status_code == 404


def test_ontology_iri(client):
    r = client.get("/ontology", headers={"Accept": "text/turtle"})
    g = Graph().parse(data=r.text, format="turtle")
    assert (URIRef("https://w3id.org/kzgraph/ontology"), RDF.type, OWL.Ontology) in g


def test_ontology_docs_for_browsers(client):
    r = client.get("/ontology", headers={"Accept": "text/html"}, follow_redirects=True)
    assert r.status_code == 200 and "Class model" in r.text
    assert "Instances in the graph" in client.get("/ontology/classes.html").text
    assert client.get("/ontology/ontology/index.html").status_code == 200  # pyLODE's page
    term = client.get("/ontology/Company", follow_redirects=False)
    assert term.status_code == 303 and "ontology%23Company" in term.headers["location"]
    assert client.get("/ontology/../../etc/passwd").status_code == 404


def test_void(client, dataset):
    r = client.get("/.well-known/void", headers={"Accept": "text/turtle"})
    g = Graph().parse(data=r.text, format="turtle")
    void = "http://rdfs.org/ns/void#"
    subsets = set(g.objects(URIRef("https://w3id.org/kzgraph/dataset"), URIRef(void + "subset")))
    assert len(subsets) == len([x for x in dataset.graphs() if len(x)])
    assert g.value(URIRef("https://w3id.org/kzgraph/dataset"), URIRef(void + "sparqlEndpoint"))


def test_dumps(client, dataset):
    r = client.get("/dumps/kzgraph.nq.gz")
    data = Dataset()
    data.parse(data=gzip.decompress(r.content), format="nquads")
    seed = GRAPH["003_497b471c4106a90e"]
    assert len(data.graph(seed)) == len(dataset.graph(seed))
    assert client.get("/dumps/").status_code == 200
    assert client.get("/dumps/kzgraph.trig").status_code == 200


def test_health_and_metrics(client):
    assert client.get("/healthz").json()["status"] == "ok"
    text = client.get("/metrics").text
    assert "kzgraph_http_requests_total" in text and "kzgraph_http_request_seconds_bucket" in text


def test_metrics_do_not_grow_with_the_paths_and_methods_clients_invent(client):
    """A series per raw path (and per method) grew the server by hundreds of MB over the
    hostile corpus; requests are counted by the route they matched."""
    import uuid

    def series() -> set[str]:
        return {
            line.rsplit(" ", 1)[0]
            for line in client.get("/metrics").text.splitlines()
            if line.startswith("kzgraph_http_request")
        }

    before = series()
    for _ in range(200):
        name = uuid.uuid4().hex
        client.get(f"/{name}")
        client.get(f"/ontology/{name}")
        client.request(name.upper()[:8], "/sparql")
    after = series()
    assert not any(name in line for line in after)
    assert len(after - before) < 60, sorted(after - before)[:10]


def test_one_log_line_per_request(client, server):
    client.get("/healthz")
    assert any(" GET /healthz 200 " in line for line in server.output().splitlines())


# ---- real clients --------------------------------------------------------------------------


def test_sparqlwrapper(server):
    from SPARQLWrapper import JSON, SPARQLWrapper

    sparql = SPARQLWrapper(server.url + "sparql")
    sparql.setQuery(
        "PREFIX kz: <https://w3id.org/kzgraph/ontology#> SELECT ?c WHERE { ?c a kz:Company }"
    )
    sparql.setReturnFormat(JSON)
    rows = sparql.queryAndConvert()["results"]["bindings"]  # type: ignore[index]
    assert len(rows) > 20


def test_rdflib_sparqlstore(server):
    from rdflib.plugins.stores.sparqlstore import SPARQLStore

    store = SPARQLStore(server.url + "sparql", returnFormat="json")
    g = Graph(store=store)
    rows = list(
        g.query(
            "SELECT ?l WHERE { <https://w3id.org/kzgraph/id/company/tbea> <http://www.w3.org/2000/01/rdf-schema#label> ?l }"
        )
    )
    assert [str(r[0]) for r in rows] == ["TBEA Company Limited"]


# ---- updates, with a token ---------------------------------------------------------------------


def test_updates_need_the_token_and_persist(writable):
    server, store = writable
    update = 'INSERT DATA { GRAPH <urn:test:g> { <urn:test:a> <urn:test:b> "c" } }'
    with httpx.Client(base_url=server.url, timeout=30) as c:
        assert "urn:test:a" not in c.get("/dumps/kzgraph.nq").text  # fills the dump cache
        assert c.post("/sparql", data={"update": update}).status_code == 401
        assert (
            c.post(
                "/sparql", data={"update": update}, headers={"Authorization": "Bearer wrong"}
            ).status_code
            == 401
        )
        ok = c.post("/sparql", data={"update": update}, headers={"Authorization": "Bearer s3cret"})
        assert ok.status_code == 204, ok.text
        r = c.get(
            "/sparql",
            params={"query": 'ASK { <urn:test:a> <urn:test:b> "c" }'},
            headers={"Accept": "application/sparql-results+json"},
        )
        assert r.json()["boolean"] is True
        assert "<urn:test:a>" in c.get("/dumps/kzgraph.nq").text  # the cache was dropped
        load = c.post(
            "/sparql",
            data={"update": "LOAD <http://example.org/x.ttl>"},
            headers={"Authorization": "Bearer s3cret"},
        )
        assert load.status_code == 400 and "LOAD is refused" in load.text
    server.stop()
    again = Server("--store", str(store), "--workers", "1", "--no-validate")
    try:
        r = httpx.get(
            again.url + "sparql",
            params={"query": 'ASK { <urn:test:a> <urn:test:b> "c" }'},
            headers={"Accept": "application/sparql-results+json"},
        )
        assert r.json()["boolean"] is True
    finally:
        again.stop()


def test_graph_store_protocol(tmp_path: Path):
    server = Server(
        "--store",
        str(tmp_path / "db"),
        "--allow-updates",
        "--workers",
        "1",
        env={"KZGRAPH_TOKEN": "t"},
    )
    auth = {"Authorization": "Bearer t"}
    try:
        with httpx.Client(base_url=server.url, timeout=30) as c:
            target = "/store?graph=urn:test:gsp"
            turtle = "<urn:test:s> <urn:test:p> <urn:test:o> ."
            assert (
                c.put(target, content=turtle, headers={"Content-Type": "text/turtle"}).status_code
                == 401
            )
            assert (
                c.put(
                    target, content=turtle, headers={**auth, "Content-Type": "text/turtle"}
                ).status_code
                == 201
            )
            got = c.get(target, headers={"Accept": "application/n-triples"})
            assert got.status_code == 200 and "<urn:test:o>" in got.text
            # N3, as Oxigraph serves it: Turtle text, which every N3 reader reads
            n3 = c.get(target, headers={"Accept": "text/n3"})
            assert n3.status_code == 200 and n3.headers["content-type"].startswith("text/n3")
            assert len(Graph().parse(data=n3.text, format="n3")) == 1
            more = "<urn:test:s> <urn:test:p> <urn:test:o2> ."
            assert (
                c.post(
                    target, content=more, headers={**auth, "Content-Type": "text/turtle"}
                ).status_code
                == 204
            )
            assert (
                len(Graph().parse(data=c.get(target, headers={"Accept": "text/turtle"}).text)) == 2
            )
            assert (
                c.put(
                    target, content=more, headers={**auth, "Content-Type": "text/turtle"}
                ).status_code
                == 204
            )
            assert (
                len(Graph().parse(data=c.get(target, headers={"Accept": "text/turtle"}).text)) == 1
            )
            assert (
                c.put(
                    target, content="x", headers={**auth, "Content-Type": "image/png"}
                ).status_code
                == 415
            )
            assert c.delete(target, headers=auth).status_code == 204
            assert c.get(target).status_code == 404
            seed = c.get(
                "/store",
                params={"graph": str(GRAPH["002_97890c3330489398"])},
                headers={"Accept": "text/turtle"},
            )
            assert seed.status_code == 200 and "Fufeng" in seed.text
    finally:
        server.stop()


def test_serve_refuses_an_invalid_graph(tmp_path: Path, settings):
    import shutil
    import subprocess
    import sys

    for folder in ("ontology", "graph", "queries"):
        shutil.copytree(settings.root / folder, tmp_path / folder)
    seed = tmp_path / "graph" / "seed" / "002_astana_forum.trig"
    seed.write_text(
        seed.read_text().replace(
            'kz:currency currency:USD ; kz:statedAs "$800 million"', 'kz:statedAs "$800 million"'
        )
    )
    result = subprocess.run(
        [sys.executable, "-m", "kzgraph", "--root", str(tmp_path), "serve", "--port", "0"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 2
    assert "does not conform" in result.stderr and "kz:currency" in result.stderr


def test_format_parameter_wins_over_accept_and_only_conneg_lets_accept_decide(client):
    """The documented rule: format= (SPARQLWrapper's default xml) wins over a custom Accept;
    setOnlyConneg(True) sends no format=, and Accept decides."""
    from SPARQLWrapper import SPARQLWrapper

    query = "CONSTRUCT WHERE { <https://w3id.org/kzgraph/id/company/tbea> ?p ?o }"
    sent = client.get("/sparql", params={"query": query, "format": "xml"},
                      headers={"Accept": "application/n-triples"})  # fmt: skip
    assert sent.headers["content-type"].startswith("application/rdf+xml")
    wrapper = SPARQLWrapper(str(client.base_url) + "sparql")
    wrapper.setQuery(query)
    wrapper.setOnlyConneg(True)
    wrapper.addCustomHttpHeader("Accept", "application/n-triples")
    answer = wrapper.query()
    assert answer.response.headers["Content-Type"].startswith("application/n-triples")


def test_a_stores_first_start_reads_no_data_file_for_its_documentation(tmp_path: Path, settings):
    """The site's figures are asked of the store: a start on a filled store builds the site
    without parsing graph/ (a 1M-quad graph/ took 65 s and 1.9 GB there), here even with a
    file in graph/ that would not parse, and its counts are the store's."""
    import re
    import shutil

    for folder in ("ontology", "graph", "queries", "sources"):
        shutil.copytree(settings.root / folder, tmp_path / folder)
    env = {"KZGRAPH_HOME": str(tmp_path)}
    store = tmp_path / "db"
    first = Server("--store", str(store), "--workers", "1", "--no-validate", env=env)
    first.stop()
    (tmp_path / "graph" / "unreadable.ttl").write_text("this is not Turtle <\n")
    shutil.rmtree(tmp_path / ".kzgraph-cache", ignore_errors=True)
    again = Server("--store", str(store), "--workers", "1", "--no-validate", env=env)
    try:
        page = httpx.get(again.url + "ontology/classes.html", timeout=60)
        assert page.status_code == 200, page.text
        shown = re.search(
            r'id="Company".*?Instances in the graph: <strong>(\d+)</strong>', page.text, re.S
        )
        counted = httpx.get(
            again.url + "sparql",
            params={"query": "SELECT (COUNT(DISTINCT ?c) AS ?n) { ?c a kz:Company }"},
            headers={"Accept": "application/sparql-results+json"},
        ).json()["results"]["bindings"][0]["n"]["value"]
        assert shown is not None and shown.group(1) == counted and int(counted) > 10
    finally:
        again.stop()
