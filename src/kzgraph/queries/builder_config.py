"""The visual query builder's configuration (Sparnatural, SHACL flavour), generated, never edited.

Sparnatural offers the classes and properties its configuration names. Written by hand, that
configuration would drift from the ontology the day someone adds a class; so it is made here
from the ontology, the shapes and the data the server holds:

- one node shape per class of the ontology that has instances (its label and definition are the
  ontology's), plus one for SKOS concepts (sectors, stages, measures) and one for source
  documents;
- on each, one property shape per property its shapes declare (``sh:path`` with ``sh:class``)
  or its instances use, with the range read from the shapes (``sh:class``) or, for properties
  the shapes leave open, from the classes of the values in the data;
- every object property also backwards (``^investor`` is "investor of"), so a query can start
  from a firm as well as from a project;
- literal properties (names, years, numbers) get a search field.

A new class or property in ``ontology/`` or the shapes, once it has data, appears in the builder
with no hand editing.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from rdflib import BNode, Graph, Literal, Namespace, URIRef
from rdflib.collection import Collection
from rdflib.namespace import RDF, RDFS, SH, XSD

from kzgraph.queries.running import Store

KZ = "https://w3id.org/kzgraph/ontology#"
#: Where the generated shapes live (they describe the builder, not the data).
EXPLORE = Namespace("https://w3id.org/kzgraph/explore#")
CORE = Namespace("http://data.sparna.fr/ontologies/sparnatural-config-core#")
DASH = Namespace("http://datashapes.org/dash#")
#: Above this many values, a search field (autocomplete) instead of a drop-down list.
LIST_MOST = 60

# instances of a class or of its subclasses: "Project" counts energy projects too. The typed
# classes are listed first, so the closure is walked once per class, not once per instance.
_CLASSES = """
SELECT ?c (COUNT(DISTINCT ?s) AS ?n) WHERE {
  { SELECT DISTINCT ?d WHERE { ?x a ?d } }
  ?d rdfs:subClassOf* ?c
  FILTER(isIRI(?c) && (STRSTARTS(STR(?c), STR(kz:)) || ?c = skos:Concept))
  ?s a ?d
} GROUP BY ?c
"""
# what instances use, by their own (direct) class; a superclass gets its subclasses' in Python
_USED = """
SELECT ?c ?p ?oc (SAMPLE(?o) AS ?example) WHERE {
  ?s a ?c ; ?p ?o
  FILTER(isIRI(?c) && (STRSTARTS(STR(?c), STR(kz:)) || ?c = skos:Concept))
  FILTER(?p != rdf:type)
  OPTIONAL { ?o a ?oc FILTER(isIRI(?oc) && (STRSTARTS(STR(?oc), STR(kz:)) || ?oc = skos:Concept)) }
} GROUP BY ?c ?p ?oc
"""


def _local(iri: str) -> str:
    return re.split(r"[#/]", iri)[-1]


def config(store: Store, shapes: Graph, labels: Mapping[Any, str]) -> Graph:
    """The Sparnatural SHACL configuration for the data in ``store``."""
    # Long on purpose (106 lines): the builder's configuration as one graph, class by class and
    # property by property, in the order Sparnatural reads it.
    names = {str(k): v for k, v in labels.items()}
    out = Graph()
    for prefix, ns in (
        ("sh", SH), ("rdfs", RDFS), ("kz", Namespace(KZ)), ("explore", EXPLORE),
        ("core", CORE), ("dash", DASH), ("xsd", XSD),
    ):  # fmt: skip
        out.bind(prefix, ns)
    counts = {str(c): int(str(n)) for c, n in store.query(_CLASSES).rows if c is not None}
    supers: dict[str, set[str]] = {}
    for sub, sup in store.query(
        "SELECT ?a ?b WHERE { ?a rdfs:subClassOf+ ?b FILTER(isIRI(?b)) }"
    ).rows:
        supers.setdefault(str(sub), set()).add(str(sup))
    kept = set(counts)

    def shape_of(cls: str) -> URIRef:
        return EXPLORE[_local(cls)]

    for cls, n in sorted(counts.items()):
        node, name = shape_of(cls), names.get(cls, _local(cls))
        out.add((node, RDF.type, SH.NodeShape))
        out.add((node, SH.targetClass, URIRef(cls)))
        out.add((node, RDFS.label, Literal(name, lang="en")))
        out.add((node, RDFS.comment, Literal(f"{name}: {n} in the data", lang="en")))

    # properties: used in the data on the class (or its subclasses), or declared by a shape
    ranges: dict[tuple[str, str], set[str]] = {}
    literal: dict[tuple[str, str], str] = {}
    for c, p, oc, example in store.query(_USED).rows:
        if c is None or p is None:
            continue
        for owner in {str(c), *supers.get(str(c), set())} & kept:
            key = (owner, str(p))
            if oc is not None and str(oc) in kept:
                ranges.setdefault(key, set()).add(str(oc))
            elif isinstance(example, Literal):
                # a name in many languages: the builder keeps the page's language (lang="en")
                kind = RDF.langString if example.language else (example.datatype or XSD.string)
                literal.setdefault(key, str(kind))
        # a blank node value (an amount, a quantity) has a class of its own and is reached so
    for shape in shapes.subjects(RDF.type, SH.NodeShape):
        for target in shapes.objects(shape, SH.targetClass):
            for prop in shapes.objects(shape, SH.property):
                path, rng = shapes.value(prop, SH.path), shapes.value(prop, SH["class"])
                ok = isinstance(path, URIRef) and isinstance(rng, URIRef)
                if ok and str(rng) in kept and str(target) in kept:
                    ranges.setdefault((str(target), str(path)), set()).add(str(rng))

    def common(targets: set[str]) -> list[str]:
        """Value classes as the one they share (energy projects are projects), else each."""
        if len(targets) == 1:
            return sorted(targets)
        shared = set.intersection(*({t, *supers.get(t, set())} for t in targets)) & kept
        if shared:  # the most specific shared class: the one with the fewest instances
            return [min(shared, key=lambda c: (counts[c], c))]
        return sorted(targets)

    def add_property(
        cls: str, path: Any, label: str, targets: list[str] | None, dtype: str | None
    ) -> None:
        # named, not blank: a saved builder query refers to its properties by IRI
        backwards = isinstance(path, BNode)
        step = _local(str(out.value(path, SH.inversePath) if backwards else path))
        prop = EXPLORE[f"{_local(cls)}-{step}" + ("-of" if backwards else "")]
        out.add((shape_of(cls), SH.property, prop))
        out.add((prop, SH.path, path))
        out.add((prop, SH.name, Literal(label, lang="en")))
        if targets:
            if len(targets) == 1:
                out.add((prop, SH.node, shape_of(targets[0])))
            else:
                items: list[Any] = []
                for t in targets:
                    alt = BNode()
                    out.add((alt, SH.node, shape_of(t)))
                    items.append(alt)
                head = BNode()
                Collection(out, head, items)
                out.add((prop, SH["or"], head))
            biggest = max(counts.get(t, 0) for t in targets)
            widget = CORE.AutocompleteProperty if biggest > LIST_MOST else CORE.ListProperty
            out.add((prop, DASH.searchWidget, widget))
        else:
            out.add((prop, SH.datatype, URIRef(dtype or XSD.string)))
            out.add((prop, SH.nodeKind, SH.Literal))
            if path == RDFS.label:  # the name shown for the class's entities
                out.add((prop, DASH.propertyRole, DASH.LabelRole))
            numeric = dtype in {str(XSD.decimal), str(XSD.integer), str(XSD.double)}
            widget = CORE.NumberProperty if numeric else CORE.SearchProperty
            out.add((prop, DASH.searchWidget, widget))

    for (cls, iri), targets in sorted(ranges.items()):
        label = names.get(iri, _local(iri))
        add_property(cls, URIRef(iri), label, common(targets), None)
        if any((sup, iri) in ranges for sup in supers.get(cls, set())):
            continue  # backwards once, to the widest class that has it (Project, not each kind)
        for t in common(targets):  # and backwards: from the firm to its projects
            back = BNode()
            out.add((back, SH.inversePath, URIRef(iri)))
            add_property(t, back, f"{label} of", [cls], None)
    for (cls, iri), dtype in sorted(literal.items()):
        if (cls, iri) not in ranges:
            add_property(cls, URIRef(iri), names.get(iri, _local(iri)), None, dtype)
    return out


def config_turtle(store: Store, shapes: Graph, labels: Mapping[Any, str]) -> str:
    """The configuration as Turtle, the form Sparnatural's ``src`` attribute reads."""
    return config(store, shapes, labels).serialize(format="turtle")
