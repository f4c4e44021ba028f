"""Run saved and ad-hoc queries against a store, and give results to notebooks.

>>> result = run_saved("energy-projects-by-capacity")
>>> "capacity" in result.variables
True
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from rdflib import Literal, Node, URIRef
from rdflib.namespace import RDFS, SKOS

from kzgraph.core.settings import Settings
from kzgraph.queries.catalogue import get_query
from kzgraph.store.engines import QueryResult, open_store
from kzgraph.store.engines import Store as Store

_LABELS = """
SELECT ?x ?label ?lang WHERE {{{values}
  {{ ?x rdfs:label ?label }} UNION {{ ?x skos:prefLabel ?label }}
  BIND(LANG(?label) AS ?lang)
  FILTER(?lang IN ("en", ""))
}}"""


def label_map(store: Store) -> dict[Node, str]:
    """IRI → English label (or an untagged one), for showing results to people."""
    return _add_labels({}, store.query(_LABELS.format(values="")).rows)


def _add_labels(
    labels: dict[Node, str], rows: Iterable[tuple[Node | None, ...]]
) -> dict[Node, str]:
    """``labels`` with each row's (IRI, label, language): an English label wins over an untagged."""
    for x, label, lang in rows:
        if x is None or label is None:
            continue
        if x not in labels or str(lang) == "en":
            labels[x] = str(label)
    return labels


def labels_of(store: Store, terms: Iterable[Node | None], chunk: int = 500) -> dict[Node, str]:
    """:func:`label_map` for the IRIs in ``terms`` only: a result's labels, at any store size.

    A command printing a table needs the names of the IRIs it shows, not the hundred thousand
    labels of a million-quad store (3.6 s to read, where these queries take milliseconds).
    """
    iris = sorted({t for t in terms if isinstance(t, URIRef)})
    inner = getattr(store, "store", None)
    if inner is not None and type(inner).__module__ == "pyoxigraph":
        return _labels_by_lookup(inner, iris)
    labels: dict[Node, str] = {}
    for start in range(0, len(iris), chunk):
        values = " ".join(f"<{iri}>" for iri in iris[start : start + chunk])
        _add_labels(
            labels, store.query(_LABELS.format(values=f"\n  VALUES ?x {{ {values} }}")).rows
        )
    return labels


def _labels_by_lookup(store: Any, iris: list[URIRef]) -> dict[Node, str]:
    """Labels read from an embedded Oxigraph store's index, two lookups per IRI (no parsing)."""
    import pyoxigraph as ox

    predicates = [ox.NamedNode(str(RDFS.label)), ox.NamedNode(str(SKOS.prefLabel))]
    default = ox.DefaultGraph()
    labels: dict[Node, str] = {}
    for iri in iris:
        node = ox.NamedNode(str(iri))
        for predicate in predicates:
            for quad in store.quads_for_pattern(node, predicate, None, default):
                label = quad.object
                if not isinstance(label, ox.Literal) or label.language not in (None, "en"):
                    continue
                if iri not in labels or label.language == "en":
                    labels[iri] = label.value
    return labels


def run_saved(
    name: str,
    params: dict[str, str] | None = None,
    store: Store | None = None,
    settings: Settings | None = None,
) -> QueryResult:
    """Run the saved query ``name`` with ``params`` (strings, turned into typed RDF terms)."""
    query = get_query(name, settings)
    bindings = query.bind(params or {})
    store = store if store is not None else open_store("oxigraph", settings=settings)
    return store.query(query.text, bindings).without(query.hidden)


def to_dataframe(result: QueryResult, labels: dict[Node, str] | None = None) -> Any:
    """A pandas DataFrame of a SELECT result: numbers as numbers, IRIs as strings (or labels).

    Needs pandas (``.venv/bin/pip install -e '.[pandas]'``).
    """
    try:
        import pandas as pd
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise ImportError(
            "to_dataframe needs pandas: .venv/bin/pip install -e '.[pandas]'"
        ) from exc

    def cell(term: Node | None) -> Any:
        if term is None:
            return None
        if isinstance(term, Literal):
            return term.toPython()
        if isinstance(term, URIRef) and labels is not None:
            return labels.get(term, str(term))
        return str(term)

    return pd.DataFrame([[cell(t) for t in row] for row in result.rows], columns=result.variables)
