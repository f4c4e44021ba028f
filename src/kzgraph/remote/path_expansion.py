r"""Property paths written out as plain triple patterns, for stores that evaluate paths wrongly.

Virtuoso 7.2 answers some property paths with rows lost or repeated, differently from run to
run (``a/rdfs:subClassOf*`` inside ``FILTER EXISTS``, alternatives under ``GROUP BY``), and its
compiler fails on others. Every path kzgraph's saved queries use has a path-free equivalent
with the same rows and the same multiplicities, by the SPARQL 1.1 translation of paths (§18.4):

- a sequence ``p/q`` is a join through a fresh node: ``S p [ q O ]``;
- an alternative of IRIs ``p|q`` is ``S ?v O`` with ``VALUES ?v { p q }`` beside the triple
  (``?v`` is used nowhere else, so the join is the union), and a ``FILTER NOT EXISTS`` that
  keeps one row per subject and object: Oxigraph, the embedded store, gives a pair linked by
  both IRIs once (the standard's union would give it twice), and kzgraph answers as it does;
- a zero-or-more path ``q*`` ends in a set of nodes, found by walking the store's own ``q``
  edges (fetched with one path-free query, :meth:`Plan.fetch_query`), then listed in a
  ``VALUES`` block: to a fixed end (``?x a/rdfs:subClassOf* C``: every class below ``C``, and
  ``C``), or, after an IRI step (``kz:sector/skos:broader* ?top``), as pairs from every object
  of that step.

Where each piece goes is chosen for Virtuoso, whose compiler errs on some standard forms
(checked differentially against the embedded store on random paths over small graphs, in
tests/test_virtuoso.py): a VALUES block goes before its triple, never between two triples
(SQ156); a lone ``?s q* C`` is a bare VALUES block at a group's top, a sub-SELECT over one in a
group of its own such as a UNION branch (a bare block there gives no rows), and a VALUES on a
fresh variable tied by ``=`` inside EXISTS (a block on the outer variable is ignored there).

The query's structure is read from its tokens (:func:`kzgraph.core.sparql_text.tokens`):
groups, ``FILTER``/``BIND`` expressions, ``VALUES`` blocks and sub-SELECTs are told apart, so
``/`` or ``|`` in an expression is never taken for a path. Anything this module does not
translate exactly (inverse and negated paths, ``+`` and ``?``, a path inside ``[ ]`` or
``GRAPH``, a blank node to list, ``SELECT *`` whose columns would grow) gives no plan, and the
query goes to the store as written. Line breaks are kept, so the store's error positions still
point into the user's text.

>>> plan("SELECT ?x { ?x a/rdfs:subClassOf* <http://e/C> }").render(Walks({"rdfs:subClassOf": []}))
'SELECT ?x { VALUES ?kzpath1 { <http://e/C> } ?x a ?kzpath1 }'
>>> plan("SELECT ?x { ?x <http://e/p>|<http://e/q> ?y }").render(Walks())[:72]
'SELECT ?x { VALUES ?kzpath1 { <http://e/p> <http://e/q> } ?x ?kzpath1 ?y'
>>> plan("SELECT ?n { ?x <http://e/p>/<http://e/q> ?n }").render(Walks())
'SELECT ?n { ?x <http://e/p> [ <http://e/q> ?n ] }'
>>> plan("SELECT ?x { ?x <http://e/p> ?y FILTER(?y / 2 > 1 || ?y = 0) }") is None
True
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field

from rdflib import BNode, Node, URIRef

from kzgraph.core.errors import KzgraphError
from kzgraph.core.sparql_text import QUERY_FORMS, Token, tokens

_OBJECT_LIST = (
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
class _Triple:
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


@dataclass
class Plan:
    """A query's paths, to be written out once the store's edges are known."""

    text: str
    prologue: str
    triples: list[_Triple]
    bound: Mapping[str, Node]
    #: prefixes the query may use: the store's own, then the query's declarations
    prefixes: Mapping[str, str]
    #: predicates (as written) whose edges a zero-or-more path walks
    edges: set[str] = field(default_factory=set)
    #: predicates whose distinct objects start a zero-or-more path (``p/q*`` to a variable)
    starts: set[str] = field(default_factory=set)

    def fetch_query(self) -> str | None:
        """One path-free SELECT for every edge and start the translation needs, or None.

        Its rows are ``?k ?s ?o``: ``?k`` is ``e<i>`` for an edge of the i-th predicate in
        sorted :attr:`edges`, ``s<i>`` for an object (in ``?o``) of the i-th in :attr:`starts`,
        ``n`` for a fixed end (in ``?o``) that is a node of the graph.
        """
        parts = [f'{{ ?s {p} ?o BIND("e{i}" AS ?k) }}' for i, p in enumerate(sorted(self.edges))]
        parts += [
            f'{{ SELECT DISTINCT ?o ("s{i}" AS ?k) WHERE {{ ?s {p} ?o }} }}'
            for i, p in enumerate(sorted(self.starts))
        ]
        parts += [
            f'{{ SELECT ?o ("n" AS ?k) WHERE {{ {{ ?o ?kp ?kx }} UNION {{ ?kx ?kp ?o }} '
            f"FILTER(sameTerm(?o, {end.n3()})) }} LIMIT 1 }}"
            for end in sorted(self._lone_ends(), key=str)
        ]
        if not parts:
            return None
        return f"{self.prologue}\nSELECT ?k ?s ?o WHERE {{ {' UNION '.join(parts)} }}"

    def _lone_ends(self) -> set[Node]:
        ends = set()
        for triple in self.triples:
            if triple.whole is not None:
                end = self._term(triple.objects[0])
                if end is not None:
                    ends.add(end)
        return ends

    def split(self, rows: Iterable[tuple[Node, Node | None, Node | None]]) -> Walks:
        """The fetch query's rows as edges and starts per predicate, for :meth:`render`."""
        edges_by = sorted(self.edges)
        starts_by = sorted(self.starts)
        edges: dict[str, list[tuple[Node, Node]]] = {p: [] for p in edges_by}
        starts: dict[str, list[Node]] = {p: [] for p in starts_by}
        present: set[Node] = set()
        for k, s, o in rows:
            kind = str(k)[0]
            if kind == "n" and o is not None:
                present.add(o)
            elif kind == "e" and s is not None and o is not None:
                edges[edges_by[int(str(k)[1:])]].append((s, o))
            elif kind == "s" and o is not None:
                starts[starts_by[int(str(k)[1:])]].append(o)
        return Walks(edges, starts, present)

    def render(self, walks: Walks | None = None) -> str:
        """The query with every path written out (:class:`Unsupported`: a blank node to list)."""
        walks = walks or Walks()
        edges, starts = walks.edges, walks.starts
        counter = iter(range(1, 1_000_000))
        names = set(re.findall(r"[?$]([\w]+)", self.text))

        def fresh() -> str:
            while True:
                name = f"kzpath{next(counter)}"
                if name not in names:
                    return "?" + name

        edits: list[tuple[int, int, str]] = []
        for triple in self.triples:
            blocks: list[str] = []
            if triple.whole is not None:
                star = triple.path
                assert isinstance(star, Star)
                fixed = self._term(triple.objects[0])
                ends = _to(edges[star.step.text], fixed)
                if fixed not in walks.present and all(o != fixed for _, o in edges[star.step.text]):
                    ends.discard(fixed)  # as the embedded store: C itself only if in the graph
                edits.append((*triple.whole, _lone(triple.subject, _list(ends), fresh, triple)))
                continue
            writer = _Writer(fresh, edges, starts, self._term, blocks)
            subject = None if triple.subject in ("[", "]") else triple.subject
            written = [writer.write(triple.path, subject, o) for o in triple.objects]
            edits.append((triple.start, triple.end, " ; ".join(written)))
            # VALUES blocks before the triple (Virtuoso's compiler fails on one between two
            # triples: SQ156), the rest after it; either side is the same join
            first = [b for b in blocks if b.startswith("VALUES")]
            last = [b for b in blocks if not b.startswith("VALUES")]
            if first:
                edits.append((triple.before, triple.before, " ".join(first) + " "))
            if last:
                edits.append((triple.after, triple.after, " " + " ".join(last)))
        text = self.text
        for at, until, new in sorted(edits, key=lambda e: (e[0], e[1]), reverse=True):
            # the same line breaks, so the store's error positions stay the user's
            text = text[:at] + new + "\n" * text.count("\n", at, until) + text[until:]
        return text

    def _term(self, written: str) -> Node | None:
        """An object as a term when it is fixed: an IRI, or a parameter bound to one."""
        if written[0] in "?$":
            return self.bound.get(written[1:])
        if written.startswith("<"):
            if ":" not in written:  # relative to a BASE: not resolved here
                raise Unsupported("a relative IRI at the end of a zero-or-more path")
            return URIRef(written[1:-1])
        prefix, colon, local = written.partition(":")
        if colon and prefix in self.prefixes:
            return URIRef(self.prefixes[prefix] + re.sub(r"\\(.)", r"\1", local))
        return None


def _lone(subject: str, listed: str, fresh: Callable[[], str], triple: _Triple) -> str:
    """``?s q* C`` as a group Virtuoso evaluates right (a bare VALUES block it does not).

    Inside EXISTS the subject is usually the outer row's: a VALUES on a fresh variable and a
    filter that ties the two (the existence is the same when nothing binds the subject). In a
    group of its own (a UNION branch), where a bare block gives 0 rows, a sub-SELECT over it;
    elsewhere the bare block (Virtuoso's compiler fails on the sub-SELECT beside OPTIONALs).
    """
    if triple.in_exists:
        # '=' and not sameTerm, which Virtuoso gets wrong beside '||'; on IRIs they agree
        if '"' in listed:
            raise Unsupported("a literal at the end of a zero-or-more path inside EXISTS")
        var = fresh()
        return f"VALUES {var} {{ {listed} }} FILTER(!BOUND({subject}) || {var} = {subject})"
    if triple.braced:
        return f"{{ SELECT {subject} WHERE {{ VALUES {subject} {{ {listed} }} }} }}"
    return f"VALUES {subject} {{ {listed} }}"


def _list(nodes: Iterable[Node]) -> str:
    found = sorted(set(nodes), key=str)
    if any(isinstance(n, BNode) for n in found):
        raise Unsupported("a blank node would have to be listed")
    return " ".join(n.n3() for n in found)


def _links(edges: list[tuple[Node, Node]], backward: bool = False) -> dict[Node, list[Node]]:
    """Each node's neighbours along ``edges`` (against them when ``backward``)."""
    links: dict[Node, list[Node]] = {}
    for s, o in edges:
        a, b = (o, s) if backward else (s, o)
        links.setdefault(a, []).append(b)
    return links


def _reach(links: dict[Node, list[Node]], start: Node) -> set[Node]:
    """Every node reached from ``start`` in zero or more steps of ``links``."""
    found, todo = {start}, [start]
    while todo:
        for n in links.get(todo.pop(), []):
            if n not in found:
                found.add(n)
                todo.append(n)
    return found


def _to(edges: list[tuple[Node, Node]], end: Node | None) -> set[Node]:
    """Every node with a path of zero or more ``edges`` to ``end``."""
    if end is None:
        raise Unsupported("a zero-or-more path to an end that is not fixed")
    return _reach(_links(edges, backward=True), end)


@dataclass
class _Writer:
    """Writes one triple's path out; group elements it needs beside the triple go to blocks."""

    fresh: Callable[[], str]
    edges: Mapping[str, list[tuple[Node, Node]]]
    starts: Mapping[str, list[Node]]
    term: Callable[[str], Node | None]
    blocks: list[str] = field(default_factory=list)

    def write(self, path: PathNode, subj: str | None, obj: str) -> str:
        """``path obj`` as a verb and object without a path, ``subj`` its subject if nameable."""
        if isinstance(path, Step):
            return f"{path.text} {obj}"
        if isinstance(path, Alt):
            return self.alternative(path, subj, obj)
        if isinstance(path, Star):
            raise Unsupported("a zero-or-more path without a step before it")
        head, rest = path.parts[0], path.parts[1:]
        tail: PathNode = rest[0] if len(rest) == 1 else Seq(rest)
        if isinstance(head, Star):
            raise Unsupported("a sequence that starts with a zero-or-more path")
        if isinstance(tail, Star):  # p/q* O: the nodes between are listed
            var = self.fresh()
            end = self.term(obj)
            if end is not None:
                nodes = _to(self.edges[tail.step.text], end)
                self.blocks.append(f"VALUES {var} {{ {_list(nodes)} }}")
            elif obj[0] in "?$" and isinstance(head, Step):
                ahead = _links(self.edges[tail.step.text])  # once, not once per start
                pairs = sorted(
                    {(n, m) for n in self.starts[_iri(head)] for m in _reach(ahead, n)},
                    key=lambda p: (str(p[0]), str(p[1])),
                )
                if any(isinstance(x, BNode) for pair in pairs for x in pair):
                    raise Unsupported("a blank node would have to be listed")
                rows = " ".join(f"({n.n3()} {m.n3()})" for n, m in pairs)
                self.blocks.append(f"VALUES ({var} {obj}) {{ {rows} }}")
            else:
                raise Unsupported("a zero-or-more path between two open ends")
            return self.write(head, subj, var)
        if any(isinstance(p, Alt) for p in path.parts):
            # the node between is named, so an alternative on either side can be deduplicated
            mid = self.fresh()
            self.blocks.append(f". {mid} {self.write(tail, mid, obj)}")  # a triple of its own
            return self.write(head, subj, mid)
        return self.write(head, None, f"[ {self.write(tail, None, obj)} ]")

    def alternative(self, path: Alt, subj: str | None, obj: str) -> str:
        """``p|q O``: one predicate variable over the IRIs, one row per subject and object.

        Oxigraph (the embedded store) gives a pair linked by both ``p`` and ``q`` once, so a row
        is kept only for the alternative whose IRI sorts first among those linking the pair.
        """
        iris = list(dict.fromkeys(_iri(p) for p in path.parts))  # p|p is p: one row a pair
        if len(iris) == 1:
            return f"{iris[0]} {obj}"
        if subj is None or not _named(subj) or not _named(obj, literal=True):
            raise Unsupported("an alternative whose subject or object cannot be named")
        var, other = self.fresh(), self.fresh()
        self.blocks.append(f"VALUES {var} {{ {' '.join(iris)} }}")
        self.blocks.append(
            f"FILTER NOT EXISTS {{ {subj} {other} {obj} "
            f"FILTER({other} IN ({', '.join(iris)}) && STR({other}) < STR({var})) }}"
        )
        return f"{var} {obj}"


def _named(term: str, literal: bool = False) -> bool:
    """Whether ``term`` (as written) can be repeated elsewhere in the group as the same term."""
    if term[0] in "?$<":
        return True
    if literal and (term[0] in "\"'0123456789+-." or term.upper() in ("TRUE", "FALSE")):
        return True
    return ":" in term and term[0] != "_"


def _iri(step: PathNode) -> str:
    if not isinstance(step, Step):
        raise Unsupported("an alternative of paths that are not single IRIs")
    return RDF_TYPE if step.text == "a" else step.text


# --- reading the query ------------------------------------------------------------------------


class _Reader:
    """A recursive reading of a query's groups, finding the triple patterns whose verb is a path."""

    def __init__(self, text: str, bound: Mapping[str, Node]) -> None:
        self.text = text
        self.toks = tokens(text)
        self.i = 0
        self.triples: list[_Triple] = []
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
        j = self.i + ahead
        return self.toks[j] if j < len(self.toks) else None

    def at(self, text: str, ahead: int = 0) -> bool:
        t = self.peek(ahead)
        return t is not None and t.kind in ("punct", "op", "other") and t.text == text

    def word(self, ahead: int = 0) -> str | None:
        t = self.peek(ahead)
        return t.keyword if t is not None else None

    def next(self) -> Token:
        t = self.peek()
        if t is None:
            raise Unsupported("the query ends early")
        self.i += 1
        return t

    def end_of(self, t: Token) -> int:
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
        mine: list[_Triple] = []
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
                triple = _Triple(subject.text, path, objects, verb_start.start, self.end_of(end), 0)
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

    def _needs(self, path: PathNode, triple: _Triple) -> None:
        """Record the edges and starts the translation of ``path`` will ask for."""
        stars = isinstance(path, Star) or (
            isinstance(path, Seq) and any(isinstance(p, Star) for p in path.parts)
        )
        if stars and len(triple.objects) > 1:  # p* or p/q* with an object list
            raise WrongOnVirtuoso(_OBJECT_LIST)
        if stars and (self.in_graph or self.has_from):
            raise Unsupported("a zero-or-more path over a graph other than the default")
        head = path.parts[0] if isinstance(path, Seq) else path
        if isinstance(head, Alt) and not _named(triple.subject):
            raise Unsupported("an alternative whose subject cannot be named")
        if isinstance(path, Star):
            obj = triple.objects[0]
            if len(triple.objects) != 1:
                raise WrongOnVirtuoso(_OBJECT_LIST)
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
                        self.starts.add(_iri(prev))
                elif isinstance(part, Alt):
                    for p in part.parts:
                        _iri(p)
            return
        if isinstance(path, Alt):
            for p in path.parts:
                _iri(p)

    # paths
    def path(self) -> PathNode:
        node = self.alternative()
        return node

    def alternative(self) -> PathNode:
        parts = [self.sequence()]
        while self.at("|"):
            self.i += 1
            parts.append(self.sequence())
        return parts[0] if len(parts) == 1 else Alt(tuple(parts))

    def sequence(self) -> PathNode:
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


def plan(
    query: str,
    bound: Mapping[str, Node] | None = None,
    prefixes: Mapping[str, str] | None = None,
) -> Plan | None:
    """The paths of ``query`` to write out, or None when it has none or none can be exactly.

    ``bound`` holds the parameters that will be bound by VALUES (their values are fixed ends
    of a zero-or-more path); ``prefixes`` those added to the query before it is sent.
    """
    reader = _Reader(query, bound or {})
    try:
        prologue_end = reader.query()
    except WrongOnVirtuoso:
        raise
    except Unsupported:
        return None
    if not reader.triples or reader.star_select:
        return None
    for triple in reader.triples:
        if triple.whole is None and isinstance(triple.path, Star):
            return None
    known = dict(prefixes or {})
    for match in re.finditer(
        r"PREFIX\s+([^\s:]*):\s*<([^>]*)>", query[:prologue_end], re.IGNORECASE
    ):
        known[match.group(1)] = match.group(2)
    return Plan(
        query,
        query[:prologue_end],
        reader.triples,
        reader.bound,
        known,
        reader.edges,
        reader.starts,
    )


def expand(
    query: str,
    fetch: Callable[[str], Iterable[tuple[Node, Node | None, Node | None]]],
    bound: Mapping[str, Node] | None = None,
    prefixes: Mapping[str, str] | None = None,
) -> str:
    """``query`` with its paths written out, the edges it needs read by ``fetch(sparql)``.

    ``fetch`` runs a path-free SELECT and returns its rows as (k, s, o) tuples. The query is
    returned unchanged when nothing needs (or can be given) a translation.
    """
    found = plan(query, bound, prefixes)
    if found is None:
        return query
    sparql = found.fetch_query()
    walks = found.split(fetch(sparql)) if sparql is not None else Walks()
    try:
        return found.render(walks)
    except WrongOnVirtuoso:
        raise
    except Unsupported:
        return query
