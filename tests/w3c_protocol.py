"""A runner for the W3C SPARQL 1.1 Protocol and Graph Store Protocol tests, over HTTP.

The manifests (``tests/w3c/sparql-protocol/manifest.ttl`` and
``tests/w3c/graph-store-protocol/manifest-indirect.ttl``, copied from w3c/rdf-tests) describe
each test as HTTP requests in order, with the response each must get: a status (a code or a
class), a results format (boolean, tabular, RDF), an ASK answer, an RDF body to be isomorphic
to, a Location to reuse. This runner sends them to a live endpoint, strictly: a status is
right only if the manifest lists it. The manifests' ``/sparql/`` and ``/gsp`` paths become the
endpoint's ``/sparql`` and ``/store``; every request carries the write token, as a configured
client would. A test's ``ut:graphData`` is PUT into its named graph first, and every graph a
test leaves behind is dropped after it.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from http import HTTPStatus
from pathlib import Path
from xml.etree import ElementTree

import httpx
from rdflib import RDF, Graph, Namespace, URIRef
from rdflib.collection import Collection
from rdflib.compare import isomorphic

W3C = Path(__file__).parent / "w3c"
MANIFESTS = [
    W3C / "sparql-protocol" / "manifest.ttl",
    W3C / "graph-store-protocol" / "manifest-indirect.ttl",
]
MF = Namespace("http://www.w3.org/2001/sw/DataAccess/tests/test-manifest#")
HT = Namespace("http://www.w3.org/2011/http#")
HTS = Namespace("http://www.w3.org/2011/http-statusCodes#")
CNT = Namespace("http://www.w3.org/2011/content#")
UT = Namespace("http://www.w3.org/2009/sparql/tests/test-update#")
RDFS_LABEL = URIRef("http://www.w3.org/2000/01/rdf-schema#label")

RESULT_TYPES = (
    "application/sparql-results+json",
    "application/sparql-results+xml",
    "text/csv",
    "text/tab-separated-values",
    "application/json",
)
RDF_TYPES = {
    "text/turtle": "turtle",
    "application/n-triples": "nt",
    "application/rdf+xml": "xml",
    "application/ld+json": "json-ld",
    "application/n-quads": "nquads",
    "application/trig": "trig",
    "text/n3": "n3",
}


@dataclass
class Step:
    """One request of a test and what its response must be."""

    method: str
    path: str
    headers: dict[str, str]
    body: str | None
    statuses: list[str]
    format: str | None = None
    boolean: bool | None = None
    expected_body: str | None = None
    expected_type: str | None = None
    location: str | None = None


@dataclass
class Case:
    """A test: its name, the graphs it needs filled first, and its requests."""

    name: str
    data: list[tuple[Path, str]] = field(default_factory=list)
    steps: list[Step] = field(default_factory=list)


def _headers(g: Graph, node: object, predicate: URIRef) -> dict[str, str]:
    found: dict[str, str] = {}
    listed = g.value(node, predicate)  # type: ignore[arg-type]
    if listed is None:
        return found
    for header in Collection(g, listed):
        found[str(g.value(header, HT.fieldName)).lower()] = str(g.value(header, HT.fieldValue))
    return found


def _chars(g: Graph, node: object) -> str | None:
    body = g.value(node, HT.body)  # type: ignore[arg-type]
    return None if body is None else str(g.value(body, CNT.chars))


def cases() -> list[Case]:
    """Every test of both manifests, in manifest order."""
    found: list[Case] = []
    for manifest in MANIFESTS:
        g = Graph().parse(manifest, format="turtle", publicID=manifest.as_uri())
        entries = g.value(next(g.subjects(RDF.type, MF.Manifest)), MF.entries)
        for test in Collection(g, entries):
            case = Case(str(test).rsplit("#", 1)[-1])
            for data in g.objects(test, UT.graphData):
                file = Path(str(g.value(data, UT.graph)).removeprefix("file://"))
                case.data.append((file, str(g.value(data, RDFS_LABEL))))
            action = g.value(test, MF.action)
            for request in Collection(g, g.value(action, HT.requests)):
                response = g.value(request, HT.resp)
                boolean = g.value(response, MF.expectedBoolean)
                fmt = g.value(response, MF.expectedFormat)
                location = g.value(response, MF.expectedLocation)
                case.steps.append(
                    Step(
                        method=str(g.value(request, HT.methodName)),
                        path=str(g.value(request, HT.absolutePath)),
                        headers=_headers(g, request, HT.headers),
                        body=_chars(g, request),
                        statuses=[str(s) for s in g.objects(response, MF.expectedStatus)],
                        format=None if fmt is None else str(fmt),
                        boolean=None if boolean is None else bool(boolean.toPython()),
                        expected_body=_chars(g, response),
                        expected_type=_headers(g, response, HT.headers).get("content-type"),
                        location=None if location is None else str(location),
                    )
                )
            found.append(case)
    return found


def status_allowed(code: int, expected: list[str]) -> bool:
    """Whether ``code`` is one the manifest lists (``hts:Created``, ``hts:StatusCode4xx``…)."""
    for iri in expected:
        name = iri.rsplit("#", 1)[-1]
        match = re.fullmatch(r"StatusCode(\d)xx", name)
        if match and code // 100 == int(match.group(1)):
            return True
        for words in (name.upper(), re.sub(r"(?<!^)(?=[A-Z])", "_", name).upper()):
            if not match and words in HTTPStatus.__members__ and HTTPStatus[words] == code:
                return True
    return False


def _boolean(response: httpx.Response) -> bool | None:
    media = response.headers.get("content-type", "").split(";")[0].strip()
    try:
        if "json" in media:
            value = json.loads(response.content).get("boolean")
            return value if isinstance(value, bool) else None
        if "xml" in media:
            root = ElementTree.fromstring(response.content)
            found = root.find("{http://www.w3.org/2005/sparql-results#}boolean")
            return None if found is None else found.text == "true"
    except (ValueError, ElementTree.ParseError):
        return None
    return None


def _check(step: Step, response: httpx.Response) -> str | None:
    """Why ``response`` does not meet ``step``'s expectations, or None."""
    if not status_allowed(response.status_code, step.statuses):
        wanted = ", ".join(s.rsplit("#", 1)[-1] for s in step.statuses)
        return f"{step.method} {step.path[:60]}: {response.status_code}, expected {wanted}"
    media = response.headers.get("content-type", "").split(";")[0].strip().lower()
    if step.format == "boolean" and _boolean(response) is None:
        return f"{step.method} {step.path[:60]}: no boolean in {media!r}"
    if step.format == "tabular" and (media not in RESULT_TYPES or _boolean(response) is not None):
        return f"{step.method} {step.path[:60]}: {media!r} is not a results table"
    if step.format == "RDF" and media not in RDF_TYPES:
        return f"{step.method} {step.path[:60]}: {media!r} is not RDF"
    if step.boolean is not None and _boolean(response) is not step.boolean:
        return f"{step.method} {step.path[:60]}: ASK answered {_boolean(response)}"
    if step.expected_body is not None and step.expected_type is not None:
        if media not in RDF_TYPES:
            return f"{step.method} {step.path[:60]}: {media!r} is not RDF"
        expected_media = step.expected_type.split(";")[0].strip()
        want = Graph().parse(data=step.expected_body, format=RDF_TYPES[expected_media])
        got = Graph().parse(data=response.text, format=RDF_TYPES[media])
        if not isomorphic(want, got):
            return f"{step.method} {step.path[:60]}: the graph differs ({len(got)} triples)"
    return None


def _graphs(client: httpx.Client) -> set[str]:
    r = client.post(
        "/sparql",
        data={"query": "SELECT DISTINCT ?g WHERE { GRAPH ?g { ?s ?p ?o } }"},
        headers={"Accept": "application/sparql-results+json"},
    )
    r.raise_for_status()
    return {b["g"]["value"] for b in r.json()["results"]["bindings"]}


def run(case: Case, base_url: str, token: str) -> str:
    """``pass``, or ``fail: why`` for one test against the endpoint at ``base_url``."""
    auth = {"Authorization": f"Bearer {token}"}
    with httpx.Client(base_url=base_url.rstrip("/"), timeout=60, headers=auth) as client:
        before = _graphs(client)
        try:
            for file, graph in case.data:
                put = client.put(
                    "/store",
                    params={"graph": graph},
                    content=(W3C / "sparql-protocol" / file.name).read_bytes(),
                    headers={"Content-Type": "text/turtle"},
                )
                if put.status_code not in (201, 204):
                    return f"fail: set-up PUT of {graph}: {put.status_code} {put.text[:100]}"
            names: dict[str, str] = {}
            for step in case.steps:
                path, body = step.path, step.body
                for template, value in names.items():
                    path = path.replace(template, value)
                    body = body.replace(template, value) if body is not None else None
                if path.startswith("http"):  # a Location the endpoint gave: its own path
                    path = "/" + path.split("/", 3)[3]
                path = re.sub(r"^/sparql/?", "/sparql", path)
                path = re.sub(r"^/gsp", "/store", path)
                request = client.build_request(
                    step.method,
                    base_url.rstrip("/") + path,
                    content=None if body is None else body.encode("utf-8"),
                    headers=step.headers,
                )
                response = client.send(request)
                why = _check(step, response)
                if why is not None:
                    return "fail: " + why
                if step.location is not None:
                    if "location" not in response.headers:
                        return f"fail: {step.method} {path}: no Location header"
                    names[step.location] = response.headers["location"]
            return "pass"
        finally:
            for graph in sorted(_graphs(client) - before) + [g for _, g in case.data]:
                client.delete("/store", params={"graph": graph})
