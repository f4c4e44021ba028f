"""Read a query's property paths from its tokens: which triples have paths, and where.

The first half of :mod:`kzgraph.remote.path_expansion`: a path's syntax tree, the triple
patterns that carry one (with the character spans the rewrite replaces), and the reader that
finds them, telling groups, expressions, VALUES blocks and sub-SELECTs apart so that ``/`` or
``|`` in an expression is never taken for a path.

Past 500 lines on purpose: the reader follows the SPARQL grammar's group graph pattern, one
method per production; split, the productions that call each other would sit in two files.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from rdflib import Node

from kzgraph.core.errors import KzgraphError
from kzgraph.core.sparql_text import QUERY_FORMS, Token, tokens

OBJECT_LIST = (
    "a path with a zero-or-more step and several objects (?s p* ?o , ?m or ?s p/q* ?o , ?m): "
    "Virtuoso answers it wrongly without saying so, so kzgraph does not send it; write one "
    "triple per object (?s p* ?o . ?s p* ?m)"
)


class Unsupported(Exception):
    """A form this module does not translate exactly; the query is sent as written."""


class WrongOnVirtuoso(Unsupported, KzgraphError):
    """A zero-or-more path this module cannot write out and Virtuoso answers wrongly: refused.

    Virtuoso answers ``?s p0 ?m ; p0* ?o , ?m`` and ``?s p0 ?m ; p0/p2* ?o , ?m`` with fewer
    rows than the standard gives and no error (found by the differential test). A wrong answer
    without a word is worse than a refusal, so the query is refused with what to change.
    """


# a path's syntax tree: an IRI (its text as written, or "a"), a sequence, an alternative, q*
@dataclass(frozen=True)
class Step:
    """One IRI of a path, as written (``kz:sector``, ``<http://…>`` or ``a``)."""

    text: str


@dataclass(frozen=True)
class Seq:
    """A sequence, ``p/q/…``."""

    parts: tuple[PathNode, ...]


@dataclass(frozen=True)
class Alt:
    """An alternative, ``p|q|…``."""

    parts: tuple[PathNode, ...]


@dataclass(frozen=True)
class Star:
    """``q*`` over one IRI."""

    step: Step


PathNode = Step | Seq | Alt | Star


@dataclass
class Walks:
    """What the fetch query found, for :meth:`Plan.render`.

    The edges and starts the paths walk, and which fixed ends of a lone ``?s q* C`` are nodes
    of the graph: the embedded store gives ``C`` itself only then.
    """

    edges: Mapping[str, list[tuple[Node, Node]]] = field(default_factory=dict)
    starts: Mapping[str, list[Node]] = field(default_factory=dict)
    present: set[Node] = field(default_factory=set)


RDF_TYPE = "<http://www.w3.org/1999/02/22-rdf-syntax-ns#type>"


@dataclass
class PathTriple:
    """A triple pattern whose verb is a path, with what its translation needs."""

    subject: str
    path: PathNode
    objects: list[str]
    #: character span of the verb and its object list, replaced by the translation
    start: int
    end: int
    #: where the triple (all of its subject's verbs) ends: the filters and triples it needs
    #: go there
    after: int
    #: where the triple begins (its subject): its VALUES blocks go there
    before: int = 0
    #: the whole triple is ``S q* O`` alone, and ``S`` a variable: it becomes VALUES on ``S``
    whole: tuple[int, int] | None = None
    #: inside ``FILTER (NOT) EXISTS``, where Virtuoso ignores a VALUES block on an outer variable
    in_exists: bool = False
    #: directly inside a group of its own (``{ … } UNION { … }``), where a bare VALUES block
    #: gives Virtuoso no rows
    braced: bool = False


def iri_of(step: PathNode) -> str:
    """The IRI of a one-IRI step as written; anything else cannot be listed in VALUES."""
    if not isinstance(step, Step):
        raise Unsupported("an alternative of paths that are not single IRIs")
    return RDF_TYPE if step.text == "a" else step.text


def named_term(term: str, literal: bool = False) -> bool:
    """Whether ``term`` (as written) can be repeated elsewhere in the group as the same term."""
    if term[0] in "?$<":
        return True
    if literal and (term[0] in "\"'0123456789+-." or term.upper() in ("TRUE", "FALSE")):
        return True
    return ":" in term and term[0] != "_"


class QueryReader:
    """A recursive reading of a query's groups, finding the triple patterns whose verb is a path."""

    def __init__(self, text: str, bound: Mapping[str, Node]) -> None:
        self.text = text
        self.toks = tokens(text)
        self.i = 0
        self.triples: list[PathTriple] = []
        self.edges: set[str] = set()
        self.starts: set[str] = set()
        self.star_select = False
        self.bound = bound
        #: inside GRAPH, or a query with its own FROM: edges are not the default graph's
        self.in_graph = 0
        self.in_exists = 0
        #: per open group, whether it stands alone (not after OPTIONAL, MINUS, GRAPH, EXISTS)
        self.braced: list[bool] = []
        self._keyword_group = False
        self.has_from = False

    # token helpers
    def peek(self, ahead: int = 0) -> Token | None:
        """The token ``ahead`` of the cursor, or None past the end."""
        j = self.i + ahead
        return self.toks[j] if j < len(self.toks) else None

    def at(self, text: str, ahead: int = 0) -> bool:
        """Whether the token ``ahead`` is the punctuation or operator ``text``."""
        t = self.peek(ahead)
        return t is not None and t.kind in ("punct", "op", "other") and t.text == text

    def word(self, ahead: int = 0) -> str | None:
        """The keyword ``ahead`` of the cursor (upper case), if it is one."""
        t = self.peek(ahead)
        return t.keyword if t is not None else None

    def next(self) -> Token:
        """The token at the cursor, consumed; the end of the text is a form not read."""
        t = self.peek()
        if t is None:
            raise Unsupported("the query ends early")
        self.i += 1
        return t

    def end_of(self, t: Token) -> int:
        """The character offset just past ``t``."""
        return t.start + len(t.text)

    # the query
    def query(self) -> int:
        """Read the whole query; returns where the prologue ends."""
        prologue_end = 0
        form: str | None = None
        while self.peek() is not None:
            t = self.peek()
            assert t is not None
            kw = t.keyword
            if form is None and kw in QUERY_FORMS:
                form = kw
                prologue_end = t.start
            if kw in ("SELECT", "DESCRIBE") and self._star_after():
                self.star_select = True
            if kw == "FROM":
                self.has_from = True
            if kw == "CONSTRUCT" or kw == "VALUES":
                self.i += 1
                self._skip_to_block()
                continue
            if t.kind == "punct" and t.text == "{":
                self.group()
                continue
            if t.kind == "punct" and t.text == "(":
                self.parens()
                continue
            self.i += 1
        if form is None:
            raise Unsupported("not a query")
        return prologue_end

    def _star_after(self) -> bool:
        j = 0 if self.word() in ("DISTINCT", "REDUCED") else 1
        while self.word(j) in ("DISTINCT", "REDUCED"):
            j += 1
        return self.at("*", j)

    def _skip_to_block(self) -> None:
        """Skip a CONSTRUCT template or a VALUES block (its variables and its data)."""
        while self.peek() is not None and not self.at("{"):
            if self.word() == "WHERE":  # CONSTRUCT WHERE { … }: a pattern that is its template
                raise Unsupported("CONSTRUCT WHERE")
            self.i += 1
        self.block()

    def block(self) -> None:
        """Skip a bracketed block whole."""
        depth = 0
        while True:
            t = self.next()
            if t.kind == "punct" and t.text in "([{":
                depth += 1
            elif t.kind == "punct" and t.text in ")]}":
                depth -= 1
                if depth == 0:
                    return

    def parens(self) -> None:
        """An expression in brackets; groups inside it (EXISTS) are read as groups."""
        assert self.at("(")
        self.i += 1
        while not self.at(")"):
            if self.peek() is None:
                raise Unsupported("unbalanced brackets")
            if self.at("("):
                self.parens()
            elif self.at("{"):
                self.group()
            elif self.word() in ("SELECT", "DISTINCT") and self._star_after():
                self.star_select = True  # COUNT(DISTINCT *) would count the new columns
                self.i += 1
            else:
                self.i += 1
        self.i += 1

    def group(self) -> None:
        """``{ … }``: triples, filters, optional parts, unions, sub-SELECTs."""
        assert self.at("{")
        self.braced.append(bool(self.braced) and not self._keyword_group)
        self._keyword_group = False
        try:
            self._group()
        finally:
            self.braced.pop()

    def _group(self) -> None:
        self.i += 1
        if self.word() == "SELECT":
            self.subselect()
            return
        while True:
            t = self.peek()
            if t is None:
                raise Unsupported("unbalanced brackets")
            kw = t.keyword
            if t.kind == "punct" and t.text == "}":
                self.i += 1
                return
            if t.kind == "punct" and t.text == "{":
                self.group()
            elif t.kind == "punct" and t.text == ".":
                self.i += 1
            elif kw in ("OPTIONAL", "MINUS"):
                self.i += 1
                self._keyword_group = True
            elif kw == "UNION":
                self.i += 1
            elif kw == "GRAPH":
                self.i += 2
                self._keyword_group = True
                self.graph_group()
            elif kw == "SERVICE":
                raise Unsupported("SERVICE")
            elif kw == "FILTER":
                self.i += 1
                self.constraint()
            elif kw == "BIND":
                self.i += 1
                self.parens()
            elif kw == "VALUES":
                self.i += 1
                self._skip_to_block()
            else:
                self.triples_same_subject()

    def graph_group(self) -> None:
        """A GRAPH's group: its zero-or-more paths would walk that graph's edges only."""
        self.in_graph += 1
        self.group()
        self.in_graph -= 1

    def subselect(self) -> None:
        """A nested SELECT: its own projection and group (``SELECT *`` is noted, not read)."""
        if self._star_after():
            self.star_select = True
        while not self.at("{"):
            if self.peek() is None:
                raise Unsupported("a sub-SELECT without a group")
            if self.at("("):
                self.parens()
            else:
                self.i += 1
        self.group()
        # modifiers, then the closing brace of the group the sub-SELECT stands in
        while not self.at("}"):
            if self.peek() is None:
                raise Unsupported("unbalanced brackets")
            if self.at("("):
                self.parens()
            elif self.word() == "VALUES":
                self.i += 1
                self._skip_to_block()
            else:
                self.i += 1
        self.i += 1

    def constraint(self) -> None:
        """A ``FILTER`` or ``BIND`` expression, skipped but for the EXISTS groups it holds."""
        if self.word() == "NOT":
            self.i += 1
        if self.word() == "EXISTS":
            self.i += 1
            self.in_exists += 1
            self._keyword_group = True
            self.group()
            self.in_exists -= 1
            return
        if not self.at("("):
            self.i += 1  # a function's name
        self.parens()

    # triples
    def term(self) -> Token:
        """One subject or object term; anything a path rewrite cannot repeat is refused."""
        t = self.next()
        if t.kind in ("var", "iri", "pname", "bnode", "number") or t.keyword in ("TRUE", "FALSE"):
            return t
        if t.kind == "string":
            if self.peek() is not None and self.peek().kind == "lang":  # type: ignore[union-attr]
                self.i += 1
            elif self.at("^^"):
                self.i += 2
            return t
        if t.kind == "punct" and t.text == "[" and self.at("]"):
            return self.next()
        raise Unsupported(f"{t.text!r} where a term was expected")

    def triples_same_subject(self) -> None:
        """One subject and its verbs; its paths' VALUES blocks go before it, the rest after."""
        before = len(self.triples)
        first = self.peek()
        assert first is not None
        if first.kind == "punct" and first.text == "(":
            raise Unsupported("a collection")
        if first.kind == "punct" and first.text == "[" and not self.at("]", 1):
            self.i += 1
            self.property_list(first, nested=True)
            if not self.at("]"):
                raise Unsupported("unbalanced brackets")
            self.i += 1
            end = self.toks[self.i - 1]
            if not (self.at(".") or self.at("}") or self.peek() is None):
                end = self.property_list(first, nested=False) or end
        else:
            subject = self.term()
            end = self.property_list(subject, nested=False)
        for triple in self.triples[before:]:
            triple.before = first.start
            triple.after = self.end_of(end)

    def property_list(self, subject: Token, nested: bool) -> Token:
        """Verbs and objects of ``subject``; returns the last object's last token."""
        mine: list[PathTriple] = []
        verbs = 0
        while True:
            verbs += 1
            verb_start = self.peek()
            if verb_start is None:
                raise Unsupported("the query ends in a triple")
            if verb_start.kind == "var":
                self.i += 1
                path: PathNode | None = None
            else:
                path = self.path()
            inner = len(self.triples)
            objects = [self.object()]
            while self.at(","):
                self.i += 1
                objects.append(self.object())
            end = self.toks[self.i - 1]
            if path is not None and not isinstance(path, Step):
                if len(self.triples) != inner:  # its own edits would overlap theirs
                    raise Unsupported("a path to a blank node with paths inside")
                triple = PathTriple(
                    subject.text, path, objects, verb_start.start, self.end_of(end), 0
                )
                triple.in_exists = self.in_exists > 0
                triple.braced = self.braced[-1]
                self._needs(path, triple)
                mine.append(triple)
            if not self.at(";"):
                break
            while self.at(";"):
                self.i += 1
            if self.at(".") or self.at("}") or self.at("]") or self.peek() is None:
                break
            t = self.peek()
            if t is not None and t.keyword in ("FILTER", "OPTIONAL", "BIND", "VALUES", "MINUS"):
                break
        for triple in mine:
            if (
                isinstance(triple.path, Star)
                and verbs == 1
                and len(triple.objects) == 1
                and subject.kind == "var"
                and not nested
            ):
                triple.whole = (subject.start, triple.end)
        self.triples.extend(mine)
        return end

    def object(self) -> str:
        """An object as written; a ``[ … ]`` with properties is read for paths inside it."""
        if self.at("("):
            raise Unsupported("a collection")
        if self.at("[") and not self.at("]", 1):
            open_at = self.next()
            self.property_list(open_at, nested=True)
            if not self.at("]"):
                raise Unsupported("unbalanced brackets")
            close = self.next()
            return self.text[open_at.start : self.end_of(close)]
        t = self.term()
        return self.text[t.start : self.end_of(self.toks[self.i - 1])]

    def _needs(self, path: PathNode, triple: PathTriple) -> None:
        """Record the edges and starts the translation of ``path`` will ask for."""
        stars = isinstance(path, Star) or (
            isinstance(path, Seq) and any(isinstance(p, Star) for p in path.parts)
        )
        if stars and len(triple.objects) > 1:  # p* or p/q* with an object list
            raise WrongOnVirtuoso(OBJECT_LIST)
        if stars and (self.in_graph or self.has_from):
            raise Unsupported("a zero-or-more path over a graph other than the default")
        head = path.parts[0] if isinstance(path, Seq) else path
        if isinstance(head, Alt) and not named_term(triple.subject):
            raise Unsupported("an alternative whose subject cannot be named")
        if isinstance(path, Star):
            obj = triple.objects[0]
            if len(triple.objects) != 1:
                raise WrongOnVirtuoso(OBJECT_LIST)
            if obj[0] in "?$" and obj[1:] not in self.bound:
                raise Unsupported("a zero-or-more path between two open ends")
            self.edges.add(path.step.text)
            return
        if isinstance(path, Seq):
            for n, part in enumerate(path.parts):
                if isinstance(part, Star):
                    if n != len(path.parts) - 1:
                        raise Unsupported("a zero-or-more path inside a sequence")
                    self.edges.add(part.step.text)
                    prev, obj = path.parts[n - 1], triple.objects[0]
                    open_end = obj[0] in "?$" and obj[1:] not in self.bound
                    if len(triple.objects) != 1:
                        raise Unsupported("a zero-or-more path with several objects")
                    if open_end and not isinstance(prev, Step):
                        raise Unsupported("a zero-or-more path to an open end after a path")
                    if open_end:
                        self.starts.add(iri_of(prev))
                elif isinstance(part, Alt):
                    for p in part.parts:
                        iri_of(p)
            return
        if isinstance(path, Alt):
            for p in path.parts:
                iri_of(p)

    # paths
    def path(self) -> PathNode:
        """A property path (the grammar's ``Path``), as a syntax tree."""
        node = self.alternative()
        return node

    def alternative(self) -> PathNode:
        """``p|q|…``, or the one sequence it is."""
        parts = [self.sequence()]
        while self.at("|"):
            self.i += 1
            parts.append(self.sequence())
        return parts[0] if len(parts) == 1 else Alt(tuple(parts))

    def sequence(self) -> PathNode:
        """``p/q/…``, flattened, or the one element it is."""
        parts = [self.element()]
        while self.at("/"):
            self.i += 1
            parts.append(self.element())
        if len(parts) == 1:
            return parts[0]
        flat: list[PathNode] = []
        for p in parts:
            flat.extend(p.parts if isinstance(p, Seq) else [p])
        return Seq(tuple(flat))

    def element(self) -> PathNode:
        """An IRI, ``a``, a bracketed path, or ``q*``; ``^``, ``!``, ``+`` and ``?`` are refused."""
        t = self.next()
        if t.kind == "punct" and t.text == "(":
            inner = self.path()
            if not self.at(")"):
                raise Unsupported("unbalanced brackets in a path")
            self.i += 1
            node = inner
        elif t.kind in ("iri", "pname") or t.text == "a":
            node = Step(t.text)
        else:
            raise Unsupported(f"{t.text!r} in a path")
        if self.at("*"):
            self.i += 1
            if not isinstance(node, Step):
                raise Unsupported("a zero-or-more path over a path")
            return Star(node)
        if self.at("+") or self.at("?"):
            raise Unsupported("a one-or-more or zero-or-one path")
        return node
