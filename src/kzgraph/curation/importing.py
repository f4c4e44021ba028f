"""Import a tracker table: check, map with morph-kgc, reconcile, de-duplicate, validate, write.

The flow reads top to bottom: the table's cells are checked (file, row, column named in every
complaint, nothing written when any fails); a copy with the row number and the row's CSV record
added is mapped by the mapping engine into provisional entities, one graph per row;
:mod:`kzgraph.curation.reconcile` matches them to the graph's IRIs; what the graph already states is
dropped, a figure or status that differs from the graph's becomes a second statement with its own
source; the result is validated with the shapes on the nodes it touches; and only then, unless it is
a dry run, the table is registered as a source and its facts written to
``graph/documents/<id>.trig``.
"""

from __future__ import annotations

import csv
import functools
import gc
import os
import queue
import tempfile
import threading
import time
from collections import defaultdict
from collections.abc import Callable
from contextlib import closing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyoxigraph as ox
from rdflib.namespace import PROV, RDFS

from kzgraph.core.errors import KzgraphError
from kzgraph.core.namespaces import GRAPH
from kzgraph.core.settings import Settings
from kzgraph.core.tables import read_table
from kzgraph.curation import mapping_checks, reconcile
from kzgraph.curation.import_assembly import _DERIVED, Assembler, _n
from kzgraph.curation.import_checks import (
    ADDED_COLUMNS,
    OPTIONAL_COLUMNS,
    CellChecker,
    mapping_columns,
    row_order,
)
from kzgraph.curation.import_files import (
    WORKDIR_PREFIX,
    StagedFile,
    stage_graph_file,
    sweep_stale_staged,
    sweep_stale_workdirs,
    table_record,
    write_result,
)
from kzgraph.curation.import_result import ImportResult, RowReport
from kzgraph.curation.mapping_engine import mapped_files
from kzgraph.graph.loading import data_files, load_shapes, ontology_files
from kzgraph.sources.registry import (
    documents_dir,
    next_id,
    sha256_of,
    source_iri,
)
from kzgraph.validation.engines import DEFAULT_ENGINE, check_shapes
from kzgraph.validation.report import Report, validate_store

#: Triples handed to the loading thread at a time.
CHUNK_TRIPLES = 100_000
Progress = Callable[[str], None]
Term = ox.NamedNode | ox.BlankNode | ox.Literal | ox.Triple
Triple = tuple[ox.NamedNode | ox.BlankNode, ox.NamedNode, Term]


def shipped_mapping(settings: Settings) -> Path:
    """The mapping for tables laid out like ``mappings/tracker-template.csv``."""
    return settings.root / "mappings" / "tracker.yarrrml.yml"


# ---- 2. the graph as it stands ------------------------------------------------------------------


def current_store(settings: Settings) -> ox.Store:
    """The project's ontology and data as one in-memory default graph, to match against."""
    from kzgraph.store.bulk import format_of

    store = ox.Store()
    for path in [*ontology_files(settings), *data_files(settings)]:
        store.bulk_extend(
            ox.Quad(q.subject, q.predicate, q.object)
            for q in ox.parse(path=str(path), format=format_of(path))
        )
    return store


# ---- 3. mapping ----------------------------------------------------------------------------


def _prepare(
    workdir: Path, header: list[str], rows: list[tuple[int, dict[str, str], str]], table_id: str
) -> None:
    # the template's later columns may be absent: written empty, as an older tracker has them
    header = header + [c for c in OPTIONAL_COLUMNS if c not in header]
    columns = ADDED_COLUMNS + [h for h in header if h not in ADDED_COLUMNS]
    with (workdir / "table.csv").open("w", encoding="utf-8", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(columns)
        for n, cells, record in rows:
            added = {
                "row": str(n),
                "table": table_id,
                "record": record,
                "amount_id": str(n) if cells.get("amount") else "",
                "quote_id": str(n) if cells.get("source") else "",
                "quantity_id": str(n) if cells.get("quantity") else "",
            }
            writer.writerow([added.get(col, cells.get(col, "")) for col in columns])


def _row_of(graph: object) -> int:
    value = getattr(graph, "value", "")
    if not value.startswith(reconcile.PROVISIONAL + "row:"):
        raise KzgraphError(
            f"the mapping wrote to graph {value!r}: use urn:kzgraph:import:row:$(row)"
        )
    return int(value.rsplit(":", 1)[-1])


def _gc_paused(func: Callable[..., ImportResult]) -> Callable[..., ImportResult]:
    """Pause Python's cyclic garbage collector while ``func`` runs.

    An import allocates millions of small objects that live until it ends, and the collector's
    repeated scans of them made a 100k-row import several times slower.
    """

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> ImportResult:
        enabled = gc.isenabled()
        gc.disable()
        try:
            return func(*args, **kwargs)
        finally:
            if enabled:
                gc.enable()

    return wrapper


@dataclass
class _Mapped:
    """What the mapping engine made of the rows, grouped the way the later steps read it."""

    by_row: dict[int, dict[str, list[ox.Quad]]]  # each row's quads, by subject IRI
    provisional: set[str] = field(default_factory=set)  # entities to reconcile
    claims: dict[str, dict[str, set[str]]] = field(default_factory=dict)  # what rows say of them
    row_entities: dict[int, set[str]] = field(default_factory=dict)  # each row's entities


class _Clock:
    """Seconds per step, for the import's summary and ``bench/import_rows.py``."""

    def __init__(self) -> None:
        self.timings: dict[str, float] = {}
        self._last = time.perf_counter()

    def lap(self, name: str) -> None:
        now = time.perf_counter()
        self.timings[name] = now - self._last
        self._last = now


@_gc_paused
def import_table(
    table: Path,
    settings: Settings | None = None,
    *,
    mapping: Path | None = None,
    decisions: Path | None = None,
    dry_run: bool = False,
    title: str | None = None,
    description: str | None = None,
    progress: Progress | None = None,
) -> ImportResult:
    """Import ``table``; with ``dry_run`` report, diff and validate but write nothing."""
    # Long on purpose (80 lines): it reads as the import's steps, each one call; what remains is the
    # hand-over between them.
    settings = settings or Settings.discover()
    say = progress or (lambda _m: None)
    clock = _Clock()
    table = Path(table)
    mapping = mapping or shipped_mapping(settings)
    _refuse_early(table, settings)
    say("reading the graph")
    store = current_store(settings)
    clock.lap("read graph")
    say(f"checking {table.name}")
    checker, rows, header = _checked_rows(table, mapping, store, settings)
    clock.lap("check cells")
    sha = sha256_of(table)
    known = next((r for r in checker.sources.values() if r.sha256 == sha), None)
    table_id = known.id if known is not None else next_id(list(checker.sources.values()), sha)
    say(f"mapping {len(rows)} rows with morph-kgc")
    mapped = _map_rows(settings, mapping, header, rows, table_id)
    clock.lap("map with morph-kgc, read its quads")
    say("reconciling")
    resolved = reconcile.resolve(
        mapped.provisional,
        reconcile.Index(store),
        reconcile.read_decisions(decisions),
        mapped.claims,
        _labelled_by(store, f"{source_iri(table_id)}/row/"),
    )
    clock.lap("reconcile")
    # Validation sees the graph plus the new triples in a store of its own, filled on a second
    # thread while the rows are assembled (Oxigraph's bulk load releases the GIL).
    working = current_store(settings)
    assembler = Assembler(store, table_id, resolved, new_table=known is None)
    assembler.plan_statuses(mapped.by_row)
    loader = _Loader(working)
    try:
        reports, triples = _assemble(rows, mapped, resolved, assembler, loader, store, table_id)
        clock.lap("assemble")
        record = [] if known is not None else table_record(table_id, table, sha, title, description)
        working.bulk_extend(record)
    finally:
        loader.close()
    clock.lap("validate: finish loading")
    pending = [
        r for r in resolved.values() if r.outcome in (reconcile.AMBIGUOUS, reconcile.UNKNOWN)
    ]
    added = triples.count(b"\n")
    say(f"validating {added} new triples")
    # A real run writes the graph file (to a temporary name) while the shapes are checked.
    staged = (
        None
        if dry_run or not added
        else StagedFile(*stage_graph_file(settings, table, table_id, triples))
    )
    try:
        report = _validate(settings, working)
        clock.lap("validate: shapes")
        result = ImportResult(
            table, table_id, reports, resolved, triples, report, clock.timings, [], pending
        )
        if dry_run or not report.conforms:
            return result
        result.written = write_result(
            settings, result, title, description, decisions, mapped.row_entities, staged
        )
        staged = None
    finally:
        if staged is not None:
            staged.discard()
    clock.lap("write")
    return result


def _refuse_early(table: Path, settings: Settings) -> None:
    """Refuse what can be refused before anything is read: a missing file, shapes refused."""
    if not table.is_file():
        raise KzgraphError(f"{table}: no such file")
    if table.suffix not in (".csv", ".xlsx"):
        raise KzgraphError(f"{table}: import reads .csv or .xlsx tables, not {table.suffix!r}")
    check_shapes(DEFAULT_ENGINE, settings.shapes_file)


def _checked_rows(
    table: Path, mapping: Path, store: ox.Store, settings: Settings
) -> tuple[CellChecker, list[tuple[int, dict[str, str], str]], list[str]]:
    """Every cell checked; any problem refuses the whole table, listing all of them."""
    read = read_table(table)
    # the template's later columns may be absent: read as empty, as an older tracker has them
    header = read.header + [c for c in OPTIONAL_COLUMNS if c not in read.header]
    missing = sorted(mapping_columns(mapping) - set(ADDED_COLUMNS) - set(header))
    if missing:
        raise KzgraphError(
            f"{table}: the mapping {mapping.name} reads column(s) the table lacks: "
            f"{', '.join(missing)} (see mappings/tracker-template.csv)"
        )
    checker = CellChecker(table, store, settings)
    rows = [(r.number, checker.check(r.number, r.cells), r.record) for r in read.rows]
    rules = mapping_checks.rules_of(mapping)
    # kzgraph fills the added columns (row, amount_id, quote_id) exactly when the row has their
    # facts: the mappings named by them are not the user's to fill
    rules.subjects = [s for s in rules.subjects if not set(s.columns) & set(ADDED_COLUMNS)]
    kinds = {"currency": checker.currencies, "country": checker.countries}
    seen = {tuple(p.split(": ", 2)[:2]) for p in checker.problems}
    for problem in mapping_checks.check_rows(table, [(n, c) for n, c, _ in rows], rules, kinds):
        if tuple(problem.split(": ", 2)[:2]) not in seen:  # one line per cell
            checker.problems.append(problem)
    if checker.problems:
        checker.problems.sort(key=row_order)
        shown = "\n  ".join(checker.problems[:30])
        more = f"\n  … and {len(checker.problems) - 30} more" if len(checker.problems) > 30 else ""
        raise KzgraphError(
            f"{len(checker.problems)} problem(s) in {table.name}; nothing was imported "
            f"({len(rows)} row(s) read, all refused):\n  {shown}{more}"
        )
    if not rows:
        raise KzgraphError(f"{table}: no data rows")
    return checker, rows, header


def _map_rows(
    settings: Settings,
    mapping: Path,
    header: list[str],
    rows: list[tuple[int, dict[str, str], str]],
    table_id: str,
) -> _Mapped:
    """The rows through the mapping engine, read as each group's file is written."""
    sweep_stale_workdirs()
    sweep_stale_staged(documents_dir(settings))
    mapped = _Mapped(
        defaultdict(lambda: defaultdict(list)),
        set(),
        defaultdict(lambda: defaultdict(set)),
        defaultdict(set),
    )
    entity_prefixes = tuple(f"{reconcile.PROVISIONAL}{kind}:" for kind in reconcile.KINDS)
    graph_of: dict[ox.NamedNode | ox.BlankNode | ox.DefaultGraph, int] = {}
    with tempfile.TemporaryDirectory(prefix=f"{WORKDIR_PREFIX}{os.getpid()}-") as tmp:
        workdir = Path(tmp)
        _prepare(workdir, header, rows, table_id)
        # Each mapping group's file is read as soon as the engine has written it, while it maps
        # the rest; nothing read is used before the engine has finished without error.
        with closing(mapped_files(settings, mapping, workdir)) as files:
            for q in (q for f in files for q in ox.parse(path=str(f), format=ox.RdfFormat.N_QUADS)):
                n = graph_of.get(q.graph_name)
                if n is None:
                    n = graph_of[q.graph_name] = _row_of(q.graph_name)
                subject = q.subject.value
                mapped.by_row[n][subject].append(q)
                obj = q.object
                iri = obj.value if type(obj) is ox.NamedNode else None
                if subject.startswith(entity_prefixes):
                    mapped.provisional.add(subject)
                    mapped.row_entities[n].add(subject)
                    if iri is not None:
                        mapped.claims[subject][q.predicate.value].add(iri)
                if iri is not None and iri.startswith(entity_prefixes):
                    mapped.provisional.add(iri)
                    mapped.row_entities[n].add(iri)
    return mapped


def _assemble(
    rows: list[tuple[int, dict[str, str], str]],
    mapped: _Mapped,
    resolved: dict[str, reconcile.Resolution],
    assembler: Assembler,
    loader: _Loader,
    store: ox.Store,
    table_id: str,
) -> tuple[list[RowReport], bytes]:
    """Each row's facts with reconciled IRIs, or the row held; the new triples as N-Triples."""
    reports: list[RowReport] = []
    chunks: list[bytes] = []

    def flush() -> None:
        chunk = assembler.take()
        if chunk:
            chunks.append(chunk)
            loader.put(chunk)

    for n, _cells, _record in rows:
        names = mapped.row_entities.get(n, set())
        open_q = [resolved[i] for i in sorted(names) if resolved[i].iri is None]
        if open_q:
            reports.append(
                RowReport(n, "held", 0, [f"{r.outcome} {r.kind} {r.name!r}" for r in open_q])
            )
            continue
        outcome = (
            reconcile.NEW
            if any(resolved[i].outcome == reconcile.NEW for i in names)
            else reconcile.MATCHED
        )
        reports.append(RowReport(n, outcome, assembler.row(n, mapped.by_row.pop(n, {}))))
        if len(assembler.fresh) >= CHUNK_TRIPLES:
            flush()
    graph = ox.NamedNode(str(GRAPH[table_id]))
    link = (graph, _DERIVED, _n(str(source_iri(table_id))))
    if assembler.out and not any(True for _ in store.quads_for_pattern(*link)):
        assembler._emit(link)
    flush()
    # What the rows mapped to is no longer needed: free it before validation runs.
    assembler.out.clear()
    mapped.by_row.clear()
    triples = b"".join(chunks)
    chunks.clear()
    return reports, triples


def _labelled_by(store: ox.Store, rows_iri: str) -> set[str]:
    """Entities whose label a row of this table gave: what its earlier runs minted."""
    query = (
        f"SELECT DISTINCT ?e WHERE {{ ?e <{RDFS.label}> ?l ; <{PROV.qualifiedDerivation}> ?d . "
        f'FILTER(isIRI(?e) && STRSTARTS(STR(?d), "{rows_iri}")) }}'
    )
    return {r["e"].value for r in store.query(query)}  # type: ignore[union-attr]


def _validate(settings: Settings, store: ox.Store) -> Report:
    """Validate the graph as it will be after the import, with the default engine.

    ``store`` is this import's own copy of the graph with the new triples added, blank nodes as
    they will be written. The whole copy must pass, as ``kzgraph validate`` will ask of it:
    an import that would leave the project failing writes nothing, whoever's finding it is.
    (Filtering findings by the rows' subjects missed the amounts and status statements, whose
    blank nodes are renamed when loaded.)
    """
    return validate_store(
        store, load_shapes(settings), engine=DEFAULT_ENGINE, shapes_file=settings.shapes_file
    )


class _Loader:
    """Bulk-loads N-Triples chunks into a store on its own thread, in the order they come.

    Oxigraph parses and indexes without holding the GIL, so loading overlaps the Python work of
    assembling the next rows: at 50k rows assembling and loading took 15.6 s one after the other
    and 9.5 s side by side.
    """

    def __init__(self, store: ox.Store) -> None:
        self.store = store
        self.queue: queue.Queue[bytes | None] = queue.Queue(maxsize=8)
        self.error: BaseException | None = None
        self.thread = threading.Thread(target=self._run, name="kzgraph-import-load", daemon=True)
        self.thread.start()

    def _run(self) -> None:
        while (chunk := self.queue.get()) is not None:
            if self.error is None:
                try:
                    self.store.bulk_load(chunk, format=ox.RdfFormat.N_TRIPLES)
                except BaseException as exc:  # reported by close(), on the importing thread
                    self.error = exc

    def put(self, chunk: bytes) -> None:
        self.queue.put(chunk)

    def close(self) -> None:
        """Wait for every chunk; raise what loading raised."""
        self.queue.put(None)
        self.thread.join()
        if self.error is not None:
            raise KzgraphError(f"loading the imported triples for validation: {self.error}")
