"""The values a saved query's IRI parameter can usefully take, for the forms in the query UI.

A parameter's name says what it stands for (``region``, ``firm``, ``sector``…); each name maps to
a small SPARQL query over the data listing the values the graph actually uses, with labels, so a
form can offer a drop-down instead of asking for an IRI. Unknown names fall back to every
labelled entity.
"""

from __future__ import annotations

from kzgraph.core.namespaces import curie
from kzgraph.store.engines import Store

_USED = "SELECT DISTINCT ?x WHERE {{ {pattern} }}"
PATTERNS = {
    # every entity of the kind, not only those an article links to: a form that lists one
    # region of seventeen hides the rest
    "region": "?x a/rdfs:subClassOf* kz:Region",
    "firm": "?x a kz:Company",
    "company": "?x a kz:Company",
    "sector": "{ ?p kz:sector ?x } UNION { ?x skos:inScheme ?s . ?p kz:sector/skos:broader* ?x }",
    "status": "?x skos:inScheme ?scheme . ?p kz:status ?x",
    "direction": "?f kz:direction ?x",
    "source": "?x a kz:SourceDocument",
    "place": "?x a/rdfs:subClassOf* kz:Place",
    "person": "?x a kz:Person",
    "agreement": "?x a/rdfs:subClassOf* kz:Agreement",
    "entity": "GRAPH ?g { ?x rdfs:label ?l } FILTER(STRSTARTS(STR(?g), STR(kzg:0)))",
}


def choices(store: Store, param: str, labels: dict[str, str]) -> list[dict[str, str]]:
    """``[{"value": CURIE, "label": …}]`` for a parameter, sorted by label."""
    pattern = PATTERNS.get(param, PATTERNS["entity"])
    rows = store.query(_USED.format(pattern=pattern)).rows
    values = {str(row[0]) for row in rows if row[0] is not None and str(row[0]).startswith("http")}
    out = [{"value": curie(v), "label": labels.get(v, curie(v))} for v in values]
    return sorted(out, key=lambda c: c["label"].casefold())
