r"""Cell checks derived from a mapping, so a user's own mapping gets them as the shipped one does.

A YARRRML mapping says what each column becomes: ``[kz:value, $(Amount), xsd:decimal]`` makes
the cells of *Amount* decimals, ``https://w3id.org/kzgraph/id/currency/$(Cur)~iri`` makes the
cells of *Cur* currency codes the graph knows, and a subject template ``…:company:$(Firm)`` makes
*Firm* the name of an entity. From that, every cell is checked before anything is mapped, and a
problem is one line ``file:row: column 'name': what``:

- a typed literal's cell must be a valid lexical form of its datatype (``1,2 billion`` and
  ``n/a`` are not decimals, ``20255`` is not a year);
- a cell that completes a kzgraph IRI of a known kind (currency, country) must name one that
  the graph has;
- a row whose every entity-naming column is empty makes nothing, and one that fills a fact of
  an entity whose naming column is empty would lose it: both are refused rather than dropped.

Column names may hold any character: a reference is read to its matching parenthesis, and
``\(`` / ``\)`` are literal parentheses (YARRRML's escape).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal, InvalidOperation
from pathlib import Path

import yaml

from kzgraph.core.errors import KzgraphError
from kzgraph.core.namespaces import BASE


def references(template: str) -> list[str]:
    r"""The column names a YARRRML template reads, in order.

    >>> references("urn:x:$(Amount (USD))/$(a\\)b)")
    ['Amount (USD)', 'a)b']
    """
    found: list[str] = []
    i = 0
    while True:
        start = template.find("$(", i)
        if start < 0:
            return found
        depth, j, name = 1, start + 2, []
        while j < len(template):
            c = template[j]
            if c == "\\" and j + 1 < len(template) and template[j + 1] in "()":
                name.append(template[j + 1])
                j += 2
                continue
            if c == "(":
                depth += 1
            elif c == ")":
                depth -= 1
                if depth == 0:
                    break
            name.append(c)
            j += 1
        if depth:
            raise KzgraphError(f"unclosed column reference in {template!r}")
        found.append("".join(name))
        i = j + 1


@dataclass
class ColumnRule:
    """What the mapping makes of one column."""

    datatypes: set[str] = field(default_factory=set)  # xsd names, e.g. "decimal"
    iri_kinds: set[str] = field(default_factory=set)  # kzgraph id kinds, e.g. "currency"


@dataclass(frozen=True)
class Subject:
    """One mapping's subject: the columns naming it and those its facts read.

    ``entity``: whether the mapping types its subject (an entity, which a row exists to name).
    """

    columns: list[str]
    facts: set[str]
    entity: bool


@dataclass
class MappingRules:
    """Every column's rule, and every mapping's subject."""

    columns: dict[str, ColumnRule] = field(default_factory=dict)
    subjects: list[Subject] = field(default_factory=list)

    def rule(self, column: str) -> ColumnRule:
        """The rule of ``column``, made empty on first use."""
        return self.columns.setdefault(column, ColumnRule())

    @property
    def entity_groups(self) -> list[list[str]]:
        """The columns naming each entity a row can make."""
        return [s.columns for s in self.subjects if s.entity]


_XSD = "http://www.w3.org/2001/XMLSchema#"


def rules_of(mapping: Path) -> MappingRules:
    """The column rules of a YARRRML mapping (an RML one gives no typed rules)."""
    rules = MappingRules()
    if mapping.suffix not in (".yml", ".yaml", ".yarrrml"):
        return rules
    try:
        doc = yaml.safe_load(mapping.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as exc:
        raise KzgraphError(f"{mapping}: not YAML ({exc})") from None
    prefixes = {**(doc.get("prefixes") or {}), "xsd": _XSD}
    for body in (doc.get("mappings") or {}).values():
        if not isinstance(body, dict):
            continue
        subject = str(body.get("s") or body.get("subject") or "")
        columns = references(subject)
        fact_columns: set[str] = set()
        for entry in body.get("po") or body.get("predicateobjects") or []:
            if not isinstance(entry, list) or len(entry) < 2:
                continue
            obj = str(entry[1])
            datatype = str(entry[2]) if len(entry) > 2 else ""
            cols = references(obj)
            fact_columns.update(cols)
            if obj.endswith("~iri"):
                kind = _kzgraph_kind(obj)
                if kind is not None and len(cols) == 1:
                    rules.rule(cols[0]).iri_kinds.add(kind)
            elif datatype and len(cols) == 1 and obj.strip() == f"$({_escaped(cols[0])})":
                expanded = _expand(datatype, prefixes)
                if expanded.startswith(_XSD):
                    rules.rule(cols[0]).datatypes.add(expanded.removeprefix(_XSD))
        if columns:
            facts = fact_columns - set(columns)
            rules.subjects.append(Subject(columns, facts, _makes_entity(body)))
    return rules


def _escaped(column: str) -> str:
    out = []
    depth = 0
    for c in column:
        if c == "(":
            depth += 1
        elif c == ")":
            if depth == 0:
                out.append("\\")
            else:
                depth -= 1
        out.append(c)
    return "".join(out)


def _makes_entity(body: dict[str, object]) -> bool:
    """A mapping that types its subject makes an entity (rows, quotes and amounts do too)."""
    for entry in body.get("po") or []:  # type: ignore[attr-defined]
        if isinstance(entry, list) and entry and str(entry[0]) in ("a", "rdf:type"):
            return True
    return False


def _kzgraph_kind(template: str) -> str | None:
    match = re.match(re.escape(f"{BASE}id/") + r"([a-z-]+)/\$\(", template)
    return match.group(1) if match else None


def _expand(term: str, prefixes: dict[str, str]) -> str:
    prefix, _, local = term.partition(":")
    return prefixes[prefix] + local if prefix in prefixes and not local.startswith("//") else term


_GYEAR = re.compile(r"^-?\d{4}$")


def lexical_problem(datatype: str, cell: str) -> str | None:
    """Why ``cell`` is not a valid ``xsd:datatype`` value, or None when it is.

    >>> lexical_problem("decimal", "1,2 billion"), lexical_problem("gYear", "20255")
    ('not a decimal number (digits, one point, no separators)', 'not a year (YYYY)')
    """
    if datatype in ("decimal", "double", "float"):
        try:
            value = Decimal(cell)
        except InvalidOperation:
            return "not a decimal number (digits, one point, no separators)"
        return None if value.is_finite() else "not a finite number"
    if datatype in ("integer", "int", "long", "nonNegativeInteger", "positiveInteger"):
        if not re.fullmatch(r"[+-]?\d+", cell):
            return "not a whole number"
        if datatype in ("nonNegativeInteger", "positiveInteger") and int(cell) < (
            1 if datatype == "positiveInteger" else 0
        ):
            return "below the type's range"
        return None
    if datatype == "gYear":
        return None if _GYEAR.match(cell) else "not a year (YYYY)"
    if datatype == "date":
        try:
            date.fromisoformat(cell)
        except ValueError:
            return "not a date (YYYY-MM-DD)"
        return None
    if datatype == "boolean":
        return None if cell in ("true", "false", "1", "0") else "not true or false"
    return None


def check_rows(
    table: Path,
    rows: list[tuple[int, dict[str, str]]],
    rules: MappingRules,
    known: dict[str, set[str]],
) -> list[str]:
    """Every cell problem of ``rows`` under ``rules``; ``known`` holds IRIs per kzgraph kind."""
    problems: list[str] = []
    for n, cells in rows:
        for column, rule in rules.columns.items():
            cell = (cells.get(column) or "").strip()
            if not cell:
                continue
            for datatype in sorted(rule.datatypes):
                why = lexical_problem(datatype, cell)
                if why:
                    problems.append(f"{table}:{n}: column {column!r}: {cell[:40]!r} is {why}")
            for kind in sorted(rule.iri_kinds):
                if kind in known and f"{BASE}id/{kind}/{cell}" not in known[kind]:
                    problems.append(
                        f"{table}:{n}: column {column!r}: {cell!r} is not a {kind} the graph has"
                    )
        for subject in rules.subjects:
            empty = [c for c in subject.columns if not (cells.get(c) or "").strip()]
            filled = sorted(c for c in subject.facts if (cells.get(c) or "").strip())
            if empty and filled:
                problems.append(
                    f"{table}:{n}: column {empty[0]!r}: empty, but {', '.join(map(repr, filled))} "
                    "states something about it: the row's facts would be lost"
                )
        if rules.entity_groups and not any(
            all((cells.get(c) or "").strip() for c in group) for group in rules.entity_groups
        ):
            named = sorted({c for g in rules.entity_groups for c in g})
            problems.append(
                f"{table}:{n}: column(s) {', '.join(map(repr, named))}: all empty, so the row "
                "makes nothing; fill them or delete the row"
            )
    return problems
