"""Benchmark: load, validate and query the seeded graph; Oxigraph against the rdflib baseline.

Run: ``.venv/bin/python bench/run.py [--repeat 20] [--scale 1]``. ``--scale N`` copies the seeded
graphs N times under fresh IRIs, to see how each step grows. Prints medians and the ratio
rdflib / Oxigraph (above 1 means Oxigraph is faster).
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable

import rdflib
from rdflib import BNode, Dataset, URIRef

from kzgraph.core.namespaces import ID
from kzgraph.graph.loading import load, load_shapes
from kzgraph.store.engines import open_store
from kzgraph.validation.report import union_graph, validate_graph

QUERIES = {
    "firms-regions-amounts": """
        SELECT ?firm ?region ?value ?currency WHERE {
            ?project kz:investor|kz:developer|kz:partner ?firm ;
                     kz:region ?region .
            OPTIONAL { ?project kz:amount [ kz:value ?value ; kz:currency ?currency ] }
        }""",
    "investment-per-currency": """
        SELECT ?currency (SUM(?v) AS ?total) (COUNT(?p) AS ?n) WHERE {
            ?p kz:amount [ kz:measure measure:investment ; kz:value ?v ; kz:currency ?currency ]
        } GROUP BY ?currency""",
    "facts-per-source": """
        SELECT ?g (COUNT(*) AS ?n) WHERE { GRAPH ?g { ?s ?p ?o } } GROUP BY ?g""",
    "label-search": """
        SELECT ?x ?l WHERE { ?x rdfs:label ?l FILTER(CONTAINS(LCASE(STR(?l)), "china")) }""",
}


def timed(fn: Callable[[], object], repeat: int) -> float:
    """Median wall time of ``fn`` in milliseconds."""
    samples = []
    for _ in range(repeat):
        started = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - started) * 1000)
    return statistics.median(samples)


def scaled(ds: Dataset, copies: int) -> Dataset:
    """The dataset plus ``copies - 1`` renamed copies of its data entities."""
    if copies <= 1:
        return ds
    out = Dataset(default_union=True)
    for quad in ds.quads((None, None, None, None)):
        out.add(quad)  # type: ignore[arg-type]
    for k in range(1, copies):

        def rename(term, k=k):  # noqa: ANN001, ANN202
            if isinstance(term, URIRef) and str(term).startswith(str(ID)):
                return URIRef(f"{term}-copy{k}")
            if isinstance(term, BNode):
                return BNode(f"{term}c{k}")
            return term

        for s, p, o, g in ds.quads((None, None, None, None)):
            if isinstance(s, URIRef) and not str(s).startswith(str(ID)):
                continue
            out.add((rename(s), p, rename(o), g))  # type: ignore[arg-type]
    return out


def main() -> None:
    """Measure and print the table."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeat", type=int, default=20)
    parser.add_argument("--scale", type=int, default=1)
    args = parser.parse_args()

    load_ms = timed(load, 3)
    ds = scaled(load(), args.scale)
    quads = sum(1 for _ in ds.quads((None, None, None, None)))
    shapes = load_shapes()
    union = union_graph(ds)
    validate_ms = timed(lambda: validate_graph(union, shapes), 1)
    open_ox = timed(lambda: open_store("oxigraph", dataset=ds), 3)
    stores = {name: open_store(name, dataset=ds) for name in ("rdflib", "oxigraph")}

    print(f"dataset: {quads} quads (scale {args.scale}); baseline: rdflib {rdflib.__version__}")
    print(f"{'step':<28}{'rdflib ms':>12}{'oxigraph ms':>14}{'ratio':>8}")
    print(f"{'parse files (rdflib)':<28}{load_ms:>12.1f}{'':>14}{'':>8}")
    print(f"{'SHACL validate (pyshacl)':<28}{validate_ms:>12.1f}{'':>14}{'':>8}")
    print(f"{'load into Oxigraph store':<28}{'':>12}{open_ox:>14.1f}{'':>8}")
    for name, query in QUERIES.items():
        a = timed(lambda q=query: stores["rdflib"].query(q), args.repeat)
        b = timed(lambda q=query: stores["oxigraph"].query(q), args.repeat)
        print(f"{'query ' + name:<28}{a:>12.2f}{b:>14.2f}{a / b:>8.1f}")


if __name__ == "__main__":
    main()
