"""SHACL validation compiled to SPARQL and run by Oxigraph, for graphs pyshacl is too slow for.

pyshacl takes minutes on a 100k-quad graph and more than six on a million, because it walks the
graph from Python one focus node at a time. Here each constraint of each shape becomes one
SPARQL SELECT that returns the violating focus nodes (and values) in a single pass, and Oxigraph
runs it in Rust. pyshacl stays the reference: the tests compare this engine's findings with
pyshacl's on the seeded graph, on every shape fixture and on random edits.

Only what compiles faithfully is compiled: node shapes with ``sh:targetClass`` and the Core
components in ``SUPPORTED`` (with ``sh:property`` on the targeted shape only), plus SPARQL-based
constraints whose ``$this`` can be bound by a join. Before any query runs, :func:`problems`
walks every shape in the shapes graph, and any other feature (another kind of target, a nested
``sh:property``, ``sh:closed``, ``sh:node``, a SPARQL form pre-binding forbids...) raises
:class:`~.shacl_scope.UnsupportedShapeError` naming the shape and the feature, so nothing is
skipped silently. Three modules: :mod:`.shacl_scope` (what compiles), :mod:`.shacl_compile`
(the queries) and this one (running them, batched, over a store).
The W3C SHACL core suite runs through this engine in the tests: every case is passed or refused.

Validation can be limited to some focus nodes (those a write touched): targets among them are
checked, and so are blank nodes hanging off them (a project's amounts and status statements).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING

import pyoxigraph as ox
from rdflib import BNode, Graph, Node, URIRef
from rdflib.namespace import RDF, RDFS, SH

from kzgraph.validation.shacl_compile import Compiler
from kzgraph.validation.shacl_scope import (
    OTHER_TARGETS,
    RDFS_SUBCLASS,
    Check,
    Violation,
    deactivated,
    ox_to_rdflib,
    severity_of,
    sparql_problems,
)

if TYPE_CHECKING:
    from kzgraph.store.engines import Store as KzStore


def select(store: ox.Store | KzStore, query: str) -> list[dict[str, Node]]:
    """Rows of a SELECT as rdflib terms, from pyoxigraph or any kzgraph store (a remote one).

    The checks run on whatever holds the data: the embedded engine directly, a triple store
    that others run through :class:`kzgraph.remote.stores.RemoteStore`.
    """
    if isinstance(store, ox.Store):
        results = store.query(query)
        assert isinstance(results, ox.QuerySolutions)
        names = [v.value for v in results.variables]
        return [{n: ox_to_rdflib(row[n]) for n in names if row[n] is not None} for row in results]
    return [{k: v for k, v in row.items() if v is not None} for row in store.query(query).dicts()]


def _inline_sparql(query: str, pattern: str) -> str:
    """A SPARQL constraint with the focus-node pattern put first inside its WHERE group.

    Inside one group ``?this`` is bound by the focus pattern before the constraint's FILTERs
    see it, as pre-binding asks; :func:`problems` refuses the forms where that would differ.
    """
    prologue, _, rest = query.partition("SELECT")
    open_at = rest.index("{")
    depth = 0
    for i in range(open_at, len(rest)):
        if rest[i] == "{":
            depth += 1
        elif rest[i] == "}":
            depth -= 1
            if depth == 0:
                close_at = i
                break
    head = re.sub(r"^\s*DISTINCT\b", "", rest[:open_at], flags=re.I)
    body, tail = rest[open_at + 1 : close_at], rest[close_at + 1 :]
    return f"{prologue}SELECT DISTINCT {head} {{ {pattern} {body} }} {tail}"


def _classes(store: ox.Store | KzStore, cls: URIRef) -> list[str]:
    """``cls`` and every class below it by rdfs:subClassOf in the data."""
    rows = select(store, f"SELECT DISTINCT ?c WHERE {{ ?c {RDFS_SUBCLASS}* <{cls}> }}")
    found = {str(row["c"]) for row in rows if isinstance(row.get("c"), URIRef)}
    return sorted(found | {str(cls)})


def _subclass_closures(store: ox.Store | KzStore) -> Callable[[URIRef], list[str]]:
    """:func:`_classes` for every class from one query: the data's subclass links, walked here.

    For a remote store, where each query is a request (and a property path is written out
    for Virtuoso first); the same classes as the path query gives.
    """
    below: dict[str, set[str]] = {}
    for row in select(store, f"SELECT DISTINCT ?c ?d WHERE {{ ?c {RDFS_SUBCLASS} ?d }}"):
        c, d = row.get("c"), row.get("d")
        if isinstance(c, URIRef) and isinstance(d, URIRef):
            below.setdefault(str(d), set()).add(str(c))

    def closure(cls: URIRef) -> list[str]:
        found, todo = {str(cls)}, [str(cls)]
        while todo:
            for sub in below.get(todo.pop(), ()):
                if sub not in found:
                    found.add(sub)
                    todo.append(sub)
        return sorted(found)

    return closure


def _local(store: ox.Store | KzStore) -> bool:
    """Whether queries run in this process (no request per query to save)."""
    return isinstance(store, ox.Store) or getattr(store, "engine", "") != "remote"


#: The variable a batched query's rows carry to say which check they belong to.
_CHECK_VAR = "_kzcheck"
#: Checks per request on a remote store. Measured on the seeded graph (a validation, first
#: run then second): one check a request 232 requests, 0.38 / 0.34 s on an Oxigraph server and
#: 1.12 / 0.47 s on Virtuoso; 25 a request 11 requests, 0.13 / 0.10 s and 0.48 / 0.15 s; all in
#: one 0.30 / 0.30 s and 2.06 / 0.27 s (Virtuoso compiles a long UNION slowly).
BATCH = 25


def _batches(checks: list[Check]) -> list[list[Check]]:
    """The checks in groups of :data:`BATCH`, in order."""
    return [checks[i : i + BATCH] for i in range(0, len(checks), BATCH)]


def _batched(queries: list[str]) -> str:
    """One SELECT whose rows are those of ``queries``, each tagged with its index.

    Each query is a sub-SELECT in a UNION branch; their PREFIX lines are declared once
    (kzgraph's compiled checks use the shapes' own prefixes, never two meanings of one name).
    """
    prefixes: dict[str, str] = {}
    branches = []
    for n, query in enumerate(queries):
        prologue, select_at, rest = query.partition("SELECT")
        for name, iri in re.findall(r"PREFIX\s+([\w.-]*):\s*<([^>]*)>", prologue, re.I):
            if prefixes.setdefault(name, iri) != iri:
                raise ValueError(f"prefix {name}: declared twice with two IRIs")
        branches.append(f'{{ {{ {select_at}{rest} }} BIND("{n}" AS ?{_CHECK_VAR}) }}')
    head = "".join(f"PREFIX {n}: <{i}>\n" for n, i in sorted(prefixes.items()))
    return f"{head}SELECT * WHERE {{\n" + "\nUNION\n".join(branches) + "\n}"


def _focus_pattern(classes: list[str], focus: Iterable[str] | None) -> str:
    values = " ".join(f"<{c}>" for c in classes)
    pattern = f"VALUES ?_cls {{ {values} }} ?this a ?_cls ."
    if focus is None:
        return pattern
    nodes = " ".join(f"<{f}>" for f in sorted(focus)) or "<urn:kzgraph:nothing>"
    # the focus IRIs themselves, and blank nodes hanging off them (amounts, statements)
    return (
        f"{{ VALUES ?this {{ {nodes} }} }} UNION "
        f"{{ VALUES ?_owner {{ {nodes} }} ?_owner ?_link ?this . FILTER(isBlank(?this)) }} "
        + pattern
    )


def offloadable(shapes: Graph) -> list[tuple[URIRef, Node]]:
    """The SPARQL constraints this engine runs faithfully, as (node shape, constraint).

    Those of active IRI node shapes whose only targets are classes, in a form pre-binding
    allows. The default engine hands these to Oxigraph (one pass each) instead of evaluating
    them once per focus node.
    """
    found = []
    for shape, constraint in shapes.subject_objects(SH.sparql):
        if not isinstance(shape, URIRef) or deactivated(shapes, shape):
            continue
        if (shape, SH.path, None) in shapes or not any(shapes.objects(shape, SH.targetClass)):
            continue
        if any((shape, t, None) in shapes for t in OTHER_TARGETS):
            continue
        if (shape, RDF.type, SH.NodeShape) in shapes and any(
            (shape, RDF.type, c) in shapes
            for c in (RDFS.Class, URIRef("http://www.w3.org/2002/07/owl#Class"))
        ):
            continue
        if deactivated(shapes, constraint) or sparql_problems(shapes, constraint):
            continue
        found.append((shape, constraint))
    return sorted(found, key=lambda sc: (str(sc[0]), str(sc[1])))


def validate_store(
    store: ox.Store | KzStore,
    shapes: Graph,
    focus: Iterable[str] | None = None,
    threads: int = 1,
    only: list[tuple[URIRef, Node]] | None = None,
) -> list[Violation]:
    """Every violation in ``store`` (its default graph), or only those of ``focus`` nodes.

    With ``threads`` above 1 the checks run side by side: Oxigraph releases the GIL while it
    evaluates a query, so on a big graph the checks use every core (1.5x faster on two).
    With ``only``, just those SPARQL constraints run (see :func:`offloadable`).
    """
    # Long on purpose (119 lines): the nested functions share the compiled checks, the focus and the
    # store; they are the steps of one run.
    closures: dict[URIRef, list[str]] = {}
    walked = None if _local(store) else _subclass_closures(store)

    def closure(cls: URIRef) -> list[str]:
        if cls not in closures:
            closures[cls] = walked(cls) if walked is not None else _classes(store, cls)
        return closures[cls]

    if only is None:
        targets, checks = Compiler(shapes, closure).checks()
    else:
        compiler = Compiler(shapes, closure)
        targets = {
            str(s): [URIRef(str(c)) for c in shapes.objects(s, SH.targetClass)] for s, _ in only
        }
        checks = []
        for shape, constraint in only:
            check = compiler._sparql_check(shape, constraint)
            check.severity = severity_of(shapes, shape)
            checks.append(check)
    focus_set = None if focus is None else set(focus)
    kept: set[str] = set()
    wide = focus_set is not None and len(focus_set) > FOCUS_LIMIT
    if focus_set is not None and wide:  # one pass over everything, then the focus nodes' findings
        kept, focus_set = focus_set, None
    classes = {shape: sorted({c for t in ts for c in closure(t)}) for shape, ts in targets.items()}

    def query_of(check: Check) -> str:
        pattern = _focus_pattern(classes[check.shape], focus_set)
        if check.projected:  # a SPARQL constraint: its body inlined after the focus nodes
            return _inline_sparql(check.where, pattern)
        return f"SELECT DISTINCT ?this ?value WHERE {{ {pattern} {check.where} }}"

    def run(check: Check) -> set[Violation]:
        return violations_of(check, select(store, query_of(check)))

    def run_batch(batch: list[Check]) -> set[Violation]:
        try:
            if len(batch) == 1:
                raise ValueError("one check")
            query = _batched([query_of(c) for c in batch])
        except ValueError:  # one check, or prefixes that cannot share a prologue: one by one
            return set().union(*(run(c) for c in batch))
        rows = select(store, query)
        found: set[Violation] = set()
        for n, check in enumerate(batch):
            mine = [r for r in rows if str(r.get(_CHECK_VAR, "")) == str(n)]
            found |= violations_of(check, mine)
        return found

    def violations_of(check: Check, rows: list[dict[str, Node]]) -> set[Violation]:
        found: set[Violation] = set()
        for row in rows:
            this = row["this"]
            value = row.get("value") if check.report_value else None
            if check.value_is_focus and value is None:
                value = this
            path = check.path
            if check.projected and isinstance(row.get("path"), URIRef):
                path = URIRef(str(row["path"]))
            message = check.message
            if check.template:
                for name in check.projected:
                    bound = row.get(name)
                    if bound is not None:
                        message = re.sub(r"\{[?$]" + name + r"\}", str(bound), message)
            found.add(
                Violation(
                    this,
                    path,
                    value,
                    message,
                    check.shape,
                    check.severity,
                    check.source,
                    check.component,
                )
            )
        return found

    found: set[Violation] = set()
    # a remote store gets the checks a batch to a request (a UNION of them): one query per
    # check was 279 requests per write, and an Oxigraph server started with --timeout-s keeps
    # a thread per query for that long (16,365 threads after 57 writes, then it died)
    if _local(store):
        batches = [[c] for c in checks]
    elif focus_set is not None and getattr(store, "kind", "") != "virtuoso":
        # a few nodes: one request per thread (seeded graph on an Oxigraph server, two nodes,
        # two threads: all in one request 0.36 s, 25 checks a request 0.15 s in 11 requests,
        # one per thread 0.16 s in 2; Virtuoso compiles a long UNION slowly and keeps the 25)
        size = -(-len(checks) // max(1, threads))
        batches = [checks[i : i + size] for i in range(0, len(checks), size)] if checks else []
    else:
        batches = _batches(checks)
    if threads > 1:
        from concurrent.futures import ThreadPoolExecutor

        with ThreadPoolExecutor(threads) as pool:
            for part in pool.map(run_batch, batches):
                found |= part
    else:
        for batch in batches:
            found |= run_batch(batch)
    if wide:
        found = {v for v in found if _in_focus(store, v.focus, kept)}
    return sorted(found, key=lambda v: (str(v.focus), str(v.path), str(v.value), v.message))


#: Above this many focus nodes a full pass is faster than constraining every check to them
#: (measured: 2,922 focus nodes took 29 s with a VALUES block per check, a full pass 0.2 s).
FOCUS_LIMIT = 200


def _in_focus(store: ox.Store | KzStore, node: Node, focus: set[str]) -> bool:
    """Whether ``node`` is a focus node, or a blank node one of them holds."""
    if isinstance(node, URIRef):
        return str(node) in focus
    if isinstance(node, BNode):
        if not isinstance(store, ox.Store):
            return True  # a remote store cannot name one blank node: report it rather than lose it
        owners = store.quads_for_pattern(None, None, ox.BlankNode(str(node)))
        return any(getattr(q.subject, "value", None) in focus for q in owners)
    return False
