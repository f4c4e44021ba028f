"""Counts that tell a user what the graph holds: per class, per named graph, per source.

>>> from kzgraph.graph.loading import load
>>> s = compute(load())
>>> s.classes["kz:Company"] > 0
True
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from rdflib import Dataset, URIRef
from rdflib.namespace import PROV, RDF

from kzgraph.core.namespaces import KZ, ONTOLOGY_GRAPH, curie

if TYPE_CHECKING:
    from kzgraph.store.engines import Store


@dataclass
class Stats:
    """Triple and entity counts of a dataset."""

    triples: int
    graphs: dict[str, int] = field(default_factory=dict)
    classes: dict[str, int] = field(default_factory=dict)
    quotations: dict[str, int] = field(default_factory=dict)
    #: What an analyst asks first: projects, firms, regions with projects, sources.
    summary: dict[str, int] = field(default_factory=dict)

    def to_text(self) -> str:
        """Three aligned tables, for the terminal, after the summary."""
        lines = [f"{self.triples} distinct triples in {len(self.graphs)} named graphs"]
        lines += [f"  {name:<44}{n:>7}" for name, n in self.summary.items()]
        lines.append("")
        lines.append("Named graph                                   triples")
        for name, n in self.graphs.items():
            lines.append(f"  {name:<44}{n:>7}")
        lines += ["", "Class                                         instances"]
        for name, n in self.classes.items():
            lines.append(f"  {name:<44}{n:>7}")
        lines += ["", "Source document                               quotations"]
        for name, n in self.quotations.items():
            lines.append(f"  {name:<44}{n:>7}")
        return "\n".join(lines)


def compute(ds: Dataset) -> Stats:
    """Count triples per graph, instances per class (asserted types) and quotations per source."""
    graphs = {
        curie(g.identifier): len(g)
        for g in sorted(ds.graphs(), key=lambda g: str(g.identifier))
        if len(g) > 0
    }
    ontology = ds.graph(ONTOLOGY_GRAPH)
    kz_classes = {c for c in ontology.subjects(RDF.type, None) if str(c).startswith(str(KZ))}
    counts: Counter[str] = Counter()
    seen: set[tuple[object, object]] = set()
    for s, _p, o, _g in ds.quads((None, RDF.type, None, None)):
        if o in kz_classes and (s, o) not in seen:
            seen.add((s, o))
            counts[curie(o)] += 1
    quotations: Counter[str] = Counter()
    for derivation, _p, source, _g in ds.quads((None, PROV.entity, None, None)):
        if (derivation, KZ.quotation, None) in ds:
            quotations[curie(source)] += 1
    from kzgraph.store.engines import OxigraphStore

    embedded = OxigraphStore()  # the summary's queries, on the same quads
    embedded.load_dataset(ds)
    return Stats(
        triples=len(set(ds.triples((None, None, None)))),
        graphs=graphs,
        classes=dict(sorted(counts.items())),
        quotations=dict(sorted(quotations.items())),
        summary=summary_of(embedded),
    )


#: The summary's counts, each one SPARQL query over the default graph (the merge).
SUMMARY = {
    "projects": "?x a/rdfs:subClassOf* kz:Project",
    "firms (kz:Company)": "?x a kz:Company",
    "regions with projects": "?p a/rdfs:subClassOf* kz:Project ; kz:region ?x . ?x a kz:Region",
    "agreements": "?x a/rdfs:subClassOf* kz:Agreement",
    "sources with kept text": "?x a kz:SourceDocument FILTER NOT EXISTS { ?x a kz:CitedSource }",
    "sources cited by reference": "?x a kz:CitedSource",
}


def summary_of(store: Store) -> dict[str, int]:
    """The summary's counts, asked of ``store`` (embedded or remote)."""
    out = {}
    for name, pattern in SUMMARY.items():
        rows = store.query(f"SELECT (COUNT(DISTINCT ?x) AS ?n) WHERE {{ {pattern} }}").rows
        out[name] = int(str(rows[0][0])) if rows and rows[0][0] is not None else 0
    return out


def compute_store(store: Store) -> Stats:
    """The same counts by SPARQL, for a store too big to load (on disk, or run by others)."""

    def rows(query: str) -> list[tuple[str, int]]:
        return [
            (curie(URIRef(str(k))), int(str(n)))
            for k, n in store.query(query).rows
            if k is not None and n is not None
        ]

    total = store.query("SELECT (COUNT(*) AS ?n) WHERE { ?s ?p ?o }").rows[0][0]
    graphs = rows("SELECT ?g (COUNT(*) AS ?n) WHERE { GRAPH ?g { ?s ?p ?o } } GROUP BY ?g")
    classes = rows(
        f"SELECT ?c (COUNT(DISTINCT ?s) AS ?n) WHERE {{ "
        f"{{ SELECT DISTINCT ?c WHERE {{ GRAPH <{ONTOLOGY_GRAPH}> {{ ?c a ?t }} "
        f'FILTER(STRSTARTS(STR(?c), "{KZ}")) }} }} ?s a ?c }} GROUP BY ?c'
    )
    quotations = rows(
        f"SELECT ?src (COUNT(*) AS ?n) WHERE {{ GRAPH ?g {{ ?d <{PROV.entity}> ?src }} "
        f"FILTER EXISTS {{ GRAPH ?h {{ ?d <{KZ.quotation}> ?q }} }} }} GROUP BY ?src"
    )
    return Stats(
        triples=int(str(total)) if total is not None else 0,
        graphs=dict(sorted(graphs)),
        classes=dict(sorted(classes)),
        quotations=dict(sorted(quotations)),
        summary=summary_of(store),
    )
