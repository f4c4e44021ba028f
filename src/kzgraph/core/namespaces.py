"""The IRIs kzgraph mints, chosen once so that links to them never break.

Terms live in one hash namespace (``kz:``); every data entity lives under ``/id/<kind>/<slug>``,
so a server can resolve it by path; every named graph lives under ``/graph/``.

>>> str(KZ.Company)
'https://w3id.org/kzgraph/ontology#Company'
>>> str(entity("region", "zhambyl"))
'https://w3id.org/kzgraph/id/region/zhambyl'
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import TypeVar

from rdflib import Graph, Namespace, URIRef
from rdflib.namespace import DCTERMS, OWL, PROV, RDF, RDFS, SH, SKOS, XSD

BASE = "https://w3id.org/kzgraph/"
ONTOLOGY_IRI = URIRef(BASE + "ontology")
SHAPES_IRI = URIRef(BASE + "shapes")

KZ = Namespace(BASE + "ontology#")
KZSH = Namespace(BASE + "shapes#")
ID = Namespace(BASE + "id/")
GRAPH = Namespace(BASE + "graph/")
#: Graphs users write through the endpoint (a Graph Store POST without ?graph): never the
#: project push's to replace or drop.
USER_GRAPHS = f"{GRAPH}user/"
STATUS = Namespace(BASE + "vocab/status/")
SECTOR = Namespace(BASE + "vocab/sector/")
MEASURE = Namespace(BASE + "vocab/measure/")
DIRECTION = Namespace(BASE + "vocab/direction/")
UNIT = Namespace(BASE + "vocab/unit/")
ORG = Namespace("http://www.w3.org/ns/org#")
G = TypeVar("G", bound=Graph)
SCHEMA = Namespace("https://schema.org/")
QUDT = Namespace("http://qudt.org/schema/qudt/")
QUDT_UNIT = Namespace("http://qudt.org/vocab/unit/")
GEO = Namespace("http://www.opengis.net/ont/geosparql#")

#: Named graph that holds the ontology and its vocabularies inside the dataset.
ONTOLOGY_GRAPH = GRAPH["ontology"]

#: Prefixes bound on every graph kzgraph writes, and preset in queries.
PREFIXES: dict[str, str] = {
    "kz": str(KZ),
    "kzsh": str(KZSH),
    "status": str(STATUS),
    "sector": str(SECTOR),
    "measure": str(MEASURE),
    "dir": str(DIRECTION),
    "kzu": str(UNIT),
    "kzg": str(GRAPH),
    "company": str(ID["company/"]),
    "organization": str(ID["organization/"]),
    "person": str(ID["person/"]),
    "office": str(ID["office/"]),
    "country": str(ID["country/"]),
    "region": str(ID["region/"]),
    "place": str(ID["place/"]),
    "currency": str(ID["currency/"]),
    "project": str(ID["project/"]),
    "facility": str(ID["facility/"]),
    "corridor": str(ID["corridor/"]),
    "agreement": str(ID["agreement/"]),
    "event": str(ID["event/"]),
    "series": str(ID["series/"]),
    "initiative": str(ID["initiative/"]),
    "figure": str(ID["figure/"]),
    "flow": str(ID["flow/"]),
    "commodity": str(ID["commodity/"]),
    "source": str(ID["source/"]),
    "org": str(ORG),
    "schema": str(SCHEMA),
    "qudt": str(QUDT),
    "unit": str(QUDT_UNIT),
    "geo": str(GEO),
    "rdf": str(RDF),
    "rdfs": str(RDFS),
    "owl": str(OWL),
    "xsd": str(XSD),
    "skos": str(SKOS),
    "dcterms": str(DCTERMS),
    "prov": str(PROV),
    "sh": str(SH),
}


_BY_LENGTH = sorted(PREFIXES.items(), key=lambda kv: -len(kv[1]))


def curie(iri: object) -> str:
    """The prefixed form of ``iri`` with the longest matching namespace, or the IRI itself.

    >>> curie("https://w3id.org/kzgraph/id/company/tbea")
    'company:tbea'
    """
    text = str(iri)
    for prefix, ns in _BY_LENGTH:
        if text.startswith(ns):
            return f"{prefix}:{text[len(ns) :]}"
    return text


def bind_prefixes(graph: G) -> G:
    """Bind kzgraph's prefixes on ``graph`` (a Graph or Dataset), so what it writes is readable."""
    for prefix, iri in PREFIXES.items():
        graph.bind(prefix, iri, replace=True)
    return graph


def entity(kind: str, slug: str) -> URIRef:
    """Mint the IRI of a data entity; one function so every module agrees on the pattern."""
    return ID[f"{kind}/{slug}"]


def sparql_prologue() -> str:
    """The PREFIX lines for ad-hoc queries, so users can write ``kz:Company`` without declaring it.

    >>> "PREFIX kz: <https://w3id.org/kzgraph/ontology#>" in sparql_prologue()
    True
    """
    return "".join(f"PREFIX {p}: <{iri}>\n" for p, iri in PREFIXES.items())


def class_by_name(name: str, known: Mapping[str, str]) -> tuple[str | None, list[str]]:
    """The class of ``known`` (IRI → label) a person means by ``name``, or None and near names.

    A label or a local name, in any case; the project's own classes win a tie (``Project`` is
    ``kz:Project``, not ``schema:Project``). The search and the tables both name classes so.

    >>> known = {"https://schema.org/Project": "Project", KZ + "Project": "Project"}
    >>> class_by_name("project", known)[0] == KZ + "Project"
    True
    >>> class_by_name("Projekt", known)
    (None, ['project'])
    """
    from difflib import get_close_matches

    spoken: dict[str, str] = {}
    for iri, label in sorted(known.items(), key=lambda kv: (not kv[0].startswith(BASE), kv)):
        spoken.setdefault(label.lower(), iri)
        spoken.setdefault(re.split(r"[#/]", iri)[-1].lower(), iri)
    if name.lower() in spoken:
        return spoken[name.lower()], []
    return None, get_close_matches(name.lower(), list(spoken), n=3, cutoff=0.6)
