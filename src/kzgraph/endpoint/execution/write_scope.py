"""What a write touches: the merge it must keep, and the nodes to validate again.

The default graph is the merge of the named graphs. A write that names its graphs redoes only
their share of the merge (:func:`scoped_merge`); any other redoes all of it
(:func:`with_merges`). After it, the shapes are checked again on the nodes it named and those
pointing to them (:func:`pointing_to`), on the embedded store or a remote one.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pyoxigraph as ox
from rdflib import URIRef

from kzgraph.core.sparql_text import Scan, scan
from kzgraph.store.merge import MERGE


def with_merges(
    text: str,
    found: Scan,
    using: list[str],
    using_named: list[str],
) -> str:
    """The client's update with the merge kept up to date and ``using-graph-uri`` added.

    A ground update names the graphs it changes: their share of the default graph is removed
    first and put back after, so the cost follows those graphs, not the store. Any other update
    gets the full merge after each operation, which lets a later operation's WHERE see an
    earlier one's writes through the default graph, as a single-graph store would. ``found``
    is the safety rules' reading of ``text``: nothing here reads the text again.
    """
    if not (using or using_named) and found.written is not None:
        return scoped_merge(text, found.written, prologue_end=found.prologue_end)
    clauses = "".join(f" USING <{g}>" for g in using)
    clauses += "".join(f" USING NAMED <{g}>" for g in using_named)
    parts: list[str] = []
    for op in found.operations:
        segment = text[op.start : op.end]
        if clauses and op.where_at is not None:
            cut = op.where_at - op.start
            segment = segment[:cut] + clauses + " " + segment[cut:]
        parts.append(segment + "\n;\n" + MERGE)
    return " ;\n".join(parts) if parts else MERGE


def scoped_merge(
    update: str, graphs: set[str], into: str | None = None, prologue_end: int | None = None
) -> str:
    """``update`` wrapped so the default graph stays the merge, touching only ``graphs``.

    Before: drop from the default graph what only these graphs hold. After: copy these graphs
    into it again. All run in one request, so they take effect with the update or not at all.
    The update's own PREFIX and BASE lines stay in front; the wrapping uses absolute IRIs.
    ``into``: a named graph that holds the merge instead of the default graph (Virtuoso's).
    ``prologue_end``: where the update's prologue ends, from its :class:`Scan` if one was made.
    """
    ordered = sorted(graphs)
    names = " ".join(f"<{g}>" for g in ordered)
    target = "?s ?p ?o" if into is None else f"GRAPH <{into}> {{ ?s ?p ?o }}"
    others = [*ordered, *([into] if into is not None else [])]
    # what only the touched graphs hold, together: a triple in two of them goes if both lose it
    before = [
        f"DELETE {{ {target} }} WHERE {{ VALUES ?g {{ {names} }} GRAPH ?g {{ ?s ?p ?o }} "
        f"FILTER NOT EXISTS {{ GRAPH ?other {{ ?s ?p ?o }} "
        f"FILTER(?other NOT IN ({', '.join(f'<{g}>' for g in others)})) }} }}"
    ]
    after = [f"INSERT {{ {target} }} WHERE {{ GRAPH <{g}> {{ ?s ?p ?o }} }}" for g in ordered]
    end = prologue_end if prologue_end is not None else scan(update).prologue_end
    head, body = update[:end] + "\n", update[end:]
    return head + " ;\n".join([*before, body.strip().rstrip(";"), *after])


def iris_in(store: ox.Store, graph: str) -> set[str]:
    """Subjects and objects (IRIs) of one named graph, before it is dropped or replaced."""
    found: set[str] = set()
    for quad in store.quads_for_pattern(None, None, None, ox.NamedNode(graph)):
        for term in (quad.subject, quad.object):
            if isinstance(term, ox.NamedNode):
                found.add(term.value)
    return found


def pointing_to(select: Callable[[str], set[str]], focus: set[str]) -> set[str]:
    """IRIs with a statement whose object is in ``focus``: their shapes may look at it.

    ``select`` runs a SELECT on the store (embedded or remote) and gives its first column's IRIs.
    """
    found: set[str] = set()
    ordered = sorted(focus)
    for start in range(0, len(ordered), 500):
        values = " ".join(f"<{iri}>" for iri in ordered[start : start + 500])
        found |= select(f"SELECT DISTINCT ?s WHERE {{ VALUES ?o {{ {values} }} ?s ?p ?o }}")
    return found


def local_iris(store: ox.Store) -> Callable[[str], set[str]]:
    """:func:`pointing_to`'s ``select`` on the embedded store."""

    def select(sparql: str) -> set[str]:
        rows = store.query(sparql)
        assert isinstance(rows, ox.QuerySolutions)
        return {row[0].value for row in rows if isinstance(row[0], ox.NamedNode)}

    return select


def remote_iris(store: Any) -> Callable[[str], set[str]]:
    """:func:`pointing_to`'s ``select`` on a remote store."""
    return lambda sparql: {str(r[0]) for r in store.query(sparql).rows if isinstance(r[0], URIRef)}


def remote_iris_in(store: Any, graph: str) -> set[str]:
    """:func:`iris_in` asked of a remote store."""
    return remote_iris(store)(
        f"SELECT DISTINCT ?t WHERE {{ GRAPH <{graph}> {{ {{ ?t ?p ?o }} UNION {{ ?s ?p ?t }} }} }}"
    )
