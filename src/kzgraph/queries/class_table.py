"""A table over any class, columns named as people name properties, sums that keep the rules.

An analyst who wants "every project with its region, firm and amount" should not have to write
SPARQL or wait for a saved query. A table names a class (``Project``, ``kz:Company``, a label
or an IRI) and columns (``label,region,investor,amount``), each column a property path whose
steps are named by the property's local name, label, CURIE or IRI and joined with ``/``
(``amount/currency``, ``investor/headquartersCountry``; ``^investor`` walks backwards). The
shapes say which properties a class has (:func:`columns_of` lists them), and any property the
data uses on the class is accepted too.

One row per instance of the class or its subclasses; a column with several values keeps them
all (a list in JSON, joined with "; " in CSV and XLSX), never just one. A value that is an
entity is shown by its label and carries its IRI.

Sums follow the graph's rules, as the saved totals do (:func:`total`): amounts are added per
currency (or unit) and measure, never across; a figure with a hedge ("over", "about", "up to")
is listed, not added; an entity whose sources state different figures for one measure is
listed with each figure, not added; a further tranche is listed as not added; a figure stated
twice counts once. So "over $24 billion" is never a total of exactly 24,000,000,000.

The model (columns, cells, renderings) is in :mod:`.table_model`; this module fills it.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from difflib import get_close_matches
from typing import Any

from rdflib import BNode, Literal, URIRef

from kzgraph.core.namespaces import curie
from kzgraph.queries.running import Store
from kzgraph.queries.table_model import (
    EXACT_QUALIFIERS,
    FORMATS,
    KZ,
    TRANCHE,
    Cell,
    Column,
    Schema,
    Table,
    TableError,
    expand_name,
    parse_path,
)

#: The table API in one place: the model's names are re-exported, so a caller imports this module.
__all__ = [
    "FORMATS",
    "Cell",
    "Column",
    "Request",
    "Schema",
    "Table",
    "TableError",
    "build",
    "from_result",
    "parse_path",
    "total",
]


def _cell(term: Any, labels: Mapping[str, str], stated: Mapping[str, str]) -> Cell:
    if isinstance(term, URIRef):
        return Cell(labels.get(str(term), curie(str(term))), str(term))
    if isinstance(term, BNode):
        return Cell(stated.get(str(term), "(a node without a stated text)"))
    if isinstance(term, Literal):
        value = term.toPython()
        number = value if isinstance(value, (int, float, Decimal, bool)) else None
        return Cell(str(term), None, number)
    return Cell(str(term))


def _path_sparql(steps: list[Column]) -> str:
    return "/".join(s.sparql() for s in steps)


@dataclass
class Request:
    """What a table is asked for: a class, columns, filters, and optionally a group and a sum."""

    cls: str
    columns: list[str]
    where: list[tuple[str, str]] = field(default_factory=list)
    group_by: list[str] = field(default_factory=list)
    sum: str | None = None

    @staticmethod
    def parse_where(items: Iterable[str]) -> list[tuple[str, str]]:
        """``column=value`` items; the value may be a label, a local name, a CURIE or an IRI."""
        out = []
        for item in items:
            column, sep, value = item.partition("=")
            if not sep or not column.strip() or not value.strip():
                raise TableError(f"--where expects COLUMN=VALUE, got {item!r}")
            out.append((column.strip(), value.strip()))
        return out


def _values(store: Store, cls: str, steps: list[Column]) -> dict[str, list[Any]]:
    """Instance → values at the path (in the order the store gives them, without repeats)."""
    out: dict[str, list[Any]] = {}
    rows = store.query(
        f"SELECT ?s ?v WHERE {{ ?s a/rdfs:subClassOf* <{cls}> . ?s {_path_sparql(steps)} ?v }}"
    ).rows
    for s, v in rows:
        if s is None or v is None:
            continue
        values = out.setdefault(str(s), [])
        if v not in values:
            values.append(v)
    return out


def _stated(store: Store, cls: str, steps: list[Column]) -> dict[str, str]:
    """The kz:statedAs text of each blank node a path reaches, to show instead of a node id."""
    rows = store.query(
        f"SELECT ?v ?t WHERE {{ ?s a/rdfs:subClassOf* <{cls}> . ?s {_path_sparql(steps)} ?v . "
        f"?v <{KZ}statedAs> ?t FILTER(isBLANK(?v)) }}"
    ).rows
    return {str(v): str(t) for v, t in rows if v is not None and t is not None}


def _matches(values: list[Any], wanted: str, labels: Mapping[str, str]) -> bool:
    target = wanted.lower()
    iri = expand_name(wanted)
    for v in values:
        if isinstance(v, URIRef):
            text = str(v)
            if iri == text or target in (
                labels.get(text, "").lower(),
                re.split(r"[#/]", text)[-1].lower(),
                curie(text).lower(),
            ):
                return True
        elif str(v).lower() == target:
            return True
    return False


def build(schema: Schema, request: Request) -> Table:
    """The table asked for: one row per instance, or with a sum, one row per group and unit."""
    cls = schema.resolve_class(request.cls)
    store, labels = schema.store, schema.labels
    names = request.columns
    paths = {name: schema.resolve_column(cls, name) for name in names}
    for column, _value in request.where:
        paths.setdefault(column, schema.resolve_column(cls, column))
    for column in request.group_by:
        paths.setdefault(column, schema.resolve_column(cls, column))
    instances = [
        str(s)
        for (s,) in store.query(
            f"SELECT DISTINCT ?s WHERE {{ ?s a/rdfs:subClassOf* <{cls}> FILTER(!isBLANK(?s)) }}"
        ).rows
        if s is not None
    ]
    values = {name: _values(store, cls, steps) for name, steps in paths.items()}
    for column, wanted in request.where:
        instances = [s for s in instances if _matches(values[column].get(s, []), wanted, labels)]
    instances.sort(key=lambda s: (labels.get(s, s).lower(), s))
    if request.sum is not None:
        return total(schema, cls, instances, request, values)
    stated: dict[str, str] = {}
    for steps in paths.values():
        stated.update(_stated(store, cls, steps))
    rows = [
        [[_cell(v, labels, stated) for v in values[name].get(s, [])] for name in names]
        for s in instances
    ]
    return Table(
        ["entity", *names],
        [[[Cell(labels.get(s, s), s)], *row] for s, row in zip(instances, rows, strict=True)],
    )


@dataclass
class _Figure:
    entity: str
    value: Decimal
    unit: str
    measure: str
    qualifier: str | None
    said: str


def _figures(
    store: Store, cls: str, steps: list[Column], labels: Mapping[str, str]
) -> list[_Figure]:
    """Every figure at the sum's path: a stated amount or quantity node, or a plain number."""
    rows = store.query(
        f"""SELECT ?s ?n ?v ?cur ?unit ?m ?q ?said WHERE {{
          ?s a/rdfs:subClassOf* <{cls}> . ?s {_path_sparql(steps)} ?n .
          OPTIONAL {{ ?n <{KZ}value> ?v }}
          OPTIONAL {{ ?n <{KZ}currency>/<{KZ}iso4217Code> ?cur }}
          OPTIONAL {{ ?n <{KZ}unit> ?unit }}
          OPTIONAL {{ ?n <{KZ}measure> ?m }}
          OPTIONAL {{ ?n <{KZ}qualifier> ?q }}
          OPTIONAL {{ ?n <{KZ}statedAs> ?said }}
        }}"""
    ).rows
    out = []
    for s, n, v, cur, unit, m, q, said in rows:
        if s is None or n is None:
            continue
        number = v if isinstance(v, Literal) else (n if isinstance(n, Literal) else None)
        if number is None:
            continue
        try:
            amount = Decimal(str(number.toPython()))
        except (ArithmeticError, ValueError):
            continue
        unit_text = (
            str(cur)
            if cur is not None
            else (labels.get(str(unit), curie(str(unit))) if unit is not None else "")
        )
        out.append(
            _Figure(
                str(s),
                amount,
                unit_text,
                str(m) if m is not None else "",
                str(q) if q is not None else None,
                str(said) if said is not None else str(number),
            )
        )
    return out


def total(
    schema: Schema,
    cls: str,
    instances: list[str],
    request: Request,
    values: dict[str, dict[str, list[Any]]],
) -> Table:
    """Sums per group, unit and measure, keeping every figure the rules do not let us add."""
    # Long on purpose (74 lines): the sum rules (per unit and measure; hedged, conflicting, tranche
    # and twice-stated figures) are applied in one place, so none can be skipped.
    assert request.sum is not None
    labels = schema.labels
    steps = schema.resolve_column(cls, request.sum)
    kept = set(instances)
    figures = [f for f in _figures(schema.store, cls, steps, labels) if f.entity in kept]
    by_entity: dict[tuple[str, str, str], list[_Figure]] = {}
    for f in figures:
        by_entity.setdefault((f.entity, f.unit, f.measure), []).append(f)

    def groups_of(entity: str) -> list[tuple[str, ...]]:
        if not request.group_by:
            return [()]
        keys: list[tuple[str, ...]] = [()]
        for column in request.group_by:
            found = values[column].get(entity, [])
            shown = [labels.get(str(v), str(v)) for v in found] or ["(none stated)"]
            keys = [(*k, s) for k in keys for s in shown]
        return keys

    Acc = dict[str, Any]
    acc: dict[tuple[tuple[str, ...], str, str], Acc] = {}
    for (entity, unit, measure), stated in sorted(by_entity.items()):
        name = labels.get(entity, entity)
        distinct = sorted({f.value for f in stated})
        words = " / ".join(sorted({f.said for f in stated}))
        for group in groups_of(entity):
            a = acc.setdefault(
                (group, unit, measure),
                {
                    "total": Decimal(0),
                    "added": [],
                    "hedged": [],
                    "conflicting": [],
                    "not added": [],
                },
            )
            if measure == TRANCHE:
                a["not added"].append(f"{name}: {words} (a further tranche)")
            elif len(distinct) > 1:
                a["conflicting"].append(f"{name}: {words}")
            elif any(f.qualifier and f.qualifier not in EXACT_QUALIFIERS for f in stated):
                a["hedged"].append(f"{name}: {words}")
            else:
                a["total"] += distinct[0]
                a["added"].append(f"{name}: {words}")
    columns = [*request.group_by, "unit", "measure", "total"]
    columns += ["added", "hedged", "conflicting", "not added"]
    rows = []
    for (group, unit, measure), a in sorted(acc.items()):
        exact = a["total"] if a["added"] else None
        row = [[Cell(g)] for g in group]
        row += [
            [Cell(unit)],
            [Cell(labels.get(measure, curie(measure)) if measure else "", measure or None)],
            [Cell(_number(exact), None, exact)] if exact is not None else [],
            [Cell(x) for x in a["added"]],
            [Cell(x) for x in a["hedged"]],
            [Cell(x) for x in a["conflicting"]],
            [Cell(x) for x in a["not added"]],
        ]
        rows.append(row)
    notes = [
        "totals add only figures stated without a hedge and agreed by every source; hedged, "
        "conflicting and further-tranche figures are listed beside them, never added"
    ]
    return Table(columns, rows, notes)


def _number(value: Decimal) -> str:
    text = format(value, "f")
    return text.rstrip("0").rstrip(".") if "." in text else text


def from_result(
    result: Any,
    labels: Mapping[str, str],
    where: list[tuple[str, str]] | None = None,
    group_by: list[str] | None = None,
    sum_column: str | None = None,
) -> Table:
    """A saved query's answer as a table, filtered, and grouped with a sum if asked.

    A sum never adds across currencies or units: a ``currency`` or ``unit`` column of the
    answer is added to the grouping when it is not already there, and said so in the notes.
    """
    # Long on purpose (61 lines): filter, group and sum a saved query's answer with the same rules
    # as total(), in one pass.
    names = [str(v) for v in result.variables]
    rows = [dict(zip(names, row, strict=True)) for row in result.rows]

    def known(column: str) -> str:
        if column not in names:
            near = get_close_matches(column, names, n=3, cutoff=0.5)
            hint = f"; did you mean {', '.join(repr(n) for n in near)}?" if near else ""
            raise TableError(
                f"the answer has no column {column!r}{hint} (it has {', '.join(names)})"
            )
        return column

    for column, wanted in where or []:
        known(column)
        rows = [r for r in rows if r[column] is not None and _matches([r[column]], wanted, labels)]
    if sum_column is None:
        return Table(
            names,
            [[[_cell(r[n], labels, {})] if r[n] is not None else [] for n in names] for r in rows],
        )
    known(sum_column)
    groups = [known(c) for c in group_by or []]
    notes = []
    for unit in ("currency", "unit"):
        if unit in names and unit not in groups and unit != sum_column:
            groups.append(unit)
            notes.append(f"grouped by {unit} too: figures with a different {unit} are never added")
    notes.append(f"{sum_column} is added as the saved query gives it (its description says what)")
    acc: dict[tuple[str, ...], list[Any]] = {}
    skipped = 0
    for r in rows:
        key = tuple(
            labels.get(str(r[g]), str(r[g])) if r[g] is not None else "(none)" for g in groups
        )
        value = r[sum_column]
        number = value.toPython() if isinstance(value, Literal) else None
        entry = acc.setdefault(key, [Decimal(0), 0])
        if isinstance(number, (int, float, Decimal)) and not isinstance(number, bool):
            entry[0] += Decimal(str(number))
            entry[1] += 1
        elif value is not None:
            skipped += 1
    if skipped:
        notes.append(f"{skipped} value(s) of {sum_column} are not numbers and were not added")
    table_rows = [
        [*[[Cell(k)] for k in key], [Cell(_number(total_), None, total_)], [Cell(str(n), None, n)]]
        for key, (total_, n) in sorted(acc.items())
    ]
    return Table([*groups, f"sum of {sum_column}", "rows added"], table_rows, notes)
