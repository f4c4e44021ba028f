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

from kzgraph.remote.path_reading import (
    Alt,
    PathNode,
    PathTriple,
    QueryReader,
    Seq,
    Star,
    Step,
    Unsupported,
    Walks,
    WrongOnVirtuoso,
    iri_of,
    named_term,
)


@dataclass
class Plan:
    """A query's paths, to be written out once the store's edges are known."""

    text: str
    prologue: str
    triples: list[PathTriple]
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


def _lone(subject: str, listed: str, fresh: Callable[[], str], triple: PathTriple) -> str:
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
                    {(n, m) for n in self.starts[iri_of(head)] for m in _reach(ahead, n)},
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
        iris = list(dict.fromkeys(iri_of(p) for p in path.parts))  # p|p is p: one row a pair
        if len(iris) == 1:
            return f"{iris[0]} {obj}"
        if subj is None or not named_term(subj) or not named_term(obj, literal=True):
            raise Unsupported("an alternative whose subject or object cannot be named")
        var, other = self.fresh(), self.fresh()
        self.blocks.append(f"VALUES {var} {{ {' '.join(iris)} }}")
        self.blocks.append(
            f"FILTER NOT EXISTS {{ {subj} {other} {obj} "
            f"FILTER({other} IN ({', '.join(iris)}) && STR({other}) < STR({var})) }}"
        )
        return f"{var} {obj}"


def plan(
    query: str,
    bound: Mapping[str, Node] | None = None,
    prefixes: Mapping[str, str] | None = None,
) -> Plan | None:
    """The paths of ``query`` to write out, or None when it has none or none can be exactly.

    ``bound`` holds the parameters that will be bound by VALUES (their values are fixed ends
    of a zero-or-more path); ``prefixes`` those added to the query before it is sent.
    """
    reader = QueryReader(query, bound or {})
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
