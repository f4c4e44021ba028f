"""One small query interface over two engines: rdflib's Dataset and pyoxigraph's Store.

rdflib is the reference (it is what validation runs on); Oxigraph is the fast engine the endpoint
uses, in memory or on disk. Both answer the same SPARQL with the union of all named graphs as the
default graph, and both return rdflib terms, so callers never see which engine ran.

>>> store = open_store("oxigraph")
>>> result = store.query("ASK { ?c a kz:Company }")
>>> result.boolean
True
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol, cast
from typing import Literal as TypingLiteral

import pyoxigraph as ox
from rdflib import BNode, Dataset, Graph, Literal, Node, URIRef, Variable
from rdflib.namespace import XSD
from rdflib.term import Identifier

from kzgraph.core import choices
from kzgraph.core.errors import KzgraphError
from kzgraph.core.namespaces import PREFIXES, bind_prefixes
from kzgraph.core.settings import Settings
from kzgraph.graph.loading import load
from kzgraph.store.merge import MERGE

Row = tuple[Node | None, ...]
ENGINES = choices.ENGINES


class QuerySyntaxError(KzgraphError):
    """A SPARQL query that does not parse; the message says where."""


@dataclass
class QueryResult:
    """The answer to a query: rows for SELECT, a boolean for ASK, a graph for CONSTRUCT/DESCRIBE."""

    kind: TypingLiteral["select", "ask", "graph"]
    variables: list[str] = field(default_factory=list)
    rows: list[Row] = field(default_factory=list)
    boolean: bool | None = None
    graph: Graph | None = None

    def without(self, variables: list[str]) -> QueryResult:
        """The same result without the columns ``variables`` (a saved query's parameters)."""
        keep = [i for i, v in enumerate(self.variables) if v not in variables]
        if len(keep) == len(self.variables):
            return self
        return QueryResult(
            self.kind,
            [self.variables[i] for i in keep],
            [tuple(row[i] for i in keep) for row in self.rows],
            self.boolean,
            self.graph,
        )

    def dicts(self) -> list[dict[str, Node | None]]:
        """Rows as dictionaries keyed by variable name."""
        return [dict(zip(self.variables, row, strict=True)) for row in self.rows]


class Store(Protocol):
    """What every engine offers: load a dataset, answer SPARQL, report its size."""

    engine: str

    def load_dataset(self, ds: Dataset) -> None:
        """Replace the store's contents with ``ds``."""

    def query(self, sparql: str, bindings: Mapping[str, Node] | None = None) -> QueryResult:
        """Run a SPARQL query; ``bindings`` pre-bind variables to RDF terms."""

    def __len__(self) -> int:
        """The number of quads held."""


def readable_syntax_error(text: str, exc: SyntaxError) -> str:
    """Oxigraph's message, with an unknown prefix named and long "expected one of" lists cut.

    Positions already refer to the user's text: the preset prefixes are passed to the engine,
    not prepended to the query.
    """
    from kzgraph.core.sparql_text import tokens

    declared = set(PREFIXES)
    terms = tokens(text)
    for i, found in enumerate(terms):
        if found.kind == "word" and found.text.upper() == "PREFIX" and i + 1 < len(terms):
            declared.add(terms[i + 1].text.partition(":")[0])
            continue
        if found.kind == "pname" and i > 0 and terms[i - 1].text.upper() == "PREFIX":
            continue
        if found.kind == "pname":
            prefix = found.text.partition(":")[0]
            if prefix not in declared:
                line = text.count("\n", 0, found.start) + 1
                column = found.start - (text.rfind("\n", 0, found.start) + 1) + 1
                return (
                    f"unknown prefix {prefix}: at line {line}, column {column} "
                    f"(declare it with PREFIX {prefix}: <...>, or use one of "
                    f"{', '.join(sorted(PREFIXES))})"
                )
    message = str(exc)
    head, sep, expected = message.partition("expected one of ")
    if sep and len(expected) > 160:
        shown = [item for item in expected.split(", ") if item.startswith('"')][:12]
        message = f"{head}expected one of {', '.join(shown)}, …"
    return message


class RdflibStore:
    """rdflib's in-memory Dataset: the reference engine."""

    engine = "rdflib"

    def __init__(self) -> None:
        self.dataset = Dataset(default_union=True)

    def load_dataset(self, ds: Dataset) -> None:
        """Hold ``ds`` itself: rdflib needs no copy."""
        self.dataset = ds

    def query(self, sparql: str, bindings: Mapping[str, Node] | None = None) -> QueryResult:
        """Run the query with rdflib, binding variables with ``initBindings``."""
        from pyparsing.exceptions import ParseException

        try:
            result = self.dataset.query(
                sparql,
                initNs=PREFIXES,
                initBindings={
                    Variable(k): cast(Identifier, v) for k, v in (bindings or {}).items()
                },
            )
        except ParseException as exc:
            raise QuerySyntaxError(
                f"SPARQL syntax error at line {exc.lineno}, column {exc.col}: {exc.msg}"
            ) from None
        if result.type == "ASK":
            return QueryResult("ask", boolean=bool(result.askAnswer))
        if result.type in ("CONSTRUCT", "DESCRIBE"):
            return QueryResult("graph", graph=result.graph)
        variables = [str(v) for v in result.vars or []]
        rows = [tuple(row) for row in result]  # type: ignore[arg-type]
        return QueryResult("select", variables=variables, rows=rows)  # type: ignore[arg-type]

    def __len__(self) -> int:
        return sum(1 for _ in self.dataset.quads((None, None, None, None)))


_XSD_STRING = str(XSD.string)


def to_rdflib(term: Any) -> Node | None:
    """Convert a pyoxigraph term to the equivalent rdflib term (``xsd:string`` becomes plain)."""
    if term is None:
        return None
    if isinstance(term, ox.NamedNode):
        return URIRef(term.value)
    if isinstance(term, ox.BlankNode):
        return BNode(term.value)
    if isinstance(term, ox.Literal):
        if term.language:
            return Literal(term.value, lang=term.language)
        datatype = term.datatype.value
        if datatype == _XSD_STRING:
            return Literal(term.value)
        return Literal(term.value, datatype=URIRef(datatype))
    raise TypeError(f"unsupported term {term!r}")


def to_oxigraph(term: Node) -> ox.NamedNode | ox.BlankNode | ox.Literal:
    """Convert an rdflib term for use as an Oxigraph substitution."""
    if isinstance(term, URIRef):
        return ox.NamedNode(str(term))
    if isinstance(term, BNode):
        return ox.BlankNode(str(term))
    if isinstance(term, Literal):
        if term.language:
            return ox.Literal(str(term), language=term.language)
        if term.datatype:
            return ox.Literal(str(term), datatype=ox.NamedNode(str(term.datatype)))
        return ox.Literal(str(term))
    raise TypeError(f"unsupported term {term!r}")


#: Re-derives the default graph as the RDF merge of the named graphs. As the last operations of
#: an update request it runs in the same transaction as the change it follows, so a crash never
#: leaves an empty or stale default graph.


class OxigraphStore:
    """pyoxigraph's Store, in memory or on disk at ``path``."""

    engine = "oxigraph"

    def __init__(self, path: Path | None = None) -> None:
        self.path = path
        if path is None:
            self.store = ox.Store()
            return
        try:
            path.mkdir(parents=True, exist_ok=True)  # a new store's folders, like `mkdir -p`
            self.store = ox.Store(str(path))
        except OSError as exc:  # RocksDB's own words say which: a lock, permissions, a file
            raise KzgraphError(f"{path}: cannot open the store for writing: {exc}") from None

    @classmethod
    def read_only(cls, path: Path) -> OxigraphStore:
        """Open an on-disk store for reading only (no lock; nothing may write it meanwhile)."""
        store = cls.__new__(cls)
        store.path = None  # nothing here may write, snapshot or record state
        store.store = ox.Store.read_only(str(path))
        return store

    def load_dataset(self, ds: Dataset) -> None:
        """Replace the contents with ``ds``, passed as N-Quads so graph names survive."""
        data = ds.serialize(format="nquads", encoding="utf-8")
        self.store.clear()
        self.store.load(data, format=ox.RdfFormat.N_QUADS)
        self.refresh_union()

    def load_project(self, settings: Settings) -> None:
        """Replace the contents with the project's ontology and graph files, parsed by Oxigraph.

        The same named graphs as :func:`kzgraph.graph.loading.load` (the ontology in its graph, each
        file's triples in the graph named by its path, a TriG file's graphs as written), without
        rdflib: a saved query on the seeded files starts in a tenth of the time. A file that
        does not parse is handed to rdflib's loader, so the error names file, line and column
        as ``kzgraph validate`` does.
        """
        from kzgraph.core.namespaces import ONTOLOGY_GRAPH
        from kzgraph.graph.loading import GraphSyntaxError, data_files, ontology_files, parse_file

        self.store.clear()
        named = [(path, str(ONTOLOGY_GRAPH)) for path in ontology_files(settings)]
        named += [(path, path.resolve().as_uri()) for path in data_files(settings)]
        for path, graph in named:
            fmt = _PROJECT_FORMATS.get(path.suffix)
            if fmt is None:
                raise KzgraphError(f"{path}: unknown RDF file type {path.suffix!r}")
            try:
                self.store.bulk_extend(_in_graph(
                    ox.parse(path=str(path), format=fmt, base_iri=path.resolve().as_uri()),
                    ox.NamedNode(graph),
                ))  # fmt: skip
            except SyntaxError as exc:
                parse_file(path, Dataset(), None)  # rdflib's words, if it objects
                raise GraphSyntaxError(path, None, None, str(exc)) from None
        self.refresh_union()

    def refresh_union(self) -> None:
        """Make the default graph the RDF merge of the named graphs.

        Oxigraph's ``use_default_graph_as_union`` repeats a solution once per graph that holds
        the triple, while SPARQL's default graph is a set; so the merge is kept materialised in
        the default graph instead. Call this after changing a named graph.
        """
        self.store.update(MERGE)
        self.store.flush()

    def bulk_refresh_union(self, progress: Callable[[int], None] | None = None) -> None:
        """:meth:`refresh_union` for big stores: the bulk loader instead of one transaction.

        One MERGE update holds the whole merge in memory as a transaction; at a million quads
        that takes minutes and gigabytes. The bulk loader streams it, but is not atomic: use it
        where a half-done merge is redone anyway (an offline load that marks the store dirty).
        """
        self.store.clear_graph(ox.DefaultGraph())

        def merged() -> Iterator[ox.Quad]:
            done = 0
            for graph in list(self.store.named_graphs()):
                for quad in self.store.quads_for_pattern(None, None, None, graph):
                    yield ox.Quad(quad.subject, quad.predicate, quad.object, ox.DefaultGraph())
                    done += 1
                    if progress is not None and done % 10_000 == 0:  # counted across graphs
                        progress(10_000)

        self.store.bulk_extend(merged())
        self.store.flush()

    def query(self, sparql: str, bindings: Mapping[str, Node] | None = None) -> QueryResult:
        """Run the query with Oxigraph, binding variables with ``substitutions``."""
        substitutions = {ox.Variable(k): to_oxigraph(v) for k, v in (bindings or {}).items()}
        try:
            result = self.store.query(
                sparql,
                prefixes=PREFIXES,
                substitutions=cast(Any, substitutions) or None,
            )
        except SyntaxError as exc:
            raise QuerySyntaxError(
                f"SPARQL syntax error: {readable_syntax_error(sparql, exc)}"
            ) from None
        if isinstance(result, ox.QueryBoolean):
            return QueryResult("ask", boolean=bool(result))
        if isinstance(result, ox.QueryTriples):
            g = bind_prefixes(Graph())
            for t in result:
                g.add((to_rdflib(t.subject), to_rdflib(t.predicate), to_rdflib(t.object)))  # type: ignore[arg-type]
            return QueryResult("graph", graph=g)
        variables = [v.value for v in result.variables]
        rows = [tuple(to_rdflib(solution[v]) for v in variables) for solution in result]
        return QueryResult("select", variables=variables, rows=rows)

    def __len__(self) -> int:
        """Quads in the named graphs (the default graph only repeats them), counted in Rust."""
        rows = self.store.query("SELECT (COUNT(*) AS ?n) WHERE { GRAPH ?g { ?s ?p ?o } }")
        assert isinstance(rows, ox.QuerySolutions)
        count = next(iter(rows))[0]
        return int(count.value) if isinstance(count, ox.Literal) else 0

    def is_empty(self) -> bool:
        """True when the store holds no quad at all (constant time, unlike ``len``)."""
        return next(iter(self.store.quads_for_pattern(None, None, None, None)), None) is None

    # What the server reads besides queries; RemoteStore answers the same calls.

    def graph_names(self) -> list[str]:
        """The named graphs, sorted."""
        return sorted(g.value for g in self.store.named_graphs() if isinstance(g, ox.NamedNode))

    def has_graph(self, iri: str) -> bool:
        """Whether the named graph ``iri`` holds anything."""
        return self.store.contains_named_graph(ox.NamedNode(iri))

    def graph_dump(self, iri: str | None, fmt: ox.RdfFormat) -> bytes:
        """One named graph (the default graph, the merge, for None) in ``fmt``."""
        graph = ox.DefaultGraph() if iri is None else ox.NamedNode(iri)
        return self.store.dump(format=fmt, from_graph=graph) or b""

    def nquads(self) -> bytes:
        """Every named graph as N-Quads (the default graph only repeats them)."""
        quads = [q for q in self.store if not isinstance(q.graph_name, ox.DefaultGraph)]
        return ox.serialize(quads, format=ox.RdfFormat.N_QUADS) or b""


_PROJECT_FORMATS = {
    ".ttl": ox.RdfFormat.TURTLE,
    ".trig": ox.RdfFormat.TRIG,
    ".nt": ox.RdfFormat.N_TRIPLES,
    ".nq": ox.RdfFormat.N_QUADS,
    ".jsonld": ox.RdfFormat.JSON_LD,
}


def _in_graph(quads: Iterator[ox.Quad], graph: ox.NamedNode) -> Iterator[ox.Quad]:
    """Quads as parsed, a triple outside any named graph put in ``graph``."""
    for quad in quads:
        if isinstance(quad.graph_name, ox.DefaultGraph):
            yield ox.Quad(quad.subject, quad.predicate, quad.object, graph)
        else:
            yield quad


def open_store(
    engine: str = "oxigraph",
    path: Path | None = None,
    settings: Settings | None = None,
    dataset: Dataset | None = None,
) -> RdflibStore | OxigraphStore:
    """Open a store of the given engine holding the seeded dataset (or ``dataset``).

    An on-disk Oxigraph store at ``path`` that already holds data is opened as it is, so updates
    made through the endpoint survive a restart; an empty one is filled from the files.
    """
    if engine not in ENGINES:
        raise KzgraphError(f"unknown store engine {engine!r}; choose one of {', '.join(ENGINES)}")
    store: RdflibStore | OxigraphStore
    if engine == "rdflib":
        if path is not None:
            raise KzgraphError("the rdflib engine keeps its data in memory; --store needs oxigraph")
        store = RdflibStore()
    else:
        store = OxigraphStore(path)
        if path is not None and len(store) > 0 and dataset is None:
            return store
        if dataset is None:
            store.load_project(settings or Settings.discover())
            return store
    store.load_dataset(dataset if dataset is not None else load(settings))
    return store
