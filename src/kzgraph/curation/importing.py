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
import hashlib
import os
import queue
import re
import shutil
import tempfile
import threading
import time
from collections import defaultdict
from collections.abc import Callable
from contextlib import closing
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

import pyoxigraph as ox
from rdflib.namespace import PROV, RDF, RDFS

from kzgraph.core.errors import KzgraphError
from kzgraph.core.namespaces import BASE, GRAPH, KZ
from kzgraph.core.settings import Settings
from kzgraph.core.tables import read_table
from kzgraph.curation import mapping_checks, reconcile
from kzgraph.curation.mapping_engine import mapped_files
from kzgraph.graph.diff import Diff
from kzgraph.graph.loading import data_files, load_shapes, ontology_files
from kzgraph.sources.registry import (
    documents_dir,
    next_id,
    normalise_quote,
    records,
    register,
    sha256_of,
    source_iri,
)
from kzgraph.validation.engines import DEFAULT_ENGINE, check_shapes
from kzgraph.validation.report import Report, validate_store

#: The columns of the shipped template, in its order.
TEMPLATE_COLUMNS = [
    "source", "quotation", "firm", "firm_country", "role", "project", "project_type", "region",
    "sector", "amount", "currency", "amount_stated", "amount_qualifier", "year", "status",
    "status_stated",
]  # fmt: skip
#: Columns kzgraph adds to the table it hands the mapping engine.
ADDED_COLUMNS = ["row", "table", "record", "amount_id", "quote_id"]
#: Triples handed to the loading thread at a time.
CHUNK_TRIPLES = 100_000
ROLES = ("investor", "developer", "partner", "operator")
Progress = Callable[[str], None]
Term = ox.NamedNode | ox.BlankNode | ox.Literal | ox.Triple
Triple = tuple[ox.NamedNode | ox.BlankNode, ox.NamedNode, Term]


def shipped_mapping(settings: Settings) -> Path:
    """The mapping for tables laid out like ``mappings/tracker-template.csv``."""
    return settings.root / "mappings" / "tracker.yarrrml.yml"


def _n(term: str) -> ox.NamedNode:
    return ox.NamedNode(term)


_TYPE, _LABEL = _n(str(RDF.type)), _n(str(RDFS.label))
_QD, _ENTITY = _n(str(PROV.qualifiedDerivation)), _n(str(PROV.entity))
_DERIVED = _n(str(PROV.wasDerivedFrom))
_STATUS, _STATUS_AS = _n(str(KZ.status)), _n(str(KZ.statusStatedAs))
_STATEMENT, _STATUS_STATEMENT = _n(str(KZ.statusStatement)), _n(str(KZ.StatusStatement))
_AMOUNT, _QUOTATION = _n(str(KZ.amount)), _n(str(KZ.quotation))
_FIGURE = [_n(str(KZ.measure)), _n(str(KZ.value)), _n(str(KZ.currency))]


@dataclass
class RowReport:
    """What became of one row."""

    row: int
    outcome: str  # matched, new or held
    added: int = 0
    reasons: list[str] = field(default_factory=list)


@dataclass
class ImportResult:
    """Everything an import found and did; ``summary()`` is what the command prints."""

    table: Path
    source_id: str
    rows: list[RowReport]
    resolutions: dict[str, reconcile.Resolution]
    triples: bytes  # N-Triples of what the import adds
    report: Report
    timings: dict[str, float]
    written: list[Path] = field(default_factory=list)
    pending: list[reconcile.Resolution] = field(default_factory=list)

    def counts(self) -> dict[str, dict[str, int]]:
        """Entities by kind and outcome, and rows by outcome."""
        by_kind: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
        for res in self.resolutions.values():
            by_kind[res.kind][res.outcome] += 1
        rows: dict[str, int] = defaultdict(int)
        for r in self.rows:
            rows[r.outcome] += 1
        by_kind["rows"] = rows
        return {k: dict(v) for k, v in by_kind.items()}

    def diff(self) -> Diff:
        """What the import adds, in ``kzgraph diff``'s terms (an import never removes)."""
        from rdflib import Graph

        result = Diff()
        if self.triples:
            g = Graph()
            g.parse(data=self.triples, format="nt")
            result.added[str(GRAPH[self.source_id])] = g
        return result

    @property
    def added(self) -> int:
        """Triples the import adds to the graph."""
        return self.triples.count(b"\n")

    def summary(self, limit: int = 20) -> str:
        """A reviewer's report: counts, held rows and why, validation, what was written."""
        lines = [f"{self.table.name} as source {self.source_id}: {len(self.rows)} row(s)"]
        counts = self.counts()
        rows = counts.pop("rows", {})
        n_held = rows.get("held", 0)
        # every row accounted for: cell problems refuse the whole table before this point
        lines.append(
            f"rows read: {len(self.rows)} = {len(self.rows) - n_held} taken (matched or new) "
            f"+ {n_held} held + 0 refused"
        )
        lines.append(
            "rows: "
            + ", ".join(f"{rows.get(k, 0)} {k}" for k in (reconcile.MATCHED, reconcile.NEW, "held"))
            + f"; {sum(1 for r in self.rows if r.outcome != 'held' and r.added == 0)}"
            " add nothing new"
        )
        for kind in sorted(counts):
            parts = ", ".join(f"{n} {o}" for o, n in sorted(counts[kind].items()))
            lines.append(f"  {kind}: {parts}")
        open_questions = [
            r
            for r in self.resolutions.values()
            if r.outcome in (reconcile.AMBIGUOUS, reconcile.UNKNOWN)
        ]
        for res in open_questions[:limit]:
            lines.append(
                f"  {res.outcome} {res.kind} {res.name!r}: {res.reason}"
                + (f" (candidates: {' '.join(res.candidates)})" if res.candidates else "")
            )
        held = [r for r in self.rows if r.outcome == "held"]
        for r in held[:limit]:
            lines.append(f"  row {r.row} held back: {'; '.join(r.reasons)}")
        if len(held) > limit:
            lines.append(f"  … and {len(held) - limit} more held rows")
        lines.append(f"adds {self.added} triple(s) to graph kzg:{self.source_id}")
        lines.append(
            "validation: conforms to the shapes"
            if self.report.conforms
            else f"validation: {len(self.report.findings)} finding(s):"
        )
        for finding in self.report.findings[:limit]:
            lines.append(f"  {finding.focus_label}: {finding.path or ''} {finding.message}")
        for path in self.written:
            lines.append(f"wrote {path}")
        return "\n".join(lines)


# ---- 1. the table's cells -------------------------------------------------------------------


def _mapping_columns(mapping: Path) -> set[str]:
    text = mapping.read_text(encoding="utf-8")
    if mapping.suffix in (".yml", ".yaml", ".yarrrml"):
        return set(mapping_checks.references(text))
    return set(re.findall(r"rml:reference\s+\"([^\"]+)\"", text)) | set(
        re.findall(r"\{([A-Za-z_][\w ]*)\}", text)
    )


class _Checker:
    """Cell checks for the template's columns, collected so that one run reports them all."""

    def __init__(self, table: Path, store: ox.Store, settings: Settings) -> None:
        self.table = table
        self.problems: list[str] = []
        self.sources = {r.id: r for r in records(settings)}
        self.texts: dict[str, str] = {}
        self.quoted: dict[tuple[str, str], tuple[str, bool]] = {}
        self.currencies = _iris_under(store, f"{BASE}id/currency/")
        self.countries = _iris_under(store, f"{BASE}id/country/")
        self.project_types = {iri.rsplit("#", 1)[-1] for iri in _subclasses(store, str(KZ.Project))}

    def fail(self, row: int, column: str, problem: str) -> None:
        self.problems.append(f"{self.table}:{row}: column {column!r}: {problem}")

    def text_of(self, source_id: str) -> str:
        if source_id not in self.texts:
            self.texts[source_id] = normalise_quote(
                self.sources[source_id].file.read_text(encoding="utf-8")
            )
        return self.texts[source_id]

    def check(self, n: int, cells: dict[str, str]) -> dict[str, str]:
        """The row's cells, trimmed and with defaults filled, after checking each."""
        c = {k: (v or "").strip() for k, v in cells.items()}
        if "project" in c and not c["project"]:
            self.fail(n, "project", "empty: every row states something about a project")
        if c.get("firm") and not c.get("role"):
            c["role"] = "investor"
        if c.get("role") and c["role"] not in ROLES:
            self.fail(n, "role", f"{c['role']!r} is not one of {', '.join(ROLES)}")
        if "project_type" in c:
            c["project_type"] = c["project_type"] or "Project"
            if c["project_type"] not in self.project_types:
                self.fail(
                    n,
                    "project_type",
                    f"{c['project_type']!r} is not a kind of kz:Project "
                    f"({', '.join(sorted(self.project_types))})",
                )
        if c.get("amount"):
            self._amount(n, c)
        elif c.get("currency") or c.get("amount_stated"):
            self.fail(n, "amount", "empty, but the row gives a currency or stated amount")
        if c.get("firm_country") and f"{BASE}id/country/{c['firm_country']}" not in self.countries:
            self.fail(n, "firm_country", f"{c['firm_country']!r} is not an ISO 3166 alpha-2 code")
        if c.get("year") and not re.fullmatch(r"\d{4}", c["year"]):
            self.fail(n, "year", f"{c['year']!r} is not a year (YYYY)")
        if c.get("status_stated") and not c.get("status"):
            self.fail(n, "status", "empty, but the row gives status_stated")
        if c.get("status") and not c.get("status_stated"):
            self.fail(n, "status_stated", "empty: give the status in the source's words")
        self._quotation(n, c)
        return c

    def _amount(self, n: int, c: dict[str, str]) -> None:
        try:
            value = Decimal(c["amount"])
            if not value.is_finite() or value <= 0:
                raise InvalidOperation
        except InvalidOperation:
            self.fail(n, "amount", f"{c['amount']!r} is not a positive number (no separators)")
        if f"{BASE}id/currency/{c.get('currency', '')}" not in self.currencies:
            self.fail(n, "currency", f"{c.get('currency', '')!r} is not an ISO 4217 code")
        if not c.get("amount_stated"):
            self.fail(n, "amount_stated", "empty: give the amount in the source's own words")

    def _quotation(self, n: int, c: dict[str, str]) -> None:
        source_id, quotation = c.get("source", ""), c.get("quotation", "")
        if not source_id:
            if quotation:
                self.fail(n, "source", "empty, but the row quotes a sentence: whose?")
            return
        rec = self.sources.get(source_id)
        if rec is None:
            self.fail(n, "source", f"{source_id!r} is not registered (kzgraph source add)")
            return
        if rec.is_table:
            self.fail(
                n, "source", f"{source_id} is a table; cite the document it took the fact from"
            )
            return
        if not quotation:
            self.fail(
                n, "quotation", f"empty: quote the sentence of {source_id} the row comes from"
            )
            return
        said, found = self._found(source_id, quotation)
        if not found:
            self.fail(n, "quotation", f"not found in sources/{rec.file.name}: {quotation[:60]!r}")
        for column in ("amount_stated", "status_stated"):
            if c.get(column) and normalise_quote(c[column]) not in said:
                self.fail(n, column, f"{c[column]!r} is not in the row's quotation")

    def _found(self, source_id: str, quotation: str) -> tuple[str, bool]:
        """The quotation normalised, and whether the source says it; rows repeat quotations."""
        key = (source_id, quotation)
        known = self.quoted.get(key)
        if known is None:
            said = _normalised(quotation)
            known = self.quoted[key] = (said, said in self.text_of(source_id))
        return known


#: The quotation normalisation, remembered: a tracker's rows quote the same sentences again and
#: again, and both the cell checks and the assembly compare every row's quotation.
_normalised = functools.lru_cache(maxsize=1 << 16)(normalise_quote)


def _iris_under(store: ox.Store, prefix: str) -> set[str]:
    query = f'SELECT DISTINCT ?s WHERE {{ ?s ?p ?o FILTER(STRSTARTS(STR(?s), "{prefix}")) }}'
    return {row["s"].value for row in store.query(query)}  # type: ignore[union-attr]


def _subclasses(store: ox.Store, cls: str) -> set[str]:
    query = (
        "SELECT ?c WHERE { ?c <http://www.w3.org/2000/01/rdf-schema#subClassOf>* "
        f"<{cls}> FILTER(isIRI(?c)) }}"
    )
    return {row["c"].value for row in store.query(query)}  # type: ignore[union-attr]


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
            }
            writer.writerow([added.get(col, cells.get(col, "")) for col in columns])


def _row_of(graph: object) -> int:
    value = getattr(graph, "value", "")
    if not value.startswith(reconcile.PROVISIONAL + "row:"):
        raise KzgraphError(
            f"the mapping wrote to graph {value!r}: use urn:kzgraph:import:row:$(row)"
        )
    return int(value.rsplit(":", 1)[-1])


# ---- 4. reconciliation and de-duplication --------------------------------------------------


class _Assembler:
    """Turns each row's provisional quads into the facts the graph does not have yet."""

    def __init__(
        self,
        store: ox.Store,
        table_id: str,
        resolved: dict[str, reconcile.Resolution],
        new_table: bool = False,
    ) -> None:
        self.store = store
        self.table_id = table_id
        #: A table imported for the first time: none of its row nodes can be in the graph yet.
        self.new_table = new_table
        self.rows_iri = f"{source_iri(table_id)}/row/"
        self.resolved = resolved
        self.quotes = self._existing_quotes()
        self.figures = self._existing_figures()
        self.statuses: dict[str, set[str]] = defaultdict(set)
        for q in store.quads_for_pattern(None, _STATUS, None):
            self.statuses[q.subject.value].add(q.object.value)  # type: ignore[union-attr]
        #: (project, stage, derivation) of the status statements: the same row never states
        #: a stage twice when a table is run again (another source still may)
        self.stated: set[tuple[str, str, str]] = set()
        query = (
            f"SELECT ?p ?s ?d WHERE {{ ?p <{_STATEMENT.value}> ?n . ?n <{_STATUS.value}> ?s ; "
            f"<{PROV.qualifiedDerivation}> ?d }}"
        )
        for r in store.query(query):  # type: ignore[union-attr]
            self.stated.add((r["p"].value, r["s"].value, r["d"].value))
        #: (project, measure, row) of figures this table's rows already gave: a figure fixed by
        #: hand since is not added again when the table is run again
        self.row_figures = self._row_figures()
        # Triples as N-Triples lines (a term's str() is N-Triples): one string each is cheaper to
        # keep, compare and free than a tuple of three engine terms, and it is what gets written.
        self.out: set[str] = set()
        self.fresh: list[str] = []  # emitted since the last take()

    def _emit(self, triple: Triple) -> None:
        self._put(f"{triple[0]} {triple[1]} {triple[2]} .\n")

    def _put(self, line: str) -> None:
        size = len(self.out)
        self.out.add(line)
        if len(self.out) != size:
            self.fresh.append(line)

    def take(self) -> bytes:
        """The triples emitted since the last call, as N-Triples."""
        chunk = "".join(self.fresh).encode("utf-8")
        self.fresh = []
        return chunk

    def _existing_quotes(self) -> dict[tuple[str, str], str]:
        found = {}
        query = (
            f"SELECT ?d ?s ?q WHERE {{ ?d <{PROV.entity}> ?s ; <{KZ.quotation}> ?q "
            f"FILTER NOT EXISTS {{ ?d <{KZ.rowNumber}> ?n }} }}"
        )
        for row in self.store.query(query):  # type: ignore[union-attr]
            found[(row["s"].value, normalise_quote(row["q"].value))] = row["d"].value
        return found

    def _existing_figures(self) -> set[tuple[str, str, Decimal, str]]:
        query = (
            f"SELECT ?p ?m ?v ?c WHERE {{ ?p <{KZ.amount}> ?a . ?a <{KZ.measure}> ?m ; "
            f"<{KZ.value}> ?v ; <{KZ.currency}> ?c }}"
        )
        return {
            (r["p"].value, r["m"].value, Decimal(r["v"].value), r["c"].value)
            for r in self.store.query(query)  # type: ignore[union-attr]
        }

    def _row_figures(self) -> set[tuple[str, str, str]]:
        if self.new_table:
            return set()
        query = (
            f"SELECT ?p ?m ?d WHERE {{ ?p <{KZ.amount}> ?a . ?a <{KZ.measure}> ?m ; "
            f"<{PROV.qualifiedDerivation}> ?d . "
            f'FILTER(STRSTARTS(STR(?d), "{self.rows_iri}")) }}'
        )
        return {
            (r["p"].value, r["m"].value, r["d"].value)
            for r in self.store.query(query)  # type: ignore[union-attr]
        }

    def _exists(self, s: ox.NamedNode | ox.BlankNode, p: ox.NamedNode, o: Term) -> bool:
        if isinstance(s, ox.BlankNode) or isinstance(o, ox.BlankNode):
            return False
        return next(iter(self.store.quads_for_pattern(s, p, o)), None) is not None

    def row(self, n: int, by_subject: dict[str, list[ox.Quad]]) -> int:
        """Add row ``n``'s new facts (its mapped quads by subject); how many triples it added."""
        prov_nodes: dict[str, ox.NamedNode] = {}
        in_graph: set[str] = set()  # provenance nodes the graph may already describe
        for iri, qs in by_subject.items():
            kind, _name = (
                reconcile.split(iri) if iri.startswith(reconcile.PROVISIONAL) else ("", "")
            )
            if kind == "quote":
                src = next((q.object.value for q in qs if q.predicate == _ENTITY), "")  # type: ignore[union-attr]
                said = next((q.object.value for q in qs if q.predicate == _QUOTATION), "")  # type: ignore[union-attr]
                key = (src, _normalised(said))
                known = self.quotes.get(key)
                if known is None:
                    digest = hashlib.sha256(key[1].encode()).hexdigest()[:12]
                    prov_nodes[iri] = _n(f"{src}/quote/q-{digest}")
                else:
                    prov_nodes[iri] = _n(known)
                    in_graph.add(iri)
            elif kind == "row":
                prov_nodes[iri] = _n(f"{self.rows_iri}{n}")
                if not self.new_table:
                    in_graph.add(iri)
        before = len(self.out)
        new_subjects: set[str] = set()  # in N-Triples form, as the lines are written
        amount_nodes: dict[str, ox.BlankNode | None] = {}
        for iri, qs in by_subject.items():
            if iri in prov_nodes:
                continue
            kind = reconcile.split(iri)[0] if iri.startswith(reconcile.PROVISIONAL) else ""
            if kind == "amount":
                continue
            subject = self._term(iri)
            assert isinstance(subject, ox.NamedNode)
            s_nt = str(subject)
            res = self.resolved.get(iri)
            matched = res is not None and res.outcome == reconcile.MATCHED
            fresh = res is not None and res.outcome == reconcile.NEW  # nothing to look up
            status_words = next((q.object for q in qs if q.predicate == _STATUS_AS), None)
            for q in qs:
                p = q.predicate
                if p == _QD or p == _STATUS_AS:
                    continue
                if matched and p in (_LABEL, _TYPE):
                    continue  # matched by name and kind: the graph already has both
                if p == _AMOUNT:
                    ref = str(getattr(q.object, "value", ""))
                    node = self._amount(
                        subject, by_subject.get(ref, []), amount_nodes, ref, f"{self.rows_iri}{n}"
                    )
                    if node is not None:
                        self._put(f"{s_nt} {_AMOUNT} {node} .\n")
                        new_subjects.add(s_nt)
                    continue
                o = self._term(q.object)
                if p == _STATUS:
                    row_iri = f"{self.rows_iri}{n}"
                    if (subject.value, getattr(o, "value", ""), row_iri) not in self.stated:
                        self._status(subject, o, status_words, qs, new_subjects)
                    continue
                if fresh or not self._exists(subject, p, o):
                    self._put(f"{s_nt} {p} {o} .\n")
                    new_subjects.add(s_nt)
        for node in amount_nodes.values():
            if node is not None:
                new_subjects.add(str(node))
        if len(self.out) == before:
            return 0
        cites = [f" {_QD} {prov_nodes[i]} .\n" for i in sorted(prov_nodes)]
        for s_nt in new_subjects:
            for cite in cites:
                self._put(s_nt + cite)
        for iri, prov_node in prov_nodes.items():
            d_nt = str(prov_node)
            check = iri in in_graph
            for q in by_subject[iri]:
                if not (check and self._exists(prov_node, q.predicate, q.object)):
                    self._put(f"{d_nt} {q.predicate} {q.object} .\n")
        return len(self.out) - before

    def _amount(
        self,
        project: ox.NamedNode,
        qs: list[ox.Quad],
        nodes: dict[str, ox.BlankNode | None],
        iri: str,
        row_iri: str,
    ) -> ox.BlankNode | None:
        values = {q.predicate: q.object for q in qs}
        measure = values.get(_FIGURE[0])
        if measure is not None and (project.value, measure.value, row_iri) in self.row_figures:  # type: ignore[union-attr]
            nodes[iri] = None  # this row's figure is in the graph already (maybe fixed by hand)
            return None
        try:
            figure = (
                project.value,
                values[_FIGURE[0]].value,  # type: ignore[union-attr]
                Decimal(values[_FIGURE[1]].value),  # type: ignore[union-attr]
                values[_FIGURE[2]].value,  # type: ignore[union-attr]
            )
        except KeyError:
            figure = None
        if figure is not None and figure in self.figures:
            nodes[iri] = None
            return None
        if figure is not None:
            self.figures.add(figure)
        node = ox.BlankNode()
        nodes[iri] = node
        node_nt = str(node)
        for q in qs:
            if q.predicate != _QD:
                self._put(f"{node_nt} {q.predicate} {q.object} .\n")
        return node

    def _status(
        self,
        project: ox.NamedNode,
        status: Term,
        words: Term | None,
        qs: list[ox.Quad],
        new_subjects: set[str],
    ) -> None:
        known = self.statuses[project.value]
        if status.value in known:  # type: ignore[union-attr]
            return
        if not known:
            self._emit((project, _STATUS, status))
            if words is not None:
                self._emit((project, _STATUS_AS, words))
        else:  # the graph has another status: a second statement, with its own source
            node = ox.BlankNode()
            self._emit((project, _STATEMENT, node))
            self._emit((node, _TYPE, _STATUS_STATEMENT))
            self._emit((node, _STATUS, status))
            if words is not None:
                self._emit((node, _STATUS_AS, words))
            new_subjects.add(str(node))
        known.add(status.value)  # type: ignore[union-attr]
        new_subjects.add(str(project))

    def _term(self, term: object) -> Term:
        value = term if isinstance(term, str) else getattr(term, "value", None)
        if isinstance(term, str) or (
            isinstance(term, ox.NamedNode) and term.value.startswith(reconcile.PROVISIONAL)
        ):
            assert isinstance(value, str)
            res = self.resolved.get(value)
            if res is not None and res.iri is not None:
                return _n(res.iri)
            return _n(value)
        return term  # type: ignore[return-value]


# ---- 5. the whole import ------------------------------------------------------------------------


#: An import's working folder (a copy of the table, morph-kgc's output) is named after its process.
WORKDIR_PREFIX = "kzgraph-import-"


def sweep_stale_staged(folder: Path) -> list[Path]:
    """Remove graph files staged by imports whose process is gone (``.<id>.trig.<pid>-*``).

    An import killed with -9 between writing its staged graph file and renaming it leaves that
    file (13-66 MB at 100k rows); the next import removes it. Files of live processes stay.
    """
    removed: list[Path] = []
    for path in folder.glob(".*.trig.*-*") if folder.is_dir() else []:
        pid = path.name.rsplit(".trig.", 1)[-1].split("-", 1)[0]
        if not pid.isdigit():
            continue
        try:
            os.kill(int(pid), 0)
        except ProcessLookupError:
            path.unlink(missing_ok=True)
            removed.append(path)
        except OSError:
            continue
    return removed


def sweep_stale_workdirs(root: Path | None = None) -> list[Path]:
    """Remove the working folders of imports whose process is gone; the folders removed.

    An import killed with -9 never leaves its ``TemporaryDirectory``, so a copy of the user's
    table would stay in the temporary folder. Each folder carries its process id; one whose
    process no longer exists is removed by the next import. A folder of a live process (or of
    another user's, which this one may not signal) is left alone.
    """
    removed: list[Path] = []
    for folder in Path(root or tempfile.gettempdir()).glob(f"{WORKDIR_PREFIX}*-*"):
        pid = folder.name[len(WORKDIR_PREFIX) :].split("-", 1)[0]
        if not pid.isdigit() or not folder.is_dir() or folder.stat().st_uid != os.getuid():
            continue
        try:
            os.kill(int(pid), 0)
        except ProcessLookupError:
            shutil.rmtree(folder, ignore_errors=True)
            removed.append(folder)
        except OSError:
            continue
    return removed


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
    settings = settings or Settings.discover()
    say = progress or (lambda _m: None)
    timings: dict[str, float] = {}
    clock = time.perf_counter()

    def lap(name: str) -> None:
        nonlocal clock
        now = time.perf_counter()
        timings[name] = now - clock
        clock = now

    table = Path(table)
    if not table.is_file():
        raise KzgraphError(f"{table}: no such file")
    if table.suffix not in (".csv", ".xlsx"):
        raise KzgraphError(f"{table}: import reads .csv or .xlsx tables, not {table.suffix!r}")
    mapping = mapping or shipped_mapping(settings)
    check_shapes(DEFAULT_ENGINE, settings.shapes_file)  # refused before anything is read
    read = read_table(table)
    header = read.header
    needed = _mapping_columns(mapping) - set(ADDED_COLUMNS)
    missing = sorted(needed - set(header))
    if missing:
        raise KzgraphError(
            f"{table}: the mapping {mapping.name} reads column(s) the table lacks: "
            f"{', '.join(missing)} (see mappings/tracker-template.csv)"
        )
    say("reading the graph")
    store = current_store(settings)
    lap("read graph")
    say(f"checking {table.name}")
    checker = _Checker(table, store, settings)
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
        checker.problems.sort(key=_row_order)
        shown = "\n  ".join(checker.problems[:30])
        more = f"\n  … and {len(checker.problems) - 30} more" if len(checker.problems) > 30 else ""
        raise KzgraphError(
            f"{len(checker.problems)} problem(s) in {table.name}; nothing was imported "
            f"({len(rows)} row(s) read, all refused):\n  {shown}{more}"
        )
    if not rows:
        raise KzgraphError(f"{table}: no data rows")
    lap("check cells")
    sha = sha256_of(table)
    known = next((r for r in checker.sources.values() if r.sha256 == sha), None)
    table_id = known.id if known is not None else next_id(list(checker.sources.values()), sha)
    say(f"mapping {len(rows)} rows with morph-kgc")
    sweep_stale_workdirs()
    sweep_stale_staged(documents_dir(settings))
    with tempfile.TemporaryDirectory(prefix=f"{WORKDIR_PREFIX}{os.getpid()}-") as tmp:
        workdir = Path(tmp)
        _prepare(workdir, header, rows, table_id)
        # Each row's quads grouped by subject IRI, the way the assembler takes them.
        by_row: dict[int, dict[str, list[ox.Quad]]] = defaultdict(lambda: defaultdict(list))
        provisional: set[str] = set()
        claims: dict[str, dict[str, set[str]]] = defaultdict(lambda: defaultdict(set))
        row_entities: dict[int, set[str]] = defaultdict(set)
        entity_prefixes = tuple(f"{reconcile.PROVISIONAL}{kind}:" for kind in reconcile.KINDS)
        graph_of: dict[ox.NamedNode | ox.BlankNode | ox.DefaultGraph, int] = {}
        # Each mapping group's file is read as soon as the engine has written it, while it maps
        # the rest; nothing read is used before the engine has finished without error.
        with closing(mapped_files(settings, mapping, workdir)) as mapped:
            quads = (q for f in mapped for q in ox.parse(path=str(f), format=ox.RdfFormat.N_QUADS))
            for q in quads:
                n = graph_of.get(q.graph_name)
                if n is None:
                    n = graph_of[q.graph_name] = _row_of(q.graph_name)
                subject = q.subject.value
                by_row[n][subject].append(q)
                obj = q.object
                iri = obj.value if type(obj) is ox.NamedNode else None
                if subject.startswith(entity_prefixes):
                    provisional.add(subject)
                    row_entities[n].add(subject)
                    if iri is not None:
                        claims[subject][q.predicate.value].add(iri)
                if iri is not None and iri.startswith(entity_prefixes):
                    provisional.add(iri)
                    row_entities[n].add(iri)
    lap("map with morph-kgc, read its quads")
    say("reconciling")
    index = reconcile.Index(store)
    decided = reconcile.read_decisions(decisions)
    resolved = reconcile.resolve(
        provisional, index, decided, claims, _labelled_by(store, f"{source_iri(table_id)}/row/")
    )
    lap("reconcile")
    # Validation sees the graph plus the new triples in a store of its own, filled on a second
    # thread while the rows are assembled (Oxigraph's bulk load releases the GIL).
    working = current_store(settings)
    loader = _Loader(working)
    assembler = _Assembler(store, table_id, resolved, new_table=known is None)
    reports: list[RowReport] = []
    chunks: list[bytes] = []

    def flush() -> None:
        chunk = assembler.take()
        if chunk:
            chunks.append(chunk)
            loader.put(chunk)

    try:
        for n, _cells, _record in rows:
            names = row_entities.get(n, set())
            open_q = [resolved[i] for i in sorted(names) if resolved[i].iri is None]
            if open_q:
                reasons = [f"{r.outcome} {r.kind} {r.name!r}" for r in open_q]
                reports.append(RowReport(n, "held", 0, reasons))
                continue
            outcome = (
                reconcile.NEW
                if any(resolved[i].outcome == reconcile.NEW for i in names)
                else reconcile.MATCHED
            )
            reports.append(RowReport(n, outcome, assembler.row(n, by_row.pop(n, {}))))
            if len(assembler.fresh) >= CHUNK_TRIPLES:
                flush()
        graph = ox.NamedNode(str(GRAPH[table_id]))
        link = (graph, _DERIVED, _n(str(source_iri(table_id))))
        if assembler.out and not any(True for _ in store.quads_for_pattern(*link)):
            assembler._emit(link)
        flush()
        lap("assemble")
        # What the rows mapped to is no longer needed: free it before validation runs.
        assembler.out.clear()
        by_row.clear()
        record = (
            [] if known is not None else _table_record(table_id, table, sha, title, description)
        )
        working.bulk_extend(record)
    finally:
        loader.close()
    lap("validate: finish loading")
    triples = b"".join(chunks)
    chunks.clear()
    pending = [
        r for r in resolved.values() if r.outcome in (reconcile.AMBIGUOUS, reconcile.UNKNOWN)
    ]
    added = triples.count(b"\n")
    say(f"validating {added} new triples")
    # A real run writes the graph file (to a temporary name) while the shapes are checked.
    staged = (
        None
        if dry_run or not added
        else _StagedFile(*_graph_file(settings, table, table_id, triples))
    )
    try:
        report = _validate(settings, working)
        lap("validate: shapes")
        result = ImportResult(
            table, table_id, reports, resolved, triples, report, timings, [], pending
        )
        if dry_run or not report.conforms:
            return result
        result.written = _write(
            settings, result, title, description, decisions, row_entities, staged
        )
        staged = None
    finally:
        if staged is not None:
            staged.discard()
    lap("write")
    return result


def _labelled_by(store: ox.Store, rows_iri: str) -> set[str]:
    """Entities whose label a row of this table gave: what its earlier runs minted."""
    query = (
        f"SELECT DISTINCT ?e WHERE {{ ?e <{RDFS.label}> ?l ; <{PROV.qualifiedDerivation}> ?d . "
        f'FILTER(isIRI(?e) && STRSTARTS(STR(?d), "{rows_iri}")) }}'
    )
    return {r["e"].value for r in store.query(query)}  # type: ignore[union-attr]


def _row_order(problem: str) -> tuple[int, str]:
    """Problems in row order: ``file:row: ...``."""
    match = re.search(r":(\d+): ", problem)
    return (int(match.group(1)) if match else 0, problem)


def _table_description(table: Path, description: str | None) -> str:
    return description or f"Tracker table {table.name}, imported row by row."


def _table_record(
    table_id: str, table: Path, sha: str, title: str | None, description: str | None
) -> list[ox.Quad]:
    """The registry record the table will get, so that validation sees its rows' source."""
    from rdflib import Graph

    from kzgraph.sources.registry import describe
    from kzgraph.store.engines import to_oxigraph

    g = Graph()
    describe(
        g,
        table_id,
        table_id + table.suffix,
        sha,
        title=title or table.name,
        description=_table_description(table, description),
    )
    return [ox.Quad(_n(str(s)), _n(str(p)), to_oxigraph(o)) for s, p, o in g]


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


def _write(
    settings: Settings,
    result: ImportResult,
    title: str | None,
    description: str | None,
    decisions: Path | None,
    row_entities: dict[int, set[str]],
    staged: _StagedFile | None,
) -> list[Path]:
    """Register the table, put its graph file in place, write the open questions (each atomic)."""
    written: list[Path] = []
    if decisions is not None and result.pending:
        rows_of: dict[str, list[int]] = defaultdict(list)
        for n, names in row_entities.items():
            for iri in names:
                res = result.resolutions[iri]
                rows_of[f"{res.kind}:{res.name}"].append(n)
        if reconcile.write_decisions(decisions, result.pending, rows_of):
            written.append(decisions)
    if not result.triples:
        return written
    reg = register(
        result.table,
        settings,
        title=title or result.table.name,
        description=_table_description(result.table, description),
        language=None,
        source_id=result.source_id,
        graph_file=False,
    )
    if reg.record.id != result.source_id:  # pragma: no cover - guarded by the sha lookup
        raise KzgraphError(
            f"{result.table}: registered as {reg.record.id}, expected {result.source_id}"
        )
    if staged is not None:
        staged.commit()
        written.append(staged.path)
    return written


def _graph_file(
    settings: Settings, table: Path, source_id: str, triples: bytes
) -> tuple[Path, list[bytes]]:
    """Where the table's graph file goes, and its contents in parts (never joined in memory)."""
    target = documents_dir(settings) / f"{source_id}.trig"
    header = (
        f"# Facts imported from sources/{source_id}{table.suffix} "
        f"({table.name}) by `kzgraph import`.\n"
        "# Each fact cites the row it came from (kz:rowNumber) and, where the row gives one,\n"
        "# the sentence of the document it quotes. Re-running the import adds only what is new.\n"
    )
    return target, [
        header.encode("utf-8"),
        *_trig(triples, ox.NamedNode(str(GRAPH[source_id])), target),
    ]


class _StagedFile:
    """A file written and synced on a thread of its own, put in place only by ``commit``.

    At 100k rows the graph file is 380 MB: writing it while the shapes are checked takes it off
    the import's critical path, and a validation that fails leaves nothing behind. The rename is
    atomic, so a crash leaves the old file or the new one.
    """

    def __init__(self, path: Path, parts: list[bytes]) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        # named after this process, so that the next import removes it if this one is killed
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.{os.getpid()}-")
        self.path, self.tmp = path, Path(tmp)
        self.error: BaseException | None = None
        self.thread = threading.Thread(
            target=self._run, args=(fd, parts), name="kzgraph-import-write", daemon=True
        )
        self.thread.start()

    def _run(self, fd: int, parts: list[bytes]) -> None:
        try:
            with os.fdopen(fd, "wb") as f:
                for part in parts:
                    f.write(part)
                f.flush()
                os.fsync(f.fileno())
        except BaseException as exc:  # reported by commit(), on the importing thread
            self.error = exc

    def commit(self) -> None:
        self.thread.join()
        if self.error is not None:
            self.discard()
            raise KzgraphError(f"{self.path}: cannot write: {self.error}")
        os.replace(self.tmp, self.path)

    def discard(self) -> None:
        self.thread.join()
        self.tmp.unlink(missing_ok=True)


#: Above this many triples the graph file is the N-Triples lines in one graph block (fast,
#: ungrouped) instead of rdflib's TriG (grouped by subject and sorted, for a reviewer to read).
READABLE_LIMIT = 20_000


def _trig(triples: bytes, graph: ox.NamedNode, existing: Path) -> list[bytes]:
    """The graph file: the new triples in ``graph``, with what ``existing`` already holds.

    Small graphs are written grouped and sorted by rdflib for a reviewer to read. Big ones are
    the N-Triples lines inside one graph block, which is valid TriG and needs no store: loading
    millions of triples only to print them again cost 20 s at 100k rows.
    """
    old = b""
    if existing.exists():
        old = (
            ox.serialize(
                [
                    ox.Quad(q.subject, q.predicate, q.object)
                    for q in ox.parse(path=str(existing), format=ox.RdfFormat.TRIG)
                ],
                format=ox.RdfFormat.N_TRIPLES,
            )
            or b""
        )
    if triples.count(b"\n") + old.count(b"\n") > READABLE_LIMIT:
        return [f"{graph} {{\n".encode(), old, triples, b"}\n"]
    from rdflib import Dataset, URIRef

    ds = Dataset()
    target = ds.graph(URIRef(graph.value))
    target.parse(data=old + triples, format="nt")
    for prefix, ns in _prefixes().items():
        ds.bind(prefix, ns, replace=True)
    text: str = ds.serialize(format="trig")
    return [text.encode("utf-8")]


def _prefixes() -> dict[str, str]:
    from kzgraph.core.namespaces import PREFIXES

    wanted = {
        "kz", "kzg", "company", "project", "region", "sector", "status", "measure",
        "currency", "country", "source",
    }  # fmt: skip
    chosen = {k: v for k, v in PREFIXES.items() if k in wanted}
    chosen.update(
        {
            "rdfs": str(RDFS),
            "prov": str(PROV),
            "xsd": "http://www.w3.org/2001/XMLSchema#",
        }
    )
    return chosen
