"""Optional inference: the RDFS (or OWL 2 RL) closure, so asking for a superclass finds its members.

Off by default: the saved queries walk ``rdfs:subClassOf*`` themselves, the closure multiplies the
triples several times over (most of them trivial, such as every resource being an rdfs:Resource),
and a researcher comparing results with another endpoint expects the asserted data. Turn it on
with ``--inference rdfs`` (or ``owlrl``) on ``query``, ``sparql``, ``validate`` and ``serve``.
The inferred triples go to their own named graph, ``kzg:inferred``, so they can be told apart.

>>> from kzgraph.graph.loading import load
>>> ds = expand(load(), "rdfs")
>>> from kzgraph.core.namespaces import ORG, entity
>>> from rdflib import RDF
>>> (entity("company", "tbea"), RDF.type, ORG.Organization) in ds.graph(INFERRED)
True
"""

from __future__ import annotations

import owlrl
from rdflib import Dataset, Literal, URIRef
from rdflib.namespace import OWL, RDF, RDFS

from kzgraph.core.errors import KzgraphError
from kzgraph.core.namespaces import GRAPH
from kzgraph.validation.report import union_graph

INFERRED = GRAPH["inferred"]
MODES = ("none", "rdfs", "owlrl")
_TRIVIAL = {RDFS.Resource, RDFS.Literal, OWL.Thing, RDFS.Class, RDF.Property}


def expand(ds: Dataset, mode: str) -> Dataset:
    """Add the closure of ``mode`` to ``ds`` (in place) as the named graph ``kzg:inferred``."""
    if mode not in MODES:
        raise KzgraphError(f"unknown inference {mode!r}; choose one of {', '.join(MODES)}")
    if mode == "none":
        return ds
    union = union_graph(ds)
    before = set(union)
    semantics = owlrl.RDFS_Semantics if mode == "rdfs" else owlrl.OWLRL_Semantics
    owlrl.DeductiveClosure(semantics, axiomatic_triples=False, datatype_axioms=False).expand(union)
    target = ds.graph(INFERRED)
    for triple in union:
        if triple in before:
            continue
        s, p, o = triple
        # owlrl re-states literals with explicit datatypes ("x" and "x"^^xsd:string); such
        # copies add nothing and break cardinalities, so inferred literal values are left out.
        if isinstance(s, Literal) or isinstance(o, Literal) or (p == RDF.type and o in _TRIVIAL):
            continue
        if isinstance(o, URIRef) and p == RDFS.subClassOf and s == o:
            continue
        target.add(triple)
    return ds
