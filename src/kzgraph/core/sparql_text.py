r"""Read a SPARQL request's structure before any engine sees it: form, SERVICE, LOAD, FROM, writes.

The text is split by the SPARQL 1.1 grammar's own terminals (IRIREF, PNAME_LN, STRING_LITERAL…,
comments ending at CR *or* LF, longest match), prefixed names are expanded with the request's
``PREFIX``/``BASE`` declarations, and brackets are matched, so the answers come from structure,
not from a keyword search:

- the form (a query, or an update and its operations);
- whether ``SERVICE`` or ``LOAD`` is used anywhere (also glued to a prefixed name, as in
  ``SERVICE:x``, which Oxigraph's parser reads as the keyword);
- the graphs named by ``FROM``/``FROM NAMED``, as absolute IRIs;
- for each update operation: does it write the default graph, use ``WITH``/``USING``, and where
  its ``WHERE`` starts (to add the protocol's ``using-graph-uri``);
- the nesting depth and the longest operator chain, which are bounded before a worker parses the
  text (Oxigraph's recursive parser overflows its stack at a few hundred nested collections).

This reader is the first line; the processes that run queries cannot open sockets at all
(:mod:`kzgraph.endpoint.safety.sandbox`), so a spelling it misses still reaches nothing.

>>> s = scan('PREFIX ex: <http://ex/> SELECT * FROM ex:g WHERE { ?s ex:SERVICE "LOAD" }')
>>> s.form, s.from_iris, s.service
('SELECT', ['http://ex/g'], False)
>>> scan("SELECT * WHERE { # c\rSERVICE <http://127.0.0.1/> { ?s ?p ?o } }").service
True
>>> scan("# SELECT\nINSERT DATA { <a:b> <a:c> <a:d> }").operations[0].writes_default
True
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from urllib.parse import urljoin

QUERY_FORMS = {"SELECT", "CONSTRUCT", "ASK", "DESCRIBE"}
UPDATE_FORMS = {
    "INSERT",
    "DELETE",
    "LOAD",
    "CLEAR",
    "CREATE",
    "DROP",
    "COPY",
    "MOVE",
    "ADD",
    "WITH",
}

#: Limits checked before a worker parses a request; Oxigraph's parser crashes far above them.
MAX_DEPTH = 64
MAX_CHAIN = 250

_BASE = (
    "A-Za-z\u00c0-\u00d6\u00d8-\u00f6\u00f8-\u02ff\u0370-\u037d\u037f-\u1fff\u200c-\u200d"
    "\u2070-\u218f\u2c00-\u2fef\u3001-\ud7ff\uf900-\ufdcf\ufdf0-\ufffd\U00010000-\U000effff"
)
_U = _BASE + "_"
_CHARS = _U + r"\-0-9\u00b7\u0300-\u036f\u203f-\u2040"
_PLX = r"%[0-9A-Fa-f]{2}|\\[_~.\-!$&'()*+,;=/?#@%]"
_PREFIX = f"[{_BASE}](?:[{_CHARS}.]*[{_CHARS}])?"
_LOCAL = f"(?:[{_U}:0-9]|{_PLX})(?:(?:[{_CHARS}.:]|{_PLX})*(?:[{_CHARS}:]|{_PLX}))?"

_TOKEN = re.compile(
    rf"""
    (?P<ws>[ \t\r\n]+)
  | (?P<comment>\#[^\r\n]*)
  | (?P<string>'''(?:[^'\\]|\\.|'(?!''))*'''|\"\"\"(?:[^"\\]|\\.|"(?!""))*\"\"\"
              |'(?:[^'\\\r\n]|\\.)*'|"(?:[^"\\\r\n]|\\.)*")
  | (?P<iri><[^<>"{{}}|^`\\\x00-\x20]*>)
  | (?P<bnode>_:[{_U}0-9](?:[{_CHARS}.]*[{_CHARS}])?)
  | (?P<pname>(?:{_PREFIX})?:(?:{_LOCAL})?)
  | (?P<var>[?$][{_U}0-9][{_U}0-9\u00b7\u0300-\u036f\u203f-\u2040]*)
  | (?P<lang>@[A-Za-z]+(?:-[A-Za-z0-9]+)*)
  | (?P<number>[0-9]*\.?[0-9]+(?:[eE][+-]?[0-9]+)?|[0-9]+\.[0-9]*(?:[eE][+-]?[0-9]+)?)
  | (?P<word>[A-Za-z_][A-Za-z0-9_]*)
  | (?P<op>\|\||&&|!=|<=|>=|\^\^|[-+*/|^!=<>])
  | (?P<punct>[(){{}}\[\].,;])
  | (?P<other>.)
    """,
    re.VERBOSE | re.DOTALL,
)

_CHAIN_WORDS = {"UNION", "MINUS"}
#: Keywords Oxigraph also reads when glued to a prefixed name (``SERVICE:x``, ``LOAD:x``).
_GLUED = {"SERVICE", "LOAD", "FROM"}


@dataclass
class Token:
    """One terminal: its kind, text, and offset in the request."""

    kind: str
    text: str
    start: int

    @property
    def keyword(self) -> str | None:
        """The keyword this token is, upper-cased, or None."""
        return self.text.upper() if self.kind == "word" else None


@dataclass
class Operation:
    """One operation of an update request."""

    verb: str
    writes_default: bool = False
    has_with: bool = False
    has_using: bool = False
    #: Offset of the operation's top-level WHERE (a DELETE/INSERT … WHERE), else None.
    where_at: int | None = None
    #: Offsets of the operation's text, prologue declarations before it included.
    start: int = 0
    end: int = 0


@dataclass
class Scan:
    """What the safety rules need to know about a request string."""

    form: str | None = None
    #: The query's own SELECT is a SELECT DISTINCT.
    distinct: bool = False
    keywords: set[str] = field(default_factory=set)
    service: bool = False
    load: bool = False
    from_iris: list[str] = field(default_factory=list)
    unresolved: list[str] = field(default_factory=list)
    operations: list[Operation] = field(default_factory=list)
    depth: int = 0
    chain: int = 0
    unbalanced: bool = False
    #: Offset just past the leading PREFIX and BASE declarations: a wrapping goes after them.
    prologue_end: int = 0
    #: An update that names every node it changes: those IRIs, and the graphs it drops or
    #: clears (see :func:`touched`); None for any other update, and for queries.
    touched: tuple[set[str], set[str]] | None = None
    #: The named graphs such an update changes (see :func:`graphs_written`), else None.
    written: set[str] | None = None

    @property
    def is_update(self) -> bool:
        """True for SPARQL Update requests."""
        return self.form in UPDATE_FORMS


def tokens(text: str) -> list[Token]:
    """The request's terminals without whitespace and comments; glued keywords are split."""
    out: list[Token] = []
    for match in _TOKEN.finditer(text):
        kind = match.lastgroup or "other"
        if kind in ("ws", "comment"):
            continue
        token = Token(kind, match.group(), match.start())
        if kind == "pname":
            prefix, _, local = token.text.partition(":")
            if prefix.upper() in _GLUED:
                out.append(Token("word", prefix, token.start))
                out.append(Token("pname", ":" + local, token.start + len(prefix)))
                continue
        out.append(token)
    return out


def _resolve(token: Token, prefixes: Mapping[str, str], base: str | None) -> str | None:
    if token.kind == "iri":
        iri = token.text[1:-1]
        try:
            return urljoin(base, iri) if base else iri
        except ValueError:  # e.g. "Invalid IPv6 URL": not an IRI we could ever name
            return None
    if token.kind == "pname":
        prefix, _, local = token.text.partition(":")
        if prefix in prefixes:
            return prefixes[prefix] + re.sub(r"\\(.)", r"\1", local)
    return None


def _measure(found: Scan, toks: list[Token]) -> None:
    """Nesting depth and the longest operator chain inside one bracket."""
    stack = [0]
    for token in toks:
        if token.text in "([{" and token.kind == "punct":
            stack.append(0)
            found.depth = max(found.depth, len(stack) - 1)
        elif token.text in ")]}" and token.kind == "punct":
            if len(stack) == 1:
                found.unbalanced = True
            else:
                stack.pop()
        elif token.kind == "op" or token.keyword in _CHAIN_WORDS:
            stack[-1] += 1
            found.chain = max(found.chain, stack[-1])


def block_end(toks: list[Token], i: int) -> int:
    """Index just past the bracket block that opens at ``toks[i]``."""
    depth = 0
    for j in range(i, len(toks)):
        if toks[j].kind == "punct" and toks[j].text in "([{":
            depth += 1
        elif toks[j].kind == "punct" and toks[j].text in ")]}":
            depth -= 1
            if depth == 0:
                return j + 1
    return len(toks)


def _template_writes_default(toks: list[Token], i: int) -> bool:
    """True when the block opening at ``toks[i]`` holds triples outside ``GRAPH … { }``."""
    end = block_end(toks, i)
    j = i + 1
    while j < end - 1:
        token = toks[j]
        if token.keyword == "GRAPH":
            k = j + 2
            if k < end and toks[k].text == "{":
                j = block_end(toks, k)
                continue
            return True
        if token.text == ".":
            j += 1
            continue
        return True
    return False


def _operation(toks: list[Token]) -> Operation:
    """Read one update operation (its tokens, without the ``;``)."""
    words = [t.keyword for t in toks]
    verb = words[0] or "" if toks else ""
    op = Operation(verb)
    if verb in ("CLEAR", "DROP"):
        op.writes_default = "DEFAULT" in words
    elif verb in ("ADD", "MOVE", "COPY"):
        to = words.index("TO") if "TO" in words else len(words)
        op.writes_default = "DEFAULT" in words[to:] or (verb == "MOVE" and "DEFAULT" in words)
    elif verb in ("INSERT", "DELETE", "WITH"):
        op.has_with = verb == "WITH"
        i = 0
        depth = 0
        while i < len(toks):
            token = toks[i]
            if token.kind == "punct" and token.text == "{" and depth == 0:
                kind = words[i - 1] if i else None
                prev2 = words[i - 2] if i > 1 else None
                if kind == "DATA" or (kind == "WHERE" and prev2 == "DELETE"):
                    op.writes_default |= _template_writes_default(toks, i)
                elif kind in ("INSERT", "DELETE") and not op.has_with:
                    op.writes_default |= _template_writes_default(toks, i)
                i = block_end(toks, i)
                continue
            if token.keyword == "USING":
                op.has_using = True
            if token.keyword == "WHERE" and words[i - 1] != "DELETE" and op.where_at is None:
                op.where_at = token.start
            i += 1
    return op


#: Requests longer than this are scanned every time rather than kept in the cache.
CACHED_CHARS = 16_384


#: Functions whose value changes from one evaluation to the next (SPARQL 1.1, 17.4.5 and 17.4.6).
VOLATILE = frozenset({"RAND", "NOW", "UUID", "STRUUID"})


def volatile(text: str, base: str | None = None) -> bool:
    """Whether the query calls a function whose answer differs on every run, so none is kept.

    Read from the same remembered scan the safety checks made of ``text`` against ``base``,
    so a request's text is not tokenised again for it.

    >>> volatile("SELECT ?x WHERE { ?x ?p ?o } ORDER BY RAND() LIMIT 3")
    True
    >>> volatile("SELECT ?now WHERE { ?now ?p ex:rand }")
    False
    """
    from kzgraph.core.namespaces import PREFIXES

    return bool(scan_query(text, PREFIXES, base).keywords & VOLATILE)


def scan_query(text: str, prefixes: Mapping[str, str], base: str | None) -> Scan:
    """:func:`scan`, remembered for the last 1,024 short requests.

    Scanning a saved query takes longer than Oxigraph takes to answer it, and clients send the
    same texts again and again. The cache holds at most 1,024 × 16 KB; callers must treat the
    :class:`Scan` as read-only.
    """
    if len(text) > CACHED_CHARS:
        return scan(text, prefixes, base)
    return _scan_cached(text, tuple(prefixes.items()), base)


@lru_cache(maxsize=1024)
def _scan_cached(text: str, prefixes: tuple[tuple[str, str], ...], base: str | None) -> Scan:
    return scan(text, dict(prefixes), base)


def scan(text: str, prefixes: Mapping[str, str] | None = None, base: str | None = None) -> Scan:
    """Tokenise ``text`` and read its structure; never raises, whatever the input.

    Everything a request's handling reads from its text is read here, from one tokenisation:
    the safety rules' facts, and for an update the nodes and graphs it touches and where its
    prologue ends, which the write path and the merge wrapping take from the :class:`Scan`.
    """
    # Long on purpose (73 lines): one pass over the tokens, one branch per rule; split, the parts
    # would share the cursor, depth and prefixes, or tokenise again.
    found = Scan()
    toks = tokens(text)
    _measure(found, toks)
    found.prologue_end = _prologue_end(toks)
    given_base = base
    known = dict(prefixes or {})
    started = False
    op_start: int | None = None
    segment_start = 0
    depth = 0
    i = 0
    while i < len(toks):
        token = toks[i]
        word = token.keyword
        if depth == 0 and word == "PREFIX" and i + 2 < len(toks):
            name, iri = toks[i + 1], toks[i + 2]
            if name.kind == "pname" and name.text.endswith(":") and iri.kind == "iri":
                resolved = _resolve(iri, known, base)
                if resolved is not None:
                    known[name.text[:-1]] = resolved
            i += 3
            continue
        if depth == 0 and word == "BASE" and i + 1 < len(toks) and toks[i + 1].kind == "iri":
            base = _resolve(toks[i + 1], known, base)
            i += 2
            continue
        if not started:
            found.form = word
            found.distinct = (
                word == "SELECT" and i + 1 < len(toks) and (toks[i + 1].keyword == "DISTINCT")
            )
            started = True
        if op_start is None:
            op_start = i
        if token.kind == "punct":
            depth += {"(": 1, "[": 1, "{": 1, ")": -1, "]": -1, "}": -1}.get(token.text, 0)
        if word is not None:
            found.keywords.add(word)
            found.service |= word == "SERVICE"
            found.load |= word == "LOAD"
        if word == "FROM":
            j = i + 1
            if j < len(toks) and toks[j].keyword == "NAMED":
                j += 1
            if j < len(toks):
                target = _resolve(toks[j], known, base)
                if target is None:
                    found.unresolved.append(toks[j].text)
                else:
                    found.from_iris.append(target)
        if found.form in UPDATE_FORMS and depth == 0 and token.text == ";":
            op = _operation(toks[op_start:i])
            op.start, op.end = segment_start, token.start
            found.operations.append(op)
            op_start = None
            segment_start = token.start + 1
        i += 1
    if found.form in UPDATE_FORMS and op_start is not None:
        op = _operation(toks[op_start:])
        op.start, op.end = segment_start, len(text)
        found.operations.append(op)
    if found.form in UPDATE_FORMS:
        found.touched = _touched(toks, prefixes, given_base)
        if found.touched is not None:
            found.written = _graphs_written(toks, prefixes, given_base)
    return found


def _prologue_end(toks: list[Token]) -> int:
    """The offset just past the leading PREFIX and BASE declarations (0 when there are none)."""
    end, i = 0, 0
    while i < len(toks) and toks[i].keyword in ("PREFIX", "BASE"):
        step = 3 if toks[i].keyword == "PREFIX" else 2
        if i + step > len(toks):
            break
        last = toks[i + step - 1]
        end = last.start + len(last.text)
        i += step
    return end


#: Words that make an update's effect depend on the data (a WHERE pattern) or reach whole
#: graph sets; the nodes such an update touches cannot be read from its text.
_UNBOUNDED = {"WHERE", "LOAD", "ADD", "COPY", "MOVE", "ALL", "NAMED", "DEFAULT", "USING", "WITH"}


def touched(
    text: str, prefixes: Mapping[str, str] | None = None, base: str | None = None
) -> tuple[set[str], set[str]] | None:
    """The IRIs a ground update names, and the graphs it drops or clears.

    For INSERT DATA, DELETE DATA, CREATE, and DROP or CLEAR of one graph, these are every node
    whose shapes the update can change (with the dropped graphs' contents, which the caller reads
    before the write). None when the update has variables or reaches whole graph sets: then only
    a full validation can tell. A request's handling reads this from its :class:`Scan`.
    """
    return _touched(tokens(text), prefixes, base)


def _touched(
    toks: list[Token], prefixes: Mapping[str, str] | None, base: str | None
) -> tuple[set[str], set[str]] | None:
    known = dict(prefixes or {})
    iris: set[str] = set()
    graphs: set[str] = set()
    i = 0
    while i < len(toks):
        token = toks[i]
        word = token.keyword
        if token.kind == "var" or word in _UNBOUNDED:
            return None
        if word == "PREFIX" and i + 2 < len(toks) and toks[i + 2].kind == "iri":
            resolved = _resolve(toks[i + 2], known, base)
            if resolved is not None:
                known[toks[i + 1].text[:-1]] = resolved
            i += 3
            continue
        if word == "BASE" and i + 1 < len(toks) and toks[i + 1].kind == "iri":
            base = _resolve(toks[i + 1], known, base)
            i += 2
            continue
        if word in ("DROP", "CLEAR"):
            j = i + 1
            while j < len(toks) and toks[j].keyword in ("SILENT", "GRAPH"):
                j += 1
            target = _resolve(toks[j], known, base) if j < len(toks) else None
            if target is None:
                return None
            graphs.add(target)
        if token.kind in ("iri", "pname"):
            resolved = _resolve(token, known, base)
            if resolved is None:
                return None
            iris.add(resolved)
        i += 1
    return iris, graphs


def graphs_written(
    text: str, prefixes: Mapping[str, str] | None = None, base: str | None = None
) -> set[str] | None:
    """The named graphs a ground update changes, or None when that cannot be read from the text.

    Ground updates (INSERT DATA, DELETE DATA, CREATE, DROP or CLEAR of one graph) name every graph
    they change: the IRI after GRAPH (in a data block or a graph operation). The server then keeps
    the merged default graph up to date graph by graph instead of re-deriving all of it.
    """
    toks = tokens(text)
    if _touched(toks, prefixes, base) is None:
        return None
    return _graphs_written(toks, prefixes, base)


def _graphs_written(
    toks: list[Token], prefixes: Mapping[str, str] | None, base: str | None
) -> set[str] | None:
    known = dict(prefixes or {})
    graphs: set[str] = set()
    for i, token in enumerate(toks):
        word = token.keyword
        if word == "PREFIX" and i + 2 < len(toks) and toks[i + 2].kind == "iri":
            resolved = _resolve(toks[i + 2], known, base)
            if resolved is not None:
                known[toks[i + 1].text[:-1]] = resolved
        elif word == "BASE" and i + 1 < len(toks) and toks[i + 1].kind == "iri":
            base = _resolve(toks[i + 1], known, base)
        elif word == "GRAPH" and i + 1 < len(toks):
            target = _resolve(toks[i + 1], known, base)
            if target is None:
                return None
            graphs.add(target)
    return graphs
