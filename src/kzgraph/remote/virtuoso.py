"""Virtuoso's dialect: what Virtuoso 7.2 gets wrong or writes differently, and the way around.

Kept apart from the protocol client (:mod:`.stores`), which any standard store needs, so that
each workaround is found in one place with the error or difference it answers: geometry
literals given back in another form, a default graph that is a bag, updates too big for one
logged transaction, a compiler that fails on standard forms.
"""

from __future__ import annotations

import re
import struct
from collections.abc import Callable

import pyoxigraph as ox

from kzgraph.core.namespaces import GRAPH, PREFIXES

#: Graphs a Virtuoso server keeps for itself (its schemas, LDP, the URI-QA endpoint).
VIRTUOSO_SYSTEM_GRAPHS = (
    "http://www.openlinksw.com/schemas/virtrdf#",
    "http://www.w3.org/ns/ldp#",
    "http://localuriqaserver/",
)
#: Where the merge of the named graphs is kept on Virtuoso, whose own default graph is every
#: graph as a bag (a triple held by two graphs matches twice) and cannot be written.
MERGED = f"{GRAPH}merged"

VIRTUOSO_GEOMETRY = "http://www.openlinksw.com/schemas/virtrdf#Geometry"
GEO_WKT = "http://www.opengis.net/ont/geosparql#wktLiteral"
_NUMBER = re.compile(r"-?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?")


def _float32(x: float) -> float:
    return float(struct.unpack("f", struct.pack("f", x))[0])


def restored_wkt(text: str) -> str:
    """A WKT literal as Virtuoso 7.2 gives it back, in the form it was written.

    Virtuoso stores ``geo:wktLiteral`` values as its own geometry type: it returns them typed
    ``virtrdf:Geometry``, without the space after each comma, and a POINT's coordinates as
    single-precision floats printed to 14 digits (69.5819 comes back as 69.581901550293). The
    shortest decimal that is the same single-precision float is the one written, for any
    coordinate given with up to 7 significant digits (kzgraph writes 4 decimals); commas get
    their space back, as kzgraph and most writers put it.

    >>> restored_wkt("POINT(69.581901550293 42.305400848389)")
    'POINT(69.5819 42.3054)'
    >>> restored_wkt("POLYGON((71.326 46.0073,69.0671 45.9999))")
    'POLYGON((71.326 46.0073, 69.0671 45.9999))'
    """

    def shortest(match: re.Match[str]) -> str:
        written = match.group(0)
        if len(re.sub(r"\D", "", written.split("e")[0].split("E")[0]).lstrip("0")) < 10:
            return written  # not a printed single-precision float
        value = _float32(float(written))
        for digits in range(1, 10):
            candidate = f"{value:.{digits}f}".rstrip("0").rstrip(".")
            if _float32(float(candidate)) == value:
                return candidate
        return written

    return _NUMBER.sub(shortest, re.sub(r",(?=\S)", ", ", text))


_NT_GEOMETRY = re.compile(
    rb'"((?:[^"\\]|\\.)*)"\^\^<' + re.escape(VIRTUOSO_GEOMETRY.encode()) + rb">"
)


def restored_ntriples(data: bytes) -> bytes:
    """N-Triples from Virtuoso with its geometry literals restored (see :func:`restored_wkt`)."""
    if VIRTUOSO_GEOMETRY.encode() not in data:
        return data

    def literal(match: re.Match[bytes]) -> bytes:
        wkt = restored_wkt(match.group(1).decode("utf-8"))
        return b'"' + wkt.encode("utf-8") + b'"^^<' + GEO_WKT.encode() + b">"

    return _NT_GEOMETRY.sub(literal, data)


#: Virtuoso's pragma for an update too big for one logged transaction (its default limit on a
#: transaction's log, TransactionAfterImageLimit, is 50 MB: the merge of a million quads
#: failed with SR325). Rows are then committed as they go, so a failure leaves part done.
VIRTUOSO_UNLOGGED = "DEFINE sql:log-enable 3\n"


def virtuoso_merge(logged: bool = False) -> str:
    """The update that keeps the merge in :data:`MERGED` on Virtuoso (a set: one copy each).

    Unlogged (:data:`VIRTUOSO_UNLOGGED` in front) unless ``logged``: for a caller that puts
    the pragma at the start of a longer request itself.
    """
    system = " && ".join(f'!STRSTARTS(STR(?g), "{g}")' for g in VIRTUOSO_SYSTEM_GRAPHS)
    return ("" if logged else VIRTUOSO_UNLOGGED) + (
        f"CLEAR SILENT GRAPH <{MERGED}> ;\n"
        f"INSERT {{ GRAPH <{MERGED}> {{ ?s ?p ?o }} }} WHERE {{ "
        f"SELECT DISTINCT ?s ?p ?o WHERE {{ GRAPH ?g {{ ?s ?p ?o }} "
        f"FILTER(?g != <{MERGED}> && {system}) }} }}"
    )


def virtuoso_drops(text: str, exists: Callable[[str], bool]) -> str:
    """``DROP GRAPH <g>`` and ``CLEAR GRAPH <g>`` as Virtuoso will run them for a graph with data.

    Virtuoso knows only graphs made by ``CREATE GRAPH``: dropping a graph that ``INSERT DATA``
    filled fails (22023, "has not been explicitly created"). A graph that holds triples gets
    ``SILENT``; one that does not is refused here, as the standard says a DROP without SILENT
    of a missing graph is.

    >>> virtuoso_drops("DROP GRAPH <http://g>", lambda g: True)
    'DROP SILENT GRAPH <http://g>'
    """
    from kzgraph.core.sparql_text import tokens

    toks = tokens(text)
    cuts: list[int] = []
    for i, token in enumerate(toks[:-2]):
        if token.keyword in ("DROP", "CLEAR") and toks[i + 1].keyword == "GRAPH":
            name = toks[i + 2]
            if name.kind != "iri":
                continue
            if not exists(name.text[1:-1]):
                raise ValueError(f"{token.keyword} GRAPH {name.text}: the store has no such graph")
            cuts.append(toks[i + 1].start)
    for at in reversed(cuts):
        text = text[:at] + "SILENT " + text[at:]
    return text


def virtuoso_dataset(query: str, graphs: list[str]) -> tuple[str, list[tuple[str, str]]]:
    """Pragmas to put before ``query`` and protocol parameters that give it kzgraph's dataset.

    Virtuoso's default graph is every graph as a bag and GRAPH ?g ranges over its system
    graphs too, so a query gets the merge as its default graph and, when it names a graph at
    all (GRAPH, FROM), the graphs of data as its named graphs. Those go in the text as
    Virtuoso's own ``define input:named-graph-uri`` pragmas, not as protocol parameters:
    Virtuoso echoes each parameter back as a response header, and with thousands of graphs
    (2,500 at a million synthetic quads) the header block outgrew what the HTTP client reads
    ("Receive buffer too long").

    >>> virtuoso_dataset("SELECT * { ?s ?p ?o }", ["http://g"])
    ('', [('default-graph-uri', 'https://w3id.org/kzgraph/graph/merged')])
    >>> virtuoso_dataset("SELECT * { GRAPH ?g { ?s ?p ?o } }", ["http://g"])[0].splitlines()[1]
    'define input:named-graph-uri <http://g>'
    """
    from kzgraph.core.sparql_text import scan_query

    if not scan_query(query, PREFIXES, None).keywords & {"GRAPH", "FROM"}:
        return "", [("default-graph-uri", MERGED)]
    pragmas = f"define input:default-graph-uri <{MERGED}>\n" + "".join(
        f"define input:named-graph-uri <{checked_iri(g)}>\n" for g in graphs
    )
    return pragmas, []


#: What Virtuoso 7.2 says when its own compiler fails on a query it should run (SQ156).
VIRTUOSO_COMPILER = "SQ156"


def virtuoso_group_concat(text: str) -> str:
    """``text`` with each GROUP_CONCAT made to keep a language tag its parts share.

    Virtuoso 7.2's GROUP_CONCAT drops language tags (``"a | b"`` for ``"a"@en`` and ``"b"@en``);
    the embedded store keeps a tag every part has. Each call becomes the same call tagged with
    that language when exactly one, not empty, is found among its parts. Only a call over a
    variable is changed: STR(…) and other expressions give no tag to keep, and the longer form
    is one more chance for Virtuoso's compiler to fail (SQ156): where it does (the totals
    queries), the query is sent again as written.

    >>> virtuoso_group_concat('SELECT (GROUP_CONCAT(?l; separator="|") AS ?c) {}')[:62]
    'SELECT (IF(COUNT(DISTINCT LANG(?l)) = 1 && MIN(LANG(?l)) != ""'
    """
    from kzgraph.core.sparql_text import block_end, tokens

    toks = tokens(text)
    edits: list[tuple[int, int, str]] = []
    for i, token in enumerate(toks):
        if token.keyword != "GROUP_CONCAT" or i + 1 >= len(toks) or toks[i + 1].text != "(":
            continue
        # over a variable only: STR(?x), CONCAT(…) and other expressions carry no language
        first = i + 3 if i + 2 < len(toks) and toks[i + 2].keyword == "DISTINCT" else i + 2
        if (
            first + 1 >= len(toks)
            or toks[first].kind != "var"
            or toks[first + 1].text not in (";", ")")
        ):
            continue
        close = toks[block_end(toks, i + 1) - 1]
        end = close.start + len(close.text)
        call, lang = text[token.start : end], f"LANG({toks[first].text})"
        edits.append(
            (
                token.start,
                end,
                f'IF(COUNT(DISTINCT {lang}) = 1 && MIN({lang}) != "", '
                f"STRLANG({call}, MIN({lang})), {call})",
            )
        )
    for start, end, new in reversed(edits):
        text = text[:start] + new + text[end:]
    return text


def checked_iri(iri: str) -> str:
    """``iri`` if it can go between angle brackets in a query unchanged, else an error."""
    return ox.NamedNode(iri).value
