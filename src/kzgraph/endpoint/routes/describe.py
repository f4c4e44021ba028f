"""RDF that describes the service and the data: SPARQL service description, VoID/DCAT, entities."""

from __future__ import annotations

from rdflib import BNode, Graph, Literal, Namespace, URIRef
from rdflib.namespace import DCAT, DCTERMS, FOAF, RDF, RDFS, XSD

from kzgraph.core.namespaces import BASE, GRAPH, ONTOLOGY_IRI, bind_prefixes
from kzgraph.store.engines import Store, to_rdflib

SD = Namespace("http://www.w3.org/ns/sparql-service-description#")
VOID = Namespace("http://rdfs.org/ns/void#")
FORMATS = Namespace("http://www.w3.org/ns/formats/")
DATASET = URIRef(BASE + "dataset")


def _graph() -> Graph:
    g = bind_prefixes(Graph())
    g.bind("sd", SD)
    g.bind("void", VOID)
    g.bind("dcat", DCAT)
    return g


def service_description(endpoint_url: str, graphs: list[str], allow_updates: bool) -> Graph:
    """The SPARQL 1.1 Service Description a client gets from GET /sparql."""
    g = _graph()
    service = URIRef(endpoint_url)
    g.add((service, RDF.type, SD.Service))
    g.add((service, SD.endpoint, service))
    g.add((service, SD.supportedLanguage, SD.SPARQL11Query))
    if allow_updates:
        g.add((service, SD.supportedLanguage, SD.SPARQL11Update))
    g.add((service, SD.feature, SD.UnionDefaultGraph))
    for fmt in (
        "SPARQL_Results_JSON",
        "SPARQL_Results_XML",
        "SPARQL_Results_CSV",
        "SPARQL_Results_TSV",
        "Turtle",
        "N-Triples",
        "RDF_XML",
        "JSON-LD",
        "N-Quads",
        "TriG",
    ):
        g.add((service, SD.resultFormat, FORMATS[fmt]))
    dataset = BNode()
    default = BNode()
    g.add((service, SD.defaultDataset, dataset))
    g.add((dataset, RDF.type, SD.Dataset))
    g.add((dataset, SD.defaultGraph, default))
    g.add((default, RDF.type, SD.Graph))
    g.add((default, RDFS.comment, Literal("The RDF merge of all named graphs.", lang="en")))
    for name in graphs:
        named = BNode()
        g.add((dataset, SD.namedGraph, named))
        g.add((named, RDF.type, SD.NamedGraph))
        g.add((named, SD.name, URIRef(name)))
    g.add((service, RDFS.seeAlso, URIRef(BASE + ".well-known/void")))
    return g


def void_description(
    base_url: str, store: Store, graphs: list[str], dumps: list[tuple[str, str]]
) -> Graph:
    """VoID and DCAT description of the dataset, with one subset per named graph."""
    g = _graph()
    g.add((DATASET, RDF.type, VOID.Dataset))
    g.add((DATASET, RDF.type, DCAT.Dataset))
    g.add((DATASET, DCTERMS.title, Literal("kzgraph: Kazakhstan–China economic ties", lang="en")))
    g.add(
        (
            DATASET,
            DCTERMS.description,
            Literal(
                "Companies, projects, regions, corridors, agreements, events, investments and "
                "trade flows from five news articles, each fact with the sentence it comes from.",
                lang="en",
            ),
        )
    )
    g.add((DATASET, DCTERMS.license, URIRef("https://creativecommons.org/licenses/by/4.0/")))
    g.add((DATASET, VOID.sparqlEndpoint, URIRef(base_url + "sparql")))
    g.add((DATASET, VOID.uriSpace, Literal(BASE + "id/")))
    g.add((DATASET, VOID.vocabulary, ONTOLOGY_IRI))
    g.add((DATASET, FOAF.homepage, URIRef(base_url)))
    for name, media in dumps:
        url = URIRef(f"{base_url}dumps/{name}")
        g.add((DATASET, VOID.dataDump, url))
        dist = BNode()
        g.add((DATASET, DCAT.distribution, dist))
        g.add((dist, RDF.type, DCAT.Distribution))
        g.add((dist, DCAT.downloadURL, url))
        g.add((dist, DCAT.mediaType, Literal(media)))
    total = store.query("SELECT (COUNT(*) AS ?n) WHERE { ?s ?p ?o }").rows[0][0]
    g.add((DATASET, VOID.triples, Literal(int(str(total)), datatype=XSD.integer)))
    counts = store.query(
        "SELECT ?g (COUNT(*) AS ?n) WHERE { GRAPH ?g { ?s ?p ?o } } GROUP BY ?g"
    ).rows
    for graph_name, n in counts:
        subset = URIRef(str(graph_name))
        g.add((DATASET, VOID.subset, subset))
        g.add((subset, RDF.type, VOID.Dataset))
        g.add((subset, VOID.triples, Literal(int(str(n)), datatype=XSD.integer)))
        if str(subset).startswith(str(GRAPH)):
            for source in store.query(
                "SELECT ?g ?src WHERE { GRAPH ?g { ?g prov:wasDerivedFrom ?src } }", {"g": subset}
            ).rows:
                g.add((subset, DCTERMS.source, source[1]))  # type: ignore[arg-type]
    classes = store.query(
        "SELECT ?c (COUNT(DISTINCT ?x) AS ?n) WHERE { ?x a ?c } GROUP BY ?c ORDER BY ?c"
    ).rows
    for cls, n in classes:
        part = BNode()
        g.add((DATASET, VOID.classPartition, part))
        g.add((part, VOID["class"], cls))  # type: ignore[arg-type]
        g.add((part, VOID.entities, Literal(int(str(n)), datatype=XSD.integer)))
    return g


def entity_graph(store: Store, iri: str) -> Graph:
    """The entity's own statements, their blank-node detail, its quotations, and incoming links."""
    g = _graph()
    node = URIRef(iri)
    rows = store.query(
        """CONSTRUCT { ?x ?p ?o . ?o ?p2 ?o2 . ?o2 ?p3 ?o3 . ?in ?pin ?x . }
           WHERE { { ?x ?p ?o
                     OPTIONAL { ?o ?p2 ?o2 FILTER(isBlank(?o) || ?p = prov:qualifiedDerivation)
                                OPTIONAL { ?o2 ?p3 ?o3 FILTER(isBlank(?o2)) } } }
                   UNION { ?in ?pin ?x } }""",
        {"x": node},
    )
    assert rows.graph is not None
    for triple in rows.graph:
        g.add(triple)
    return g


def statements_with_sources(store: Store, iri: str) -> list[dict[str, object]]:
    """Each outgoing statement with the named graphs that hold it, for the HTML page."""
    result = store.query(
        """SELECT ?x ?p ?o ?g WHERE { GRAPH ?g { ?x ?p ?o } FILTER(?p != prov:qualifiedDerivation) }
           ORDER BY ?p ?o""",
        {"x": URIRef(iri)},
    )
    grouped: dict[tuple[object, object], list[str]] = {}
    for _x, p, o, graph_name in result.rows:
        grouped.setdefault((p, o), []).append(str(graph_name))
    return [{"p": p, "o": o, "graphs": sorted(gs)} for (p, o), gs in grouped.items()]


__all__ = [
    "entity_graph",
    "service_description",
    "statements_with_sources",
    "to_rdflib",
    "void_description",
]
