"""Read a tracker table (CSV or XLSX) faithfully, or refuse it naming the file, row and column.

A table that loses rows without a word is worse than one that is refused, so everything a reader
could silently get wrong is a refusal here, each one line ``file:row: column: what``:

- CSV encodings: UTF-8 (with or without BOM) is read as such; a file that is not UTF-8 is read
  as CP1251 when its non-ASCII letters are Cyrillic there, as Latin-1 when they are Latin letters
  there, and refused otherwise, naming the first line with a byte UTF-8 cannot read. Which one
  was used is reported (:attr:`Table.encoding`).
- A row cut short at the end of the file (no line end, fewer cells than the header), an
  unclosed quote, a row with more cells than the header: refused.
- XLSX: a second sheet that holds data, merged cells, and formulas without a stored value are
  refused (the first sheet is the table; merged cells and unsaved formulas have no value to read).
- A cell that a spreadsheet would run as a formula (starting with ``=``, ``+``, ``-``, ``@``, a
  tab or a carriage return, other than a number such as ``-5`` or ``+7``) is refused: it has no
  place in a tracker and would run when the decisions file or an export is opened.

>>> import tempfile, pathlib
>>> p = pathlib.Path(tempfile.mkdtemp()) / "t.csv"
>>> _ = p.write_bytes(("firm,region" + chr(10) + "Фуфэн,Жамбыл" + chr(10)).encode("cp1251"))
>>> t = read_table(p)
>>> t.encoding, t.rows[0].cells["firm"]
('cp1251', 'Фуфэн')
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from kzgraph.core.errors import KzgraphError


class TableError(KzgraphError):
    """A table that cannot be read without losing or inventing something."""


@dataclass
class Row:
    """One data row: its spreadsheet row number, cells by header, and the row as a CSV line."""

    number: int
    cells: dict[str, str]
    record: str


@dataclass
class Table:
    """A table read whole: header, rows (blank rows left out, counted) and how it was read."""

    path: Path
    header: list[str]
    rows: list[Row] = field(default_factory=list)
    blank_rows: int = 0
    encoding: str = "utf-8"


#: A cell a spreadsheet would run: OWASP's list of formula prefixes.
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")
_NUMBER = re.compile(r"^[+-]?\d+([.,]\d+)*([eE][+-]?\d+)?$")


def looks_like_formula(text: str) -> bool:
    """Whether a spreadsheet would take ``text`` as a formula (a signed number is not one).

    >>> looks_like_formula("=HYPERLINK(1)"), looks_like_formula("-5"), looks_like_formula("Huawei")
    (True, False, False)
    """
    return len(text) > 1 and text.startswith(FORMULA_PREFIXES) and not _NUMBER.match(text)


def neutralise(text: str) -> str:
    """A cell safe to open in a spreadsheet: a formula-looking text gets a leading apostrophe.

    >>> neutralise("=1+2"), neutralise("+cmd|' /C calc'!A0"), neutralise("-12.5"), neutralise("x")
    ("'=1+2", "'+cmd|' /C calc'!A0", '-12.5', 'x')
    """
    return "'" + text if looks_like_formula(text) else text


def record_of(cells: list[str]) -> str:
    """One row as a single CSV line (the row's quotation in the graph)."""
    out = io.StringIO()
    csv.writer(out, lineterminator="").writerow(cells)
    return out.getvalue()


def read_table(path: Path) -> Table:
    """The whole table, checked; a :class:`TableError` names the first thing that is wrong."""
    if path.suffix == ".xlsx":
        grid, encoding = _xlsx_grid(path), "xlsx"
    else:
        text, encoding = decode(path)
        grid = _csv_grid(path, text)
    if not grid:
        raise TableError(f"{path}: the table is empty (no header row)")
    header = [h.strip() for h in grid[0]]
    if any(not h for h in header):
        raise TableError(f"{path}:1: column {header.index('') + 1} has no name")
    duplicates = sorted({h for h in header if header.count(h) > 1})
    if duplicates:
        raise TableError(f"{path}:1: column {duplicates[0]!r} is named twice")
    table = Table(path, header, encoding=encoding)
    problems: list[str] = []
    for n, cells in enumerate(grid[1:], start=2):
        if not any(c.strip() for c in cells):
            table.blank_rows += 1
            continue
        if len(cells) > len(header):
            problems.append(f"{path}:{n}: row has {len(cells)} cells but the header names "
                            f"{len(header)}")  # fmt: skip
            continue
        padded = [*cells, *[""] * (len(header) - len(cells))]
        for column, cell in zip(header, padded, strict=True):
            if looks_like_formula(cell.strip()) or looks_like_formula(cell):
                problems.append(f"{path}:{n}: {column}: {cell[:40]!r} would run as a formula "
                                "in a spreadsheet; write the value itself")  # fmt: skip
        table.rows.append(Row(n, dict(zip(header, padded, strict=True)), record_of(cells)))
    if problems:
        raise TableError(_listed(path, problems))
    return table


def _listed(path: Path, problems: list[str]) -> str:
    shown = "\n  ".join(problems[:30])
    more = f"\n  … and {len(problems) - 30} more" if len(problems) > 30 else ""
    return f"{len(problems)} problem(s) in {path.name}; nothing was imported:\n  {shown}{more}"


def decode(path: Path) -> tuple[str, str]:
    """The text of a CSV file and the encoding it was read in (see the module's rules)."""
    data = path.read_bytes()
    try:
        return data.decode("utf-8-sig"), "utf-8-sig" if data.startswith(b"\xef\xbb\xbf") else (
            "utf-8"
        )
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        where = f"{path}:{line}: byte 0x{data[exc.start]:02x} is not UTF-8"
    # Both encodings put letters at 0xC0-0xFF; what tells them apart is how the letters sit:
    # Cyrillic words are runs of them, Latin words have one accented letter among ASCII ones.
    latin = _decodes(data, "latin-1") and _mostly(data.decode("latin-1"), _latin, among_ascii=True)
    if _decodes(data, "cp1251") and not latin:
        text = data.decode("cp1251")
        if _mostly(text, _cyrillic, among_ascii=False):
            return text, "cp1251"
    if latin:
        return data.decode("latin-1"), "latin-1"
    raise TableError(f"{where}, nor CP1251 or Latin-1 text: save the table as UTF-8")


def _mostly(text: str, letters: Callable[[str], bool], among_ascii: bool) -> bool:
    """Whether 80% of the non-ASCII characters are ``letters``, placed as their script places them.

    Beside ASCII letters (``among_ascii``: accented Latin) or beside each other (Cyrillic).
    """
    high = [i for i, c in enumerate(text) if ord(c) > 127]
    if not high:
        return False

    def placed(i: int) -> bool:
        near = [text[j] for j in (i - 1, i + 1) if 0 <= j < len(text)]
        ascii_near = any(c.isascii() and c.isalpha() for c in near)
        return ascii_near if among_ascii else not ascii_near

    good = sum(1 for i in high if letters(text[i]) and placed(i))
    return good / len(high) >= 0.8


def _decodes(data: bytes, encoding: str) -> bool:
    try:
        data.decode(encoding)
    except UnicodeDecodeError:
        return False
    return True


def _cyrillic(c: str) -> bool:
    return "\u0400" <= c <= "\u04ff"


def _latin(c: str) -> bool:
    return c.isalpha() and "\u00c0" <= c <= "\u024f"


def _csv_grid(path: Path, text: str) -> list[list[str]]:
    try:
        grid = list(csv.reader(io.StringIO(text, newline=""), strict=True))
    except csv.Error as exc:
        raise TableError(f"{path}: {exc} (an unclosed quote?)") from None
    if grid and text and not text.endswith(("\n", "\r")) and len(grid) > 1:
        if len(grid[-1]) < len(grid[0]):
            raise TableError(
                f"{path}:{len(grid)}: the last row has {len(grid[-1])} of {len(grid[0])} cells "
                "and no line end: the file looks cut short"
            )
    return grid


def _xlsx_grid(path: Path) -> list[list[str]]:
    try:
        import openpyxl
    except ImportError:  # pragma: no cover - a dependency
        raise TableError("reading .xlsx needs openpyxl (pip install openpyxl)") from None
    try:
        values = openpyxl.load_workbook(path, data_only=True)
        formulas = openpyxl.load_workbook(path, data_only=False)
    except Exception as exc:
        raise TableError(f"{path}: not a readable .xlsx workbook ({exc})") from None
    sheet, source = values.worksheets[0], formulas.worksheets[0]
    for other in values.worksheets[1:]:
        if any(any(v is not None for v in row) for row in other.iter_rows(values_only=True)):
            raise TableError(
                f"{path}: sheet {other.title!r} holds data too; import reads the first sheet "
                f"({sheet.title!r}) only: import it as a table of its own"
            )
    merged = list(sheet.merged_cells.ranges)
    if merged:
        raise TableError(
            f"{path}: merged cells ({', '.join(str(r) for r in merged[:5])}) in sheet "
            f"{sheet.title!r}: unmerge them and fill every cell"
        )
    grid: list[list[str]] = []
    for row, formula_row in zip(
        sheet.iter_rows(values_only=True), source.iter_rows(values_only=True), strict=False
    ):
        cells = []
        for col, (value, written) in enumerate(zip(row, formula_row, strict=False), start=1):
            if value is None and isinstance(written, str) and written.startswith("="):
                letter = openpyxl.utils.get_column_letter(col)
                raise TableError(
                    f"{path}:{len(grid) + 1}: {letter}: a formula without a stored value "
                    f"({written[:40]!r}); open and save the file in a spreadsheet program"
                )
            cells.append("" if value is None else _cell_text(value))
        grid.append(cells)
    values.close()
    formulas.close()
    while grid and not any(grid[-1]):
        grid.pop()
    return grid


def _cell_text(value: object) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)
