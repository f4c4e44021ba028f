"""The rules that keep a public endpoint read-only and away from other hosts and files.

Each rule is decided on the structure :func:`~kzgraph.core.sparql_text.scan` reads; the
processes that evaluate requests also cannot open network sockets
(:mod:`kzgraph.endpoint.safety.sandbox`), so these rules give clear 400s and the kernel gives the
guarantee.
"""

from __future__ import annotations

import re
from collections.abc import Collection

from kzgraph.core.namespaces import PREFIXES
from kzgraph.core.sparql_text import MAX_CHAIN, MAX_DEPTH, QUERY_FORMS, Scan, scan, scan_query
from kzgraph.endpoint.http.protocol import ProtocolError

NO_SERVICE = "SERVICE is refused: this endpoint never queries other endpoints"
NO_LOAD = "LOAD is refused: this endpoint never fetches documents"


def _bounded(found: Scan) -> None:
    if found.depth > MAX_DEPTH:
        raise ProtocolError(
            400, f"brackets nest {found.depth} deep; this endpoint accepts at most {MAX_DEPTH}"
        )
    if found.chain > MAX_CHAIN:
        raise ProtocolError(
            400,
            f"{found.chain} operators (||, &&, +, /, |, UNION, …) in one bracket; this endpoint "
            f"accepts at most {MAX_CHAIN}: split the expression or use VALUES",
        )


def unescaped(text: str) -> str | None:
    r"""``text`` with its ``\u``/``\U`` codepoint escapes replaced, or None if it has none.

    SPARQL lets these escapes stand anywhere, to be replaced before parsing; Oxigraph reads them
    only inside strings and IRIs, but other engines (a remote store) replace them first. The
    rules are checked on both readings, so ``S\u0045RVICE`` is refused whichever engine runs.

    >>> unescaped(r"S\u0045RVICE")
    'SERVICE'
    """
    if "\\u" not in text and "\\U" not in text:
        return None
    return _ESCAPE.sub(lambda m: chr(int(m.group(1) or m.group(2), 16)), text)


_ESCAPE = re.compile(r"\\u([0-9A-Fa-f]{4})|\\U([0-9A-Fa-f]{8})")


def _other_reading(text: str, base: str | None) -> Scan | None:
    other = unescaped(text)
    if other is None:
        return None
    try:
        return scan(other, PREFIXES, base)
    except ValueError:  # an escape of a surrogate or beyond Unicode: no engine reads it so
        return None


def check_query(text: str, known_graphs: Collection[str], base: str | None = None) -> Scan:
    """Refuse updates sent as queries, SERVICE, FROM of graphs this dataset lacks, deep nesting."""
    found = scan_query(text, PREFIXES, base)
    _bounded(found)
    other = _other_reading(text, base)
    if other is not None and other.service:
        raise ProtocolError(400, NO_SERVICE)
    if other is not None and other.is_update and not found.is_update:
        raise ProtocolError(400, "codepoint escapes spell an update here; this is a query service")
    if found.is_update:
        raise ProtocolError(
            400,
            "this is a SPARQL Update; POST it as update= or application/sparql-update (updates "
            "are refused unless the server was started with --allow-updates)",
        )
    if found.service:
        raise ProtocolError(400, NO_SERVICE)
    if found.form is not None and found.form not in QUERY_FORMS:
        return found  # Oxigraph reports the syntax error with its position
    for target in found.unresolved:
        raise ProtocolError(
            400, f"FROM must be followed by an IRI or a known prefixed name: {target!r}"
        )
    check_graphs(found.from_iris, known_graphs, "FROM")
    return found


def check_graphs(iris: Collection[str], known_graphs: Collection[str], where: str) -> None:
    """Every graph a request names for its dataset must be one of this dataset's named graphs."""
    for iri in iris:
        if iri not in known_graphs:
            raise ProtocolError(
                400,
                f"{where} <{iri}> names no graph of this dataset; remote documents are never "
                "fetched (GET /sparql lists the named graphs)",
            )


def check_update(text: str, base: str | None = None, using: bool = False) -> Scan:
    """Refuse LOAD and SERVICE even when updates are allowed, and every default-graph write.

    The default graph is the merge of the named graphs, derived after every write; an operation
    that would write it directly is refused rather than answered 204 and undone.
    """
    found = scan(text, PREFIXES, base)
    _bounded(found)
    other = _other_reading(text, base)
    if other is not None and other.load:
        raise ProtocolError(400, NO_LOAD)
    if not found.is_update:
        raise ProtocolError(400, "this is not a SPARQL Update; send queries as query=")
    if found.load or (other is not None and other.load):
        raise ProtocolError(400, NO_LOAD)
    if found.service or (other is not None and other.service):
        raise ProtocolError(400, NO_SERVICE)
    for number, op in enumerate(found.operations, start=1):
        if op.writes_default:
            raise ProtocolError(
                400,
                f"operation {number} ({op.verb}) writes the default graph, which here is the "
                "merge of the named graphs and cannot be written directly; write to a named "
                "graph with GRAPH <iri> { … }, WITH <iri>, or ?graph= on /store",
            )
        if using and (op.has_using or op.has_with):
            raise ProtocolError(
                400,
                f"operation {number} has USING or WITH; the protocol forbids them together with "
                "using-graph-uri / using-named-graph-uri",
            )
    return found
