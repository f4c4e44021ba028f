"""Reading tracker tables: every encoding, cut-short file, extra sheet, merged cell and formula is
read faithfully or refused in one line naming file, row and column; nothing is dropped."""

from __future__ import annotations

import csv
import io
import os
from pathlib import Path

import openpyxl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kzgraph.core.tables import TableError, looks_like_formula, neutralise, read_table

NAMES = "firm,project,amount\n"


def test_utf8_with_and_without_bom_read_alike(tmp_path):
    plain = tmp_path / "a.csv"
    bom = tmp_path / "b.csv"
    text = NAMES + "Фуфэн Group,Завод,800\n"
    plain.write_bytes(text.encode("utf-8"))
    bom.write_bytes(text.encode("utf-8-sig"))
    a, b = read_table(plain), read_table(bom)
    assert [r.cells for r in a.rows] == [r.cells for r in b.rows]
    assert a.header == b.header == ["firm", "project", "amount"]
    assert (a.encoding, b.encoding) == ("utf-8", "utf-8-sig")


def test_cp1251_and_latin1_tables_are_detected_not_garbled(tmp_path):
    cyr = tmp_path / "cyr.csv"
    cyr.write_bytes((NAMES + "ТОО Жамбыл,Кукурузный завод,800\n").encode("cp1251"))
    lat = tmp_path / "lat.csv"
    lat.write_bytes((NAMES + "Société Générale,Usine à Atyraú,5\n").encode("latin-1"))
    assert read_table(cyr).rows[0].cells["firm"] == "ТОО Жамбыл"
    assert read_table(cyr).encoding == "cp1251"
    assert read_table(lat).rows[0].cells["project"] == "Usine à Atyraú"
    assert read_table(lat).encoding == "latin-1"


def test_bytes_no_encoding_explains_are_refused_naming_the_line(tmp_path):
    bad = tmp_path / "bad.csv"
    bad.write_bytes(NAMES.encode() + b"ok,ok,1\n" + bytes([0x98, 0x9F, 0x80]) + b",x,1\n")
    with pytest.raises(TableError, match=r"bad\.csv:3: byte 0x98 is not UTF-8"):
        read_table(bad)


def test_a_file_cut_short_is_refused_not_read_as_a_firm(tmp_path):
    cut = tmp_path / "cut.csv"
    cut.write_text(NAMES + "Fufeng Group,Corn plant,800\nH", encoding="utf-8")
    with pytest.raises(TableError, match=r"cut\.csv:3: the last row has 1 of 3 cells"):
        read_table(cut)


def test_an_unclosed_quote_is_refused(tmp_path):
    bad = tmp_path / "q.csv"
    bad.write_text(NAMES + 'Fufeng,"Corn plant,800\nTBEA,Solar,1\n', encoding="utf-8")
    with pytest.raises(TableError, match="unclosed quote"):
        read_table(bad)


def test_formula_cells_are_refused_with_row_and_column(tmp_path):
    bad = tmp_path / "f.csv"
    bad.write_text(
        NAMES + 'Fufeng,"=HYPERLINK(""http://x"",""y"")",800\n+cmd|calc,Plant,-5\n',
        encoding="utf-8",
    )
    with pytest.raises(TableError) as refused:
        read_table(bad)
    text = str(refused.value)
    assert "f.csv:2: project: '=HYPERLINK" in text
    assert "f.csv:3: firm: '+cmd|calc'" in text
    assert "amount" not in text  # -5 is a number, not a formula (the shapes judge its sign)


def test_the_owasp_rule_neutralises_every_prefix_and_spares_numbers():
    for prefix in ("=", "+", "-", "@", "\t", "\r"):
        assert looks_like_formula(prefix + "A1")
        assert neutralise(prefix + "A1") == "'" + prefix + "A1"
    for number in ("-5", "+7", "-1.5e3", "12"):
        assert neutralise(number) == number


def xlsx(path: Path, rows: list[list[object]], **sheets: list[list[object]]) -> Path:
    book = openpyxl.Workbook()
    sheet = book.active
    for row in rows:
        sheet.append(row)
    for title, other in sheets.items():
        extra = book.create_sheet(title)
        for row in other:
            extra.append(row)
    book.save(path)
    return path


def test_xlsx_with_data_on_a_second_sheet_is_refused(tmp_path):
    path = xlsx(
        tmp_path / "t.xlsx",
        [["firm", "project"], ["Fufeng", "Plant"]],
        More=[["firm", "project"], ["TBEA", "Solar"]],
    )
    with pytest.raises(TableError, match="sheet 'More' holds data too"):
        read_table(path)
    empty_extra = xlsx(tmp_path / "u.xlsx", [["firm", "project"], ["Fufeng", "Plant"]], Notes=[])
    assert len(read_table(empty_extra).rows) == 1


def test_xlsx_merged_cells_are_refused(tmp_path):
    path = tmp_path / "m.xlsx"
    book = openpyxl.Workbook()
    sheet = book.active
    for row in (["firm", "project"], ["Fufeng", "Plant A"], [None, "Plant B"]):
        sheet.append(row)
    sheet.merge_cells("A2:A3")
    book.save(path)
    with pytest.raises(TableError, match=r"merged cells \(A2:A3\)"):
        read_table(path)


def test_xlsx_formula_without_a_stored_value_is_refused(tmp_path):
    path = xlsx(tmp_path / "f.xlsx", [["firm", "amount"], ["Fufeng", "=1+2"]])
    # openpyxl saves the formula but no computed value, as a program that never recalculated
    with pytest.raises(TableError, match=r"f\.xlsx:2: B: a formula without a stored value"):
        read_table(path)


cell_text = st.text(
    alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"),
    max_size=12,
).filter(
    lambda c: c.strip() != "" and not looks_like_formula(c) and not looks_like_formula(c.strip())
)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.lists(cell_text, min_size=3, max_size=3), min_size=1, max_size=6))
def test_any_utf8_table_reads_back_cell_for_cell(tmp_path_factory, rows):
    path = tmp_path_factory.mktemp("t") / "t.csv"
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(["a", "b", "c"])
    writer.writerows(rows)
    path.write_bytes(out.getvalue().encode("utf-8"))
    table = read_table(path)
    assert [[r.cells[k] for k in "abc"] for r in table.rows] == rows
    assert len(table.rows) + table.blank_rows == len(rows)


def test_tables_are_not_left_open(tmp_path):
    """Reading a table twice in one process (header, then rows) leaves no file handle open."""
    path = xlsx(tmp_path / "t.xlsx", [["firm"], ["Fufeng"]])
    before = len(os.listdir("/proc/self/fd"))
    for _ in range(3):
        read_table(path)
    assert len(os.listdir("/proc/self/fd")) <= before
