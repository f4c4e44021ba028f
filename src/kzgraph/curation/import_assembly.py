"""Rows become facts: provisional entities replaced by reconciled IRIs, repeats dropped.

What the graph already states is not written again; a figure or status that differs from the
graph's becomes a second statement with its own source, so conflicts stay side by side.
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from decimal import Decimal

import pyoxigraph as ox
from rdflib.namespace import PROV, RDF, RDFS

from kzgraph.core.namespaces import KZ
from kzgraph.curation import reconcile
from kzgraph.curation.import_checks import normalised
from kzgraph.sources.registry import (
    normalise_quote,
    source_iri,
)

Term = ox.NamedNode | ox.BlankNode | ox.Literal | ox.Triple
Triple = tuple[ox.NamedNode | ox.BlankNode, ox.NamedNode, Term]


def _n(term: str) -> ox.NamedNode:
    return ox.NamedNode(term)


_TYPE, _LABEL = _n(str(RDF.type)), _n(str(RDFS.label))
_QD, _ENTITY = _n(str(PROV.qualifiedDerivation)), _n(str(PROV.entity))
_DERIVED = _n(str(PROV.wasDerivedFrom))
_STATUS, _STATUS_AS = _n(str(KZ.status)), _n(str(KZ.statusStatedAs))
_STATUS_READING = _n(str(KZ.statusReading))
#: What a status's words can be: the source's (a kept text) or the curator's (cited by reference).
_STATUS_WORDS = (_STATUS_AS, _STATUS_READING)
_STATEMENT, _STATUS_STATEMENT = _n(str(KZ.statusStatement)), _n(str(KZ.StatusStatement))
_AMOUNT, _QUOTATION = _n(str(KZ.amount)), _n(str(KZ.quotation))
_QUANTITY, _LOCATOR = _n(str(KZ.quantity)), _n(str(KZ.locator))
_FIGURE = [_n(str(KZ.measure)), _n(str(KZ.value)), _n(str(KZ.currency))]
_QUALIFIER = _n(str(KZ.qualifier))
#: What makes a figure the same figure: an amount's measure, value and currency; a quantity's
#: measure, value and unit. The property that links it, the kind of its provisional node, and
#: the property that completes the key.
_FIGURE_KINDS = {
    _AMOUNT: ("amount", _n(str(KZ.currency))),
    _QUANTITY: ("quantity", _n(str(KZ.unit))),
}


class Assembler:
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
        #: projects whose kz:status the graph already states (an import only adds to those)
        self.graph_statuses = set(self.statuses)
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
        #: each stage's rank (kz:stageRank), and per project the most advanced stage this
        #: table's rows give: a project new to the graph takes that one as its kz:status
        self.ranks = {
            r["s"].value: int(r["r"].value)
            for r in store.query(f"SELECT ?s ?r WHERE {{ ?s <{KZ.stageRank}> ?r }}")  # type: ignore[union-attr]
        }
        self.furthest: dict[str, str] = {}
        # Triples as N-Triples lines (a term's str() is N-Triples): one string each is cheaper to
        # keep, compare and free than a tuple of three engine terms, and it is what gets written.
        self.out: set[str] = set()
        self.fresh: list[str] = []  # emitted since the last take()
        #: (entity, source) pairs known to cite each other: a confirmation is cited once per source
        self.citing: set[tuple[str, str]] = set()

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
        """Derivations the graph has, by source and words (a quotation, or a locator)."""
        found = {}
        query = (
            f"SELECT ?d ?s ?q WHERE {{ ?d <{PROV.entity}> ?s . "
            f"{{ ?d <{KZ.quotation}> ?q }} UNION {{ ?d <{KZ.locator}> ?q }} "
            f"FILTER NOT EXISTS {{ ?d <{KZ.rowNumber}> ?n }} }}"
        )
        for row in self.store.query(query):  # type: ignore[union-attr]
            found[(row["s"].value, normalise_quote(row["q"].value))] = row["d"].value
        return found

    def _existing_figures(self) -> set[tuple[str, str, Decimal, str, str]]:
        """The figures the graph states: project, measure, value, currency or unit, and hedge.

        The hedge is part of a figure's identity: "nearly 10,000 jobs" and "more than 10,000
        jobs" are two claims, each kept with its source, not one with the other's words lost.
        """
        found = set()
        for link, (_kind, key) in _FIGURE_KINDS.items():
            query = (
                f"SELECT ?p ?m ?v ?c ?h WHERE {{ ?p <{link.value}> ?a . ?a <{KZ.measure}> ?m ; "
                f"<{KZ.value}> ?v ; <{key.value}> ?c OPTIONAL {{ ?a <{KZ.qualifier}> ?h }} }}"
            )
            found |= {
                (
                    r["p"].value, r["m"].value, Decimal(r["v"].value), r["c"].value,
                    normalised(r["h"].value) if r["h"] is not None else "",
                )
                for r in self.store.query(query)  # type: ignore[union-attr]
            }  # fmt: skip
        return found

    def _row_figures(self) -> set[tuple[str, str, str]]:
        if self.new_table:
            return set()
        query = (
            f"SELECT ?p ?m ?d WHERE {{ VALUES ?link {{ <{KZ.amount}> <{KZ.quantity}> }} "
            f"?p ?link ?a . ?a <{KZ.measure}> ?m ; <{PROV.qualifiedDerivation}> ?d . "
            f'FILTER(STRSTARTS(STR(?d), "{self.rows_iri}")) }}'
        )
        return {
            (r["p"].value, r["m"].value, r["d"].value)
            for r in self.store.query(query)  # type: ignore[union-attr]
        }

    def plan_statuses(self, rows: dict[int, dict[str, list[ox.Quad]]]) -> None:
        """Note each project's most advanced stage among all the rows, before any is assembled.

        Several sources give a project several stages ("considered", "foundation laid",
        "first complex launched"); the graph's rule is that ``kz:status`` is the furthest of
        them, the others kept as status statements. Read in row order, the first stage would
        otherwise become the status and the import would break the rule on its own data.
        """
        for by_subject in rows.values():
            for iri, qs in by_subject.items():
                project = self._term(iri).value  # type: ignore[union-attr]
                for q in qs:
                    if q.predicate != _STATUS:
                        continue
                    stage = self._term(q.object).value  # type: ignore[union-attr]
                    best = self.furthest.get(project)
                    if best is None or self.ranks.get(stage, 0) > self.ranks.get(best, 0):
                        self.furthest[project] = stage

    def _exists(self, s: ox.NamedNode | ox.BlankNode, p: ox.NamedNode, o: Term) -> bool:
        if isinstance(s, ox.BlankNode) or isinstance(o, ox.BlankNode):
            return False
        return next(iter(self.store.quads_for_pattern(s, p, o)), None) is not None

    def row(self, n: int, by_subject: dict[str, list[ox.Quad]]) -> int:
        """Add row ``n``'s new facts (its mapped quads by subject); how many triples it added."""
        # Long on purpose (92 lines): one loop sorts a row's quads into entities, provenance and
        # figures in the order the graph's rules need; the decisions depend on each other within the
        # row.
        prov_nodes: dict[str, ox.NamedNode] = {}
        in_graph: set[str] = set()  # provenance nodes the graph may already describe
        for iri, qs in by_subject.items():
            kind, _name = (
                reconcile.split(iri) if iri.startswith(reconcile.PROVISIONAL) else ("", "")
            )
            if kind == "quote":
                src = next((q.object.value for q in qs if q.predicate == _ENTITY), "")  # type: ignore[union-attr]
                words = {q.predicate: q.object.value for q in qs}  # type: ignore[union-attr]
                said = words.get(_QUOTATION) or words.get(_LOCATOR, "")
                key = (src, normalised(said))
                known = self.quotes.get(key)
                if known is None:
                    digest = hashlib.sha256(key[1].encode()).hexdigest()[:12]
                    # a quotation's node says so, and so does a locator's: a cited fact
                    where = "quote/q" if _QUOTATION in words else "locator/l"
                    prov_nodes[iri] = _n(f"{src}/{where}-{digest}")
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
            if kind in ("amount", "quantity"):
                continue
            subject = self._term(iri)
            assert isinstance(subject, ox.NamedNode)
            s_nt = str(subject)
            res = self.resolved.get(iri)
            matched = res is not None and res.outcome == reconcile.MATCHED
            fresh = res is not None and res.outcome == reconcile.NEW  # nothing to look up
            status_words = next(
                ((q.predicate, q.object) for q in qs if q.predicate in _STATUS_WORDS), None
            )
            for q in qs:
                p = q.predicate
                if p == _QD or p in _STATUS_WORDS:
                    continue
                if matched and p in (_LABEL, _TYPE):
                    continue  # matched by name and kind: the graph already has both
                if p in _FIGURE_KINDS:
                    ref = str(getattr(q.object, "value", ""))
                    node = self._amount(
                        subject, by_subject.get(ref, []), amount_nodes, ref, f"{self.rows_iri}{n}",
                        _FIGURE_KINDS[p][1],
                    )  # fmt: skip
                    if node is not None:
                        self._put(f"{s_nt} {p} {node} .\n")
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
        confirmed = self._confirmed(by_subject, prov_nodes)
        if len(self.out) == before and not confirmed:
            return 0
        cites = [f" {_QD} {prov_nodes[i]} .\n" for i in sorted(prov_nodes)]
        for s_nt in new_subjects:
            for cite in cites:
                self._put(s_nt + cite)
        for s_nt, missing in confirmed.items():
            for prov_node in missing:
                self._put(f"{s_nt} {_QD} {prov_node} .\n")
        for iri, prov_node in prov_nodes.items():
            d_nt = str(prov_node)
            check = iri in in_graph
            for q in by_subject[iri]:
                if not (check and self._exists(prov_node, q.predicate, q.object)):
                    self._put(f"{d_nt} {q.predicate} {q.object} .\n")
        return len(self.out) - before

    def _confirmed(
        self,
        by_subject: dict[str, list[ox.Quad]],
        prov_nodes: dict[str, ox.NamedNode],
    ) -> dict[str, list[ox.NamedNode]]:
        """Entities the row names that do not cite its source yet, with the derivations to add.

        A second article restating what the graph holds adds no triple of its own; without its
        derivation on the firm and project it names, it would be registered yet cite nothing, and
        the queries counting an entity's sources would miss it. The row's derivation (quotation or
        locator) is added to them instead, nothing else, so a confirmation counts as a source. An
        entity that already cites the same source gains nothing: a repeat stays a repeat.
        """
        cited = {
            node: next((q.object for q in by_subject[iri] if q.predicate == _ENTITY), None)
            for iri, node in prov_nodes.items()
            if reconcile.split(iri)[0] == "quote"  # a table that is its own source: no change
        }
        out: dict[str, list[ox.NamedNode]] = {}
        for iri in by_subject:
            if iri in prov_nodes:
                continue
            kind = reconcile.split(iri)[0] if iri.startswith(reconcile.PROVISIONAL) else ""
            if kind in ("amount", "quantity"):
                continue
            subject = self._term(iri)
            if not isinstance(subject, ox.NamedNode):
                continue
            missing = [
                node for node, src in cited.items()
                if isinstance(src, ox.NamedNode) and not self._cites(subject, src)
            ]  # fmt: skip
            if missing:
                out[str(subject)] = missing
                for node in missing:
                    self.citing.add((subject.value, cited[node].value))  # type: ignore[union-attr]
        return out

    def _cites(self, subject: ox.NamedNode, source: ox.NamedNode) -> bool:
        """Whether ``subject`` cites ``source`` already, in the graph or through an earlier row."""
        if (subject.value, source.value) in self.citing:
            return True
        for q in self.store.quads_for_pattern(subject, _QD, None):
            if next(iter(self.store.quads_for_pattern(q.object, _ENTITY, source)), None):  # type: ignore[arg-type]
                self.citing.add((subject.value, source.value))
                return True
        return False

    def _amount(
        self,
        project: ox.NamedNode,
        qs: list[ox.Quad],
        nodes: dict[str, ox.BlankNode | None],
        iri: str,
        row_iri: str,
        key: ox.NamedNode = _FIGURE[2],
    ) -> ox.BlankNode | None:
        """The figure's node, unless the graph (or this table's earlier run) has it already.

        ``key``: what completes the figure's identity besides measure and value, an amount's
        currency or a quantity's unit.
        """
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
                values[key].value,  # type: ignore[union-attr]
                normalised(values[_QUALIFIER].value) if _QUALIFIER in values else "",  # type: ignore[union-attr]
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
        words: tuple[ox.NamedNode, Term] | None,
        qs: list[ox.Quad],
        new_subjects: set[str],
    ) -> None:
        known = self.statuses[project.value]
        if status.value in known:  # type: ignore[union-attr]
            return
        # the project's own kz:status: its first stage when the graph has it already, else the
        # furthest stage this table gives it (plan_statuses); any other becomes a statement
        if project.value in self.graph_statuses:
            own = not known
        else:
            own = status.value == self.furthest.get(project.value, status.value)  # type: ignore[union-attr]
        if own:
            self._emit((project, _STATUS, status))
            if words is not None:
                self._emit((project, words[0], words[1]))
        else:  # the graph has another status: a second statement, with its own source
            node = ox.BlankNode()
            self._emit((project, _STATEMENT, node))
            self._emit((node, _TYPE, _STATUS_STATEMENT))
            self._emit((node, _STATUS, status))
            if words is not None:
                self._emit((node, words[0], words[1]))
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
