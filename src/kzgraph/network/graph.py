"""The full multi-relational graph: entities as nodes, relations between them as edges.

Literals, classes, provenance and schema are not nodes; useful literals become node attributes
(type, label, country, region, status, stated amounts) and each edge keeps its predicate, label
and the sources (named graphs) that state it.

>>> from kzgraph.graph.loading import load
>>> g = full_graph(load())
>>> g.nodes["https://w3id.org/kzgraph/id/company/tbea"]["label"]
'TBEA Company Limited'
"""

from __future__ import annotations

from collections import defaultdict

import networkx as nx
from rdflib import BNode, Dataset, Literal, URIRef
from rdflib.namespace import PROV, RDF, RDFS, SKOS

from kzgraph.core.errors import KzgraphError
from kzgraph.core.namespaces import GRAPH, ID, KZ, ONTOLOGY_GRAPH, curie
from kzgraph.queries.catalogue import ParameterError, expand_iri

SKIP_PREDICATES = {PROV.qualifiedDerivation, PROV.wasDerivedFrom, RDF.type, KZ.unit, KZ.currency}
NODE_SPACE = str(ID)
NOT_NODES = (str(ID["source/"]),)
REFERENCE_GRAPHS = (str(GRAPH["iso"]), str(ONTOLOGY_GRAPH))


def _is_node(term: object) -> bool:
    return (
        isinstance(term, URIRef)
        and str(term).startswith(NODE_SPACE)
        and not str(term).startswith(NOT_NODES)
    )


def _labels(ds: Dataset) -> dict[str, str]:
    """One English label per node, the alphabetically first of several.

    Two articles may name a firm differently; every way of building a graph shows the same one.
    """
    labels: dict[str, str] = {}
    for s, o in ds.subject_objects(RDFS.label):
        if isinstance(o, Literal) and o.language in (None, "en"):
            if str(s) not in labels or str(o) < labels[str(s)]:
                labels[str(s)] = str(o)
    for s, o in ds.subject_objects(SKOS.prefLabel):
        if isinstance(o, Literal) and o.language in (None, "en"):
            labels.setdefault(str(s), str(o))
    return labels


def _names(ds: Dataset) -> dict[str, set[str]]:
    """Every label and alternative label of every subject, any language, case-folded."""
    names: dict[str, set[str]] = defaultdict(set)
    for predicate in (RDFS.label, SKOS.prefLabel, SKOS.altLabel):
        for s, o in ds.subject_objects(predicate):
            if isinstance(o, Literal):
                names[str(s)].add(str(o))
    return names


def _type(ds: Dataset, node: URIRef, ontology: object) -> str:
    """The most specific kzgraph class asserted for ``node``."""
    types = [t for t in ds.objects(node, RDF.type) if str(t).startswith(str(KZ))]
    if not types:
        return "Thing"
    supers = {
        s
        for t in types
        for s in ds.graph(ONTOLOGY_GRAPH).transitive_objects(t, RDFS.subClassOf)
        if s != t
    }
    specific = sorted(str(t) for t in types if t not in supers)
    return specific[0].rsplit("#", 1)[-1]


def full_graph(ds: Dataset) -> nx.MultiDiGraph:
    """Every data entity and every relation between two entities, with attributes."""
    labels = _labels(ds)
    names = _names(ds)
    g = nx.MultiDiGraph()
    edge_sources: dict[tuple[str, str, str], set[str]] = defaultdict(set)
    for s, p, o, graph in ds.quads((None, None, None, None)):
        if graph == ONTOLOGY_GRAPH or p in SKIP_PREDICATES:
            continue
        if _is_node(s) and _is_node(o):
            source = str(graph).removeprefix(str(GRAPH)) if graph is not None else ""
            edge_sources[(str(s), str(p), str(o))].add(source)
    nodes = {n for key in edge_sources for n in (key[0], key[2])}
    # Entities the articles describe, even when unlinked; unused reference data stays out.
    nodes |= {
        str(s)
        for s, _p, _o, graph in ds.quads((None, RDF.type, None, None))
        if _is_node(s) and graph is not None and not str(graph).startswith(REFERENCE_GRAPHS)
    }
    ontology = ds.graph(ONTOLOGY_GRAPH)
    for node in nodes:
        ref = URIRef(node)
        g.add_node(
            node,
            label=labels.get(node, curie(node)),
            type=_type(ds, ref, ontology),
            iri=node,
            names=" | ".join(sorted(names.get(node, set()))),
        )
        _literal_attributes(ds, ref, g.nodes[node], labels)
    for (subject, predicate, obj), sources in edge_sources.items():
        g.add_edge(
            subject,
            obj,
            key=curie(predicate),
            predicate=curie(predicate),
            label=labels.get(predicate, curie(predicate)),
            sources=" ".join(sorted(sources)),
        )
    return g


def _literal_attributes(
    ds: Dataset, node: URIRef, attrs: dict[str, object], labels: dict[str, str]
) -> None:
    """Copy the literals analysts filter on onto the node."""
    for name, predicate in (
        ("country", KZ.headquartersCountry),
        ("region", KZ.region),
        ("status", KZ.status),
    ):
        value = ds.value(node, predicate)
        if value is not None:
            attrs[name] = labels.get(str(value), str(value))
    amounts = []
    for amount in ds.objects(node, KZ.amount):
        if isinstance(amount, BNode):
            value, currency = ds.value(amount, KZ.value), ds.value(amount, KZ.currency)
            if value is not None and currency is not None:
                amounts.append(f"{value} {str(currency).rsplit('/', 1)[-1]}")
    if amounts:
        attrs["amounts"] = "; ".join(sorted(amounts))
    for quantity in ds.objects(node, KZ.quantity):
        if ds.value(quantity, KZ.measure) == URIRef(
            "https://w3id.org/kzgraph/vocab/measure/power-capacity"
        ):
            attrs["capacity_mw"] = float(str(ds.value(quantity, KZ.value)))


def _node_names(data: dict[str, object]) -> set[str]:
    found = {str(data.get("label", ""))}
    found.update(n for n in str(data.get("names", "")).split(" | ") if n)
    return {n.casefold().strip() for n in found if n}


def resolve(g: nx.Graph, text: str) -> str:
    """The node a user means by IRI, CURIE, label or alternative label; never a silent guess.

    An exact label or alternative label (any language, case-insensitive) wins. When none
    matches exactly, or several do, the error lists the candidates (labels containing the text).
    """
    if text in g:
        return text
    try:
        iri = str(expand_iri(text))
    except ParameterError:  # not an IRI or CURIE: look for it among the labels
        iri = ""
    if iri in g:
        return iri
    wanted = text.casefold().strip()
    exact = sorted(str(n) for n, d in g.nodes(data=True) if wanted in _node_names(d))
    if len(exact) == 1:
        return exact[0]
    candidates = exact or sorted(
        str(n) for n, d in g.nodes(data=True) if any(wanted in name for name in _node_names(d))
    )
    if not candidates:
        raise KzgraphError(f"no entity matches {text!r}; give an IRI, a CURIE or a label")
    listing = "; ".join(f"{g.nodes[n]['label']} ({curie(n)})" for n in candidates[:12])
    more = f" and {len(candidates) - 12} more" if len(candidates) > 12 else ""
    if exact:
        raise KzgraphError(f"{text!r} is the name of {len(exact)} entities: {listing}{more}")
    raise KzgraphError(
        f"{text!r} is not the name of any entity; did you mean: {listing}{more}? "
        "(give the whole label, an alternative label, a CURIE or an IRI)"
    )
