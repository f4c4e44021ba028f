"""What a curator reads before committing a source's facts: the facts, and names that look alike.

Growing the graph from thirty articles taught two checks no shape can make. One is reading a
source's facts back as a list, each under the words (quotation or locator) it cites, with its
figures, so a wrong project or a mistyped figure is seen at once (:func:`review`). The other is
the list of entities only one source names whose name is close to another entity's
(:func:`lookalikes`): the likeliest second copy of a firm or a project.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field

import pyoxigraph as ox

from kzgraph.core.errors import KzgraphError
from kzgraph.core.namespaces import KZ, curie
from kzgraph.core.settings import Settings
from kzgraph.curation import reconcile
from kzgraph.sources.registry import records, source_iri

_PROV = "http://www.w3.org/ns/prov#"
_LABEL = "http://www.w3.org/2000/01/rdf-schema#label"


@dataclass
class Cited:
    """One derivation of a source: its words, and the entities and figures citing it."""

    words: str
    kind: str  # "quotation", "locator" or "row"
    entities: list[str] = field(default_factory=list)
    figures: list[str] = field(default_factory=list)


@dataclass
class Review:
    """A source's facts, as a curator checks them."""

    source_id: str
    title: str
    cited_by_reference: bool
    url: str | None
    derivations: list[Cited]

    def to_text(self) -> str:
        """The review as a page of text: one block per derivation."""
        how = "cited by reference" if self.cited_by_reference else "text kept under sources/"
        lines = [f"source:{self.source_id}  {self.title}", f"  {how}" + (
            f"  <{self.url}>" if self.url else "")]  # fmt: skip
        facts = sum(len(d.entities) + len(d.figures) for d in self.derivations)
        lines.append(f"  {len(self.derivations)} derivation(s), {facts} fact(s) citing them")
        for d in self.derivations:
            lines.append("")
            lines.append(f"  [{d.kind}] {d.words}")
            lines += [f"      {e}" for e in d.entities]
            lines += [f"      {f}" for f in d.figures]
        return "\n".join(lines)


def _text(term: object) -> str:
    return "" if term is None else str(getattr(term, "value", term))


def review(settings: Settings, source_id: str, store: ox.Store | None = None) -> Review:
    """The facts citing ``source_id``, grouped by the words (or row) each cites."""
    from kzgraph.curation.importing import current_store

    rec = next((r for r in records(settings) if r.id == source_id), None)
    if rec is None:
        raise KzgraphError(f"no registered source {source_id!r} (kzgraph source list)")
    store = store or current_store(settings)
    src = str(source_iri(source_id))
    query = f"""
        SELECT ?d ?q ?l ?row ?e WHERE {{
            ?d <{_PROV}entity> <{src}> .
            OPTIONAL {{ ?d <{KZ.quotation}> ?q }} OPTIONAL {{ ?d <{KZ.locator}> ?l }}
            OPTIONAL {{ ?d <{KZ.rowNumber}> ?row }}
            OPTIONAL {{ ?e <{_PROV}qualifiedDerivation> ?d }}
        }}"""
    by_derivation: dict[str, Cited] = {}
    subjects: dict[str, list[ox.NamedNode | ox.BlankNode]] = defaultdict(list)
    for r in store.query(query):  # type: ignore[union-attr]
        d = r["d"].value
        if d not in by_derivation:
            kind = "row" if r["row"] is not None else "locator" if r["l"] is not None else (
                "quotation")  # fmt: skip
            by_derivation[d] = Cited(_text(r["q"] or r["l"]), kind)
        if r["e"] is not None:
            subjects[d].append(r["e"])
    for d, cited in by_derivation.items():
        for node in subjects[d]:
            if isinstance(node, ox.NamedNode):
                cited.entities.append(_entity(store, node))
            else:
                cited.figures.append(_figure(store, node))
        cited.entities.sort()
        cited.figures.sort()
    derivations = sorted(by_derivation.values(), key=lambda c: (c.kind, c.words))
    return Review(source_id, rec.title or "", rec.cited, rec.url, derivations)


def _entity(store: ox.Store, node: ox.NamedNode) -> str:
    label = next(store.quads_for_pattern(node, ox.NamedNode(_LABEL), None), None)
    types = sorted(
        curie(_text(q.object))
        for q in store.quads_for_pattern(
            node, ox.NamedNode("http://www.w3.org/1999/02/22-rdf-syntax-ns#type"), None
        )
    )
    name = _text(label.object) if label is not None else node.value
    return f"{name} ({', '.join(types)}) <{node.value}>"


def _figure(store: ox.Store, node: ox.BlankNode) -> str:
    """A figure node as one line: its owner, measure, value, currency or unit, words, hedge."""
    values = {q.predicate.value: q.object for q in store.quads_for_pattern(node, None, None)}
    owner = next(store.quads_for_pattern(None, None, node), None)
    link = curie(owner.predicate.value) if owner is not None else "?"
    held = _text(owner.subject) if owner is not None else "?"
    stage = values.get(str(KZ.status))
    if stage is not None:  # a status statement: a stage and its words
        words = values.get(str(KZ.statusReading)) or values.get(str(KZ.statusStatedAs))
        how = "read as" if str(KZ.statusReading) in values else "stated as"
        return f"{link} of <{held}>: stage {curie(_text(stage))}, {how} {_text(words)!r}"
    unit = values.get(str(KZ.currency)) or values.get(str(KZ.unit))
    measure = values.get(str(KZ.measure))
    hedge = values.get(str(KZ.qualifier))
    return (
        f"{link} of <{held}>: {curie(_text(measure)) if measure else '?'} "
        f"{_text(values.get(str(KZ.value)))} {curie(_text(unit)) if unit else ''} "
        f"stated as {_text(values.get(str(KZ.statedAs)))!r}"
        + (f" ({_text(hedge)})" if hedge is not None else "")
    )


@dataclass(frozen=True)
class Lookalike:
    """An entity one source names whose name is close to another entity's."""

    kind: str
    iri: str
    name: str
    source: str
    other: str
    other_name: str
    score: float

    def __str__(self) -> str:
        return (
            f"{self.kind} {self.name!r} <{self.iri}> (only in {self.source}) looks like "
            f"{self.other_name!r} <{self.other}> ({self.score:.2f})"
        )


def lookalikes(settings: Settings, store: ox.Store | None = None) -> list[Lookalike]:
    """Firms and projects named by one source only whose name is close to another's.

    Closeness is reconciliation's own (:meth:`kzgraph.curation.reconcile.Index.close`): equal
    once case, accents, punctuation and company words are set aside, or 0.85 similar with the
    same first word. A pair listed here is a question for the curator, not an error: Energy
    China Group and China Energy are two firms.
    """
    from kzgraph.curation.importing import current_store

    store = store or current_store(settings)
    index = reconcile.Index(store)
    tables = {r.id for r in records(settings) if r.is_table}  # a table cites its articles too
    sources_of: dict[str, set[str]] = defaultdict(set)
    query = f"SELECT ?e ?s WHERE {{ ?e <{_PROV}qualifiedDerivation>/<{_PROV}entity> ?s }}"
    for r in store.query(query):  # type: ignore[union-attr]
        sources_of[r["e"].value].add(r["s"].value.rsplit("/", 1)[-1])
    found = []
    for kind in ("company", "project"):
        for iri in sorted(index.iris[kind]):
            sources = sources_of.get(iri, set()) - tables
            if len(sources) != 1:
                continue
            name = index.labels.get(iri, iri)
            for other, score in index.close(kind, name):
                if other != iri:
                    found.append(
                        Lookalike(kind, iri, name, next(iter(sources)), other,
                                  index.labels.get(other, other), score)
                    )  # fmt: skip
    return found
