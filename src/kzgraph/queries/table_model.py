"""What a table over a class is made of: columns named from the shapes, cells, renderings.

The model :mod:`.class_table` fills: :class:`Schema` reads which properties a class has (from
the shapes, and from the data), :class:`Column` is one named path, :class:`Table` holds the
cells and writes them as an aligned table, CSV, JSON or XLSX.

>>> parse_path("amount/currency")
[('amount', False), ('currency', False)]
>>> parse_path("^investor/label")
[('investor', True), ('label', False)]
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from difflib import get_close_matches
from typing import Any

from rdflib import BNode, Graph, URIRef
from rdflib.namespace import RDF, RDFS, SH

from kzgraph.core.errors import KzgraphError
from kzgraph.core.namespaces import PREFIXES, class_by_name, curie
from kzgraph.queries.running import Store

KZ = "https://w3id.org/kzgraph/ontology#"
TRANCHE = "https://w3id.org/kzgraph/vocab/measure/investment-tranche"
#: Qualifiers that state a figure exactly ("total investment stands at ..."); any other hedges it.
EXACT_QUALIFIERS = {"total"}
FORMATS = ("table", "csv", "json", "xlsx")


class TableError(KzgraphError):
    """A table that cannot be made as asked: an unknown class or column, a bad filter."""


def parse_path(text: str) -> list[tuple[str, bool]]:
    """Steps of a column path: (name, backwards?) for each ``/``-separated step."""
    steps = []
    for raw in text.strip().split("/"):
        step = raw.strip()
        inverse = step.startswith("^")
        step = step.lstrip("^").strip()
        if not step:
            raise TableError(f"column {text!r}: an empty step")
        steps.append((step, inverse))
    return steps


def expand_name(name: str) -> str | None:
    """An IRI for a CURIE or IRI as written, else None (a plain name)."""
    if name.startswith(("http://", "https://", "urn:")):
        return name
    prefix, sep, local = name.partition(":")
    if sep and prefix in PREFIXES:
        return PREFIXES[prefix] + local
    return None


@dataclass
class Column:
    """A property a class has: its IRI, direction, what shape declares it, what it points to."""

    iri: str
    name: str
    label: str
    inverse: bool = False
    declared_by: str | None = None
    points_to: str | None = None

    def sparql(self) -> str:
        """The step as a SPARQL path element."""
        return f"^<{self.iri}>" if self.inverse else f"<{self.iri}>"


@dataclass
class Schema:
    """The classes, their labels, hierarchy and the columns the shapes and the data give them."""

    store: Store
    shapes: Graph
    labels: Mapping[str, str]
    supers: dict[str, set[str]] = field(default_factory=dict)

    @classmethod
    def read(cls, store: Store, shapes: Graph, labels: Mapping[Any, str]) -> Schema:
        """The schema of ``store``'s data under ``shapes``, with the class hierarchy read once."""
        schema = cls(store, shapes, {str(k): v for k, v in labels.items()})
        for sub, sup in store.query(
            "SELECT DISTINCT ?sub ?super WHERE "
            "{ ?sub rdfs:subClassOf+ ?super FILTER(isIRI(?super)) }"
        ).rows:
            schema.supers.setdefault(str(sub), set()).add(str(sup))
        return schema

    def classes(self) -> dict[str, str]:
        """Every class the ontology declares, or one the data types with: IRI → label."""
        found = {
            str(c): self.labels.get(str(c), curie(str(c)))
            for (c,) in self.store.query(
                "SELECT DISTINCT ?c WHERE { { ?c a owl:Class } UNION { ?x a ?c } "
                "FILTER(isIRI(?c)) }"
            ).rows
            if c is not None
        }
        return found

    def resolve_class(self, name: str) -> str:
        """A class IRI for ``Project``, ``kz:Project``, an IRI or a label; refused with hints."""
        known = self.classes()
        iri = expand_name(name)
        if iri is not None:
            if iri in known:
                return iri
            raise TableError(f"no class {name!r} in the ontology or the data")
        found, near = class_by_name(name, known)
        if found is not None:
            return found
        hint = f"; did you mean {', '.join(repr(n) for n in near)}?" if near else ""
        raise TableError(f"no class named {name!r}{hint}")

    def _shape_columns(self, cls: str) -> list[Column]:
        classes = {cls, *self.supers.get(cls, set())}
        shapes = self.shapes
        found: list[Column] = []
        for shape in {s for c in classes for s in shapes.subjects(SH.targetClass, URIRef(c))} | {
            URIRef(c) for c in classes if (URIRef(c), RDF.type, SH.NodeShape) in shapes
        }:
            for prop in _property_shapes(shapes, shape):
                path = shapes.value(prop, SH.path)
                inverse = False
                if isinstance(path, BNode):
                    back = shapes.value(path, SH.inversePath)
                    if not isinstance(back, URIRef):
                        continue  # a sequence or alternative path: not a column
                    path, inverse = back, True
                if not isinstance(path, URIRef):
                    continue
                target = shapes.value(prop, SH["class"])
                found.append(
                    self._column(str(path), inverse, curie(str(shape)), target and str(target))
                )
        return found

    def _column(
        self, iri: str, inverse: bool, declared_by: str | None, points_to: str | None
    ) -> Column:
        local = re.split(r"[#/]", iri)[-1]
        label = self.labels.get(iri, local)
        return Column(iri, ("^" if inverse else "") + local, label, inverse, declared_by, points_to)

    def columns_of(self, cls: str) -> list[Column]:
        """The columns a class offers: its shapes' paths first, then what its instances use."""
        columns: dict[tuple[str, bool], Column] = {}
        columns[(str(RDFS.label), False)] = self._column(str(RDFS.label), False, None, None)
        for c in self._shape_columns(cls):
            columns.setdefault((c.iri, c.inverse), c)
        used = self.store.query(
            f"SELECT DISTINCT ?p WHERE {{ ?s a/rdfs:subClassOf* <{cls}> ; ?p ?o }}"
        ).rows
        for (p,) in used:
            if p is not None and (str(p), False) not in columns and str(p) != str(RDF.type):
                columns[(str(p), False)] = self._column(str(p), False, None, None)
        # what points at the class's instances: ^investor on a company names its projects
        used_back = self.store.query(
            f"SELECT DISTINCT ?p WHERE {{ ?s a/rdfs:subClassOf* <{cls}> . ?o ?p ?s }}"
        ).rows
        for (p,) in used_back:
            if p is not None and (str(p), True) not in columns:
                columns[(str(p), True)] = self._column(str(p), True, None, None)
        return list(columns.values())

    def resolve_column(self, cls: str, text: str) -> list[Column]:
        """The steps of a column path, each resolved on the class the step before points to."""
        steps: list[Column] = []
        here: str | None = cls
        for name, inverse in parse_path(text):
            iri = expand_name(name)
            offered = self.columns_of(here) if here else []
            match: Column | None = None
            if iri is not None:
                match = next((c for c in offered if c.iri == iri and c.inverse == inverse), None)
                match = match or self._column(iri, inverse, None, None)
            else:
                for c in offered:
                    if c.inverse == inverse and name.lower() in (
                        c.name.lstrip("^").lower(),
                        c.label.lower(),
                    ):
                        match = c
                        break
            if match is None:
                names = sorted({c.name for c in offered})
                near = get_close_matches(("^" if inverse else "") + name, names, n=3, cutoff=0.5)
                where = self.labels.get(here or "", curie(here or ""))
                hint = f"; did you mean {', '.join(repr(n) for n in near)}?" if near else ""
                raise TableError(
                    f"column {text!r}: {where} has no property {name!r}{hint} "
                    f"(kzgraph table {curie(cls)} --list-columns lists them)"
                )
            steps.append(match)
            here = match.points_to
        return steps


def _property_shapes(shapes: Graph, shape: Any) -> Iterable[Any]:
    """The property shapes of a node shape, including those inside sh:or / sh:and / sh:xone."""
    yield from shapes.objects(shape, SH.property)
    for logic in (SH["or"], SH["and"], SH.xone):
        for head in shapes.objects(shape, logic):
            for member in shapes.items(head):
                if (member, SH.path, None) in shapes:
                    yield member
                yield from shapes.objects(member, SH.property)


@dataclass
class Cell:
    """One value in a cell: what is shown, and the IRI when the value is an entity."""

    text: str
    iri: str | None = None
    value: Any = None

    def as_json(self) -> Any:
        """An entity as {label, iri}; a number as a number; other text as text."""
        if self.iri is not None:
            return {"label": self.text, "iri": self.iri}
        return self.value if self.value is not None else self.text


@dataclass
class Table:
    """Named columns and rows of cells (each cell a list of values)."""

    columns: list[str]
    rows: list[list[list[Cell]]]
    #: one line per thing a reader should know: what was not added, and why
    notes: list[str] = field(default_factory=list)

    def text_rows(self, iris: bool = False) -> list[list[str]]:
        """Each cell as one string, several values joined with "; " (IRIs instead of labels)."""
        return [
            ["; ".join((v.iri if iris and v.iri else v.text) for v in cell) for cell in row]
            for row in self.rows
        ]

    def write(self, fmt: str, iris: bool = False) -> bytes:
        """The table as ``table`` (aligned text), ``csv``, ``json`` or ``xlsx`` bytes."""
        if fmt == "json":
            return json.dumps(
                {
                    "columns": self.columns,
                    "rows": [
                        {
                            name: [v.as_json() for v in cell]
                            for name, cell in zip(self.columns, row, strict=True)
                        }
                        for row in self.rows
                    ],
                    "notes": self.notes,
                },
                ensure_ascii=False,
                indent=1,
                default=str,
            ).encode()
        texts = self.text_rows(iris)
        if fmt == "csv":
            out = io.StringIO()
            writer = csv.writer(out, lineterminator="\n")
            writer.writerow(self.columns)
            writer.writerows(texts)
            return out.getvalue().encode()
        if fmt == "xlsx":
            return _xlsx(self, texts)
        if fmt == "table":
            return _aligned(self.columns, texts, self.notes).encode()
        raise TableError(f"format must be one of {', '.join(FORMATS)}, not {fmt!r}")


def _aligned(columns: list[str], rows: list[list[str]], notes: list[str]) -> str:
    widths = [len(c) for c in columns]
    shown = [[v if len(v) <= 60 else v[:59] + "…" for v in row] for row in rows]
    for row in shown:
        widths = [max(w, len(v)) for w, v in zip(widths, row, strict=True)]
    lines = ["  ".join(c.ljust(w) for c, w in zip(columns, widths, strict=True)).rstrip()]
    lines.append("  ".join("-" * w for w in widths))
    lines += ["  ".join(v.ljust(w) for v, w in zip(r, widths, strict=True)).rstrip() for r in shown]
    lines += [f"note: {n}" for n in notes]
    return "\n".join(lines) + "\n"


def _xlsx(table: Table, texts: list[list[str]]) -> bytes:
    from openpyxl import Workbook

    book = Workbook()
    sheet = book.active
    sheet.title = "table"
    sheet.append(table.columns)
    for row, text in zip(table.rows, texts, strict=True):
        # a single number stays a number; text that a spreadsheet would run is kept as text
        out: list[Any] = []
        for cell, shown in zip(row, text, strict=True):
            if len(cell) == 1 and isinstance(cell[0].value, (int, float, Decimal)):
                out.append(float(cell[0].value))
            else:
                out.append(("'" + shown) if shown[:1] in ("=", "+", "-", "@") else shown)
        sheet.append(out)
    if table.notes:
        notes = book.create_sheet("notes")
        for note in table.notes:
            notes.append([note])
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()
