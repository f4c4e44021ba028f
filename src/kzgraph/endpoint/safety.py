"""The rules that keep a public endpoint read-only and away from other hosts and files."""

from __future__ import annotations

from collections.abc import Collection

from kzgraph.endpoint.protocol import ProtocolError
from kzgraph.endpoint.sparql_text import QUERY_FORMS, Scan, scan


def check_query(text: str, known_graphs: Collection[str]) -> Scan:
    """Refuse updates sent as queries, SERVICE, and FROM of graphs this dataset lacks."""
    found = scan(text)
    if found.is_update:
        raise ProtocolError(
            400,
            "this is a SPARQL Update; send it as update=, not query= (updates are refused "
            "unless the server was started with --allow-updates)",
        )
    if found.form is not None and found.form not in QUERY_FORMS:
        return found  # Oxigraph will report the syntax error with its position
    if "SERVICE" in found.keywords:
        raise ProtocolError(400, "SERVICE is refused: this endpoint never queries other endpoints")
    for iri in found.from_iris:
        if iri not in known_graphs:
            raise ProtocolError(
                400,
                f"FROM <{iri}> names no graph of this dataset; remote documents are never "
                "fetched (GET /sparql lists the named graphs)",
            )
    return found


def check_update(text: str) -> None:
    """Refuse LOAD even when updates are allowed: it would reach the network or the disk."""
    found = scan(text)
    if "LOAD" in found.keywords:
        raise ProtocolError(400, "LOAD is refused: this endpoint never fetches documents")
    if "SERVICE" in found.keywords:
        raise ProtocolError(400, "SERVICE is refused: this endpoint never queries other endpoints")
