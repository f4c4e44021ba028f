"""The first step of an import: every cell of a tracker table checked, or the table refused.

Each complaint names the file, row and column; nothing is written when any cell fails.
"""

from __future__ import annotations

import functools
import re
from decimal import Decimal, InvalidOperation
from pathlib import Path

import pyoxigraph as ox

from kzgraph.core.namespaces import BASE, KZ
from kzgraph.core.settings import Settings
from kzgraph.curation import mapping_checks
from kzgraph.sources.registry import (
    normalise_quote,
    records,
)

#: The columns of the shipped template, in its order.
TEMPLATE_COLUMNS = [
    "source", "quotation", "locator", "firm", "firm_country", "role", "project", "project_type",
    "region", "sector", "amount", "currency", "amount_stated", "amount_qualifier", "year", "status",
    "status_stated", "status_reading", "quantity", "quantity_unit", "quantity_measure",
    "quantity_stated", "quantity_qualifier",
]  # fmt: skip
#: Template columns a table may leave out (they came later): read as empty when absent, so a
#: tracker made with the first template imports as it did.
OPTIONAL_COLUMNS = [
    "locator", "status_reading", "quantity", "quantity_unit", "quantity_measure",
    "quantity_stated", "quantity_qualifier",
]  # fmt: skip
#: Columns kzgraph adds to the table it hands the mapping engine.
ADDED_COLUMNS = ["row", "table", "record", "amount_id", "quote_id", "quantity_id"]
#: A figure phrase kept from a source cited by reference is a few words ("$190 million"),
#: never a sentence: its text is not ours to copy.
PHRASE_WORDS = 8


def mapping_columns(mapping: Path) -> set[str]:
    """The columns a mapping reads, so a table lacking one is refused before mapping."""
    text = mapping.read_text(encoding="utf-8")
    if mapping.suffix in (".yml", ".yaml", ".yarrrml"):
        return set(mapping_checks.references(text))
    return set(re.findall(r"rml:reference\s+\"([^\"]+)\"", text)) | set(
        re.findall(r"\{([A-Za-z_][\w ]*)\}", text)
    )


#: The roles a firm can have in a project, as the ``role`` column names them.
ROLES = ("investor", "developer", "partner", "operator")


class CellChecker:
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
        self.units = {i.rsplit("/", 1)[-1] for i in _iris_under(store, f"{BASE}vocab/unit/")}
        self.measures = {i.rsplit("/", 1)[-1] for i in _iris_under(store, f"{BASE}vocab/measure/")}

    def fail(self, row: int, column: str, problem: str) -> None:
        """Note a problem naming file, row and column; the check goes on to find them all."""
        self.problems.append(f"{self.table}:{row}: column {column!r}: {problem}")

    def text_of(self, source_id: str) -> str:
        """A registered source's text, normalised once however many rows quote it."""
        if source_id not in self.texts:
            kept = self.sources[source_id].file
            assert kept is not None, "a source cited by reference has no text"
            self.texts[source_id] = normalise_quote(kept.read_text(encoding="utf-8"))
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
        words = c.get("status_stated") or c.get("status_reading")
        if words and not c.get("status"):
            self.fail(n, "status", "empty, but the row gives the status's words")
        if c.get("status") and not words:
            self.fail(n, "status_stated", "empty: give the status in the source's words")
        if c.get("quantity"):
            self._quantity(n, c)
        elif c.get("quantity_unit") or c.get("quantity_stated") or c.get("quantity_measure"):
            self.fail(n, "quantity", "empty, but the row gives a unit, measure or stated quantity")
        self._quotation(n, c)
        return c

    def _quantity(self, n: int, c: dict[str, str]) -> None:
        try:
            value = Decimal(c["quantity"])
            if not value.is_finite() or value <= 0:
                raise InvalidOperation
        except InvalidOperation:
            self.fail(n, "quantity", f"{c['quantity']!r} is not a positive number (no separators)")
        if c.get("quantity_unit", "") not in self.units:
            self.fail(
                n, "quantity_unit", f"{c.get('quantity_unit', '')!r} is not one of "
                f"{', '.join(sorted(self.units))}",
            )  # fmt: skip
        if c.get("quantity_measure", "") not in self.measures:
            self.fail(
                n, "quantity_measure", f"{c.get('quantity_measure', '')!r} is not a measure of "
                "the vocabulary (measure:…, e.g. power-capacity, jobs)",
            )  # fmt: skip
        if not c.get("quantity_stated"):
            self.fail(n, "quantity_stated", "empty: give the quantity in the source's own words")

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
        if rec.cited:
            self._cited(n, c, source_id)
            return
        for column in ("locator", "status_reading"):
            if c.get(column):
                self.fail(
                    n, column, f"{source_id} keeps its text: quote it (quotation, status_stated); "
                    f"{column} is for sources cited by reference",
                )  # fmt: skip
        if not quotation:
            self.fail(
                n, "quotation", f"empty: quote the sentence of {source_id} the row comes from"
            )
            return
        said, found = self._found(source_id, quotation)
        if not found:
            kept = rec.file.name if rec.file is not None else rec.id
            self.fail(n, "quotation", f"not found in sources/{kept}: {quotation[:60]!r}")
        for column in ("amount_stated", "status_stated", "quantity_stated"):
            if c.get(column) and normalise_quote(c[column]) not in said:
                self.fail(n, column, f"{c[column]!r} is not in the row's quotation")

    def _cited(self, n: int, c: dict[str, str], source_id: str) -> None:
        """A row citing a source by reference: a locator, short figure phrases, our own words."""
        from kzgraph.core.figures import NoFigureError, parse_stated

        if c.get("quotation"):
            self.fail(
                n, "quotation", f"{source_id} is cited by reference and keeps no text: leave "
                "quotation empty and say where the fact stands in locator, in your own words",
            )  # fmt: skip
        locator = c.get("locator", "")
        if not 10 <= len(locator) <= 200:
            self.fail(
                n, "locator", "give where in the article the fact stands, in your own words "
                f"(10 to 200 characters; {len(locator)} given)",
            )  # fmt: skip
        if c.get("status_stated"):
            self.fail(
                n, "status_stated", f"{source_id} is cited by reference: give your reading of "
                "the stage in status_reading, not the article's words",
            )  # fmt: skip
        if len(c.get("status_reading", "")) > 120:
            self.fail(n, "status_reading", "a reading of the stage is a phrase (120 characters)")
        for column, number in (("amount_stated", "amount"), ("quantity_stated", "quantity")):
            phrase = c.get(column, "")
            if not phrase:
                continue
            if len(phrase.split()) > PHRASE_WORDS:
                self.fail(
                    n, column, f"{phrase[:60]!r} is not a short figure phrase (at most "
                    f"{PHRASE_WORDS} words): keep the figure's own words, never a sentence",
                )  # fmt: skip
                continue
            try:
                said = parse_stated(phrase)
                if said != Decimal(c[number]):
                    self.fail(n, column, f"{phrase!r} says {said}, but {number} is {c[number]}")
            except (NoFigureError, InvalidOperation):
                self.fail(n, column, f"{phrase!r} gives no figure kzgraph can read")

    def _found(self, source_id: str, quotation: str) -> tuple[str, bool]:
        """The quotation normalised, and whether the source says it; rows repeat quotations."""
        key = (source_id, quotation)
        known = self.quoted.get(key)
        if known is None:
            said = normalised(quotation)
            known = self.quoted[key] = (said, said in self.text_of(source_id))
        return known


#: The quotation normalisation, remembered: a tracker's rows quote the same sentences again and
#: again, and both the cell checks and the assembly compare every row's quotation.
normalised = functools.lru_cache(maxsize=1 << 16)(normalise_quote)


def _iris_under(store: ox.Store, prefix: str) -> set[str]:
    query = f'SELECT DISTINCT ?s WHERE {{ ?s ?p ?o FILTER(STRSTARTS(STR(?s), "{prefix}")) }}'
    return {row["s"].value for row in store.query(query)}  # type: ignore[union-attr]


def _subclasses(store: ox.Store, cls: str) -> set[str]:
    query = (
        "SELECT ?c WHERE { ?c <http://www.w3.org/2000/01/rdf-schema#subClassOf>* "
        f"<{cls}> FILTER(isIRI(?c)) }}"
    )
    return {row["c"].value for row in store.query(query)}  # type: ignore[union-attr]


def row_order(problem: str) -> tuple[int, str]:
    """Problems in row order: ``file:row: ...``."""
    match = re.search(r":(\d+): ", problem)
    return (int(match.group(1)) if match else 0, problem)
