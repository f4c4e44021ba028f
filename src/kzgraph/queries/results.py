"""Query results in the standard SPARQL result formats and in tables people read.

JSON, XML, CSV and TSV are written by rdflib's own SPARQL result serializers, so they follow the
W3C formats exactly; ``table`` and ``md`` are for terminals and documents and show labels instead
of IRIs unless asked not to.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Mapping
from typing import cast

from rdflib import BNode, Literal, Node, URIRef, Variable
from rdflib.query import Result
from rdflib.term import Identifier

from kzgraph.core import choices
from kzgraph.core.errors import KzgraphError
from kzgraph.store.engines import QueryResult

RESULT_FORMATS = choices.RESULT_FORMATS
GRAPH_FORMATS = {
    "table": "turtle",
    "md": "turtle",
    "ttl": "turtle",
    "nt": "nt",
    "xml": "xml",
    "json": "json-ld",
    "jsonld": "json-ld",
}


def to_rdflib_result(result: QueryResult) -> Result:
    """Wrap our rows in rdflib's Result so its W3C serializers can write them."""
    if result.kind == "ask":
        out = Result("ASK")
        out.askAnswer = bool(result.boolean)
        return out
    if result.kind == "graph":
        out = Result("CONSTRUCT")
        out.graph = result.graph
        return out
    out = Result("SELECT")
    out.vars = [Variable(v) for v in result.variables]
    out.bindings = [
        {
            Variable(v): cast(Identifier, term)
            for v, term in zip(result.variables, row, strict=True)
            if term is not None
        }
        for row in result.rows
    ]
    return out


def serialize(result: QueryResult, fmt: str, labels: Mapping[Node, str] | None = None) -> str:
    """``result`` as text in ``fmt``; ``labels`` replace IRIs in ``table`` and ``md``."""
    if result.kind == "graph":
        assert result.graph is not None
        if fmt not in GRAPH_FORMATS:
            raise KzgraphError(f"a graph result cannot be written as {fmt!r}")
        return str(result.graph.serialize(format=GRAPH_FORMATS[fmt]))
    if fmt == "tsv":
        return _tsv(result)
    if fmt == "csv":
        return _csv(result)
    if fmt in ("json", "xml"):
        buffer = io.BytesIO()
        to_rdflib_result(result).serialize(buffer, encoding="utf-8", format=fmt)
        return buffer.getvalue().decode("utf-8")
    if fmt in ("table", "md"):
        if result.kind == "ask":
            return "true" if result.boolean else "false"
        return _table(result, labels or {}, markdown=fmt == "md")
    raise KzgraphError(f"unknown result format {fmt!r}; choose one of {', '.join(RESULT_FORMATS)}")


def _csv(result: QueryResult) -> str:
    """SPARQL 1.1 CSV results, safe to open in a spreadsheet.

    A value a spreadsheet would run as a formula (``=``, ``+``, ``-``, ``@``, tab, CR first;
    OWASP's rule) gets a leading apostrophe; signed numbers are left as they are.
    """
    from kzgraph.core.tables import neutralise

    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    if result.kind == "ask":
        writer.writerow(["_askResult"])
        writer.writerow(["true" if result.boolean else "false"])
        return out.getvalue()
    writer.writerow(result.variables)
    for row in result.rows:
        writer.writerow([neutralise(_csv_term(t)) for t in row])
    return out.getvalue()


def _csv_term(term: Node | None) -> str:
    if term is None:
        return ""
    if isinstance(term, BNode):
        return "_:" + str(term)
    return str(term)


def _tsv_term(term: Node | None) -> str:
    """A term as SPARQL 1.1 TSV writes it: N-Triples syntax, tabs and newlines escaped."""
    if term is None:
        return ""
    return str(term.n3()).replace("\t", "\\t").replace("\n", "\\n")


def _tsv(result: QueryResult) -> str:
    """SPARQL 1.1 Query Results TSV (rdflib has a TSV parser but no serializer)."""
    if result.kind == "ask":
        return "?_askResult\n" + ("true" if result.boolean else "false") + "\n"
    lines = ["\t".join(f"?{v}" for v in result.variables)]
    lines += ["\t".join(_tsv_term(t) for t in row) for row in result.rows]
    return "\n".join(lines) + "\n"


def display(term: Node | None, labels: Mapping[Node, str]) -> str:
    """How one cell reads: a label for an IRI, the lexical form for a literal."""
    if term is None:
        return ""
    if isinstance(term, URIRef):
        return labels.get(term, str(term))
    if isinstance(term, BNode):
        return "_:" + str(term)
    if isinstance(term, Literal):
        return str(term)
    return str(term)


def _table(result: QueryResult, labels: Mapping[Node, str], markdown: bool) -> str:
    header = result.variables
    rows = [[display(v, labels) for v in row] for row in result.rows]
    if markdown:
        lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
        lines += ["| " + " | ".join(c.replace("|", "\\|") for c in row) + " |" for row in rows]
        return "\n".join(lines)
    widths = [max([len(h)] + [len(r[i]) for r in rows]) for i, h in enumerate(header)]
    widths = [min(w, 60) for w in widths]

    def fit(text: str, width: int) -> str:
        return text if len(text) <= width else text[: width - 1] + "…"

    lines = ["  ".join(fit(h, w).ljust(w) for h, w in zip(header, widths, strict=True))]
    lines.append("  ".join("-" * w for w in widths))
    for row in rows:
        lines.append("  ".join(fit(c, w).ljust(w) for c, w in zip(row, widths, strict=True)))
    lines.append(f"({len(rows)} row{'s' if len(rows) != 1 else ''})")
    return "\n".join(line.rstrip() for line in lines)
