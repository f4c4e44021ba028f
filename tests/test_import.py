"""`kzgraph import` end to end, with the real mapping engine (morph-kgc) on copies of the project:
the worked example reproduces the seeds' investment facts into an empty graph and adds nothing to
the full one; ambiguous names wait for a reviewer; conflicting figures are kept side by side; bad
cells and dry runs write nothing."""

from __future__ import annotations

import csv
import hashlib
import os
import shutil
import subprocess
import sys
from decimal import Decimal
from pathlib import Path
from urllib.parse import quote

import pytest
from hypothesis import given
from hypothesis import strategies as st
from rdflib import RDFS, Dataset, URIRef

from kzgraph.core.errors import KzgraphError
from kzgraph.core.settings import Settings
from kzgraph.curation import reconcile
from kzgraph.curation.import_checks import TEMPLATE_COLUMNS
from kzgraph.curation.importing import import_table
from kzgraph.graph.loading import load
from kzgraph.queries.running import run_saved
from kzgraph.sources.registry import normalise_quote, records, register
from kzgraph.validation.lint import ERROR, lint
from kzgraph.validation.report import validate

from .conftest import ROOT  # the seeded project: the import tests read what the seeds say

EXAMPLE = ROOT / "examples" / "seed-investments.csv"
FUFENG = "https://w3id.org/kzgraph/id/project/fufeng-corn-processing-plant"


def copy_project(tmp_path: Path, *, seeds: bool = True) -> Path:
    root = tmp_path / "project"
    for folder in ("ontology", "graph", "queries", "sources", "mappings"):
        shutil.copytree(ROOT / folder, root / folder)
    (root / ".tools").symlink_to(ROOT / ".tools")
    if not seeds:
        shutil.rmtree(root / "graph" / "seed")
    return root


def tree_digest(root: Path) -> str:
    digest = hashlib.sha256()
    for path in sorted(p for p in root.rglob("*") if p.is_file() and ".tools" not in p.parts):
        digest.update(str(path.relative_to(root)).encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()


def example_rows() -> list[dict[str, str]]:
    with EXAMPLE.open(encoding="utf-8", newline="") as f:
        return list(csv.DictReader(f))


INVESTMENTS = """
PREFIX kz: <https://w3id.org/kzgraph/ontology#>
PREFIX rdfs: <http://www.w3.org/2000/01/rdf-schema#>
PREFIX measure: <https://w3id.org/kzgraph/vocab/measure/>
SELECT ?firm ?role ?project ?type ?region ?sector ?status ?statusAs ?value ?currency ?statedAs ?qualifier
WHERE {
  VALUES ?role { kz:investor kz:developer kz:partner }
  ?p ?role ?f ; rdfs:label ?project ; a ?type ; kz:amount ?a .
  ?f rdfs:label ?firm .
  ?a kz:measure measure:investment ; kz:value ?value ; kz:currency ?currency ; kz:statedAs ?statedAs .
  OPTIONAL { ?a kz:qualifier ?qualifier }
  OPTIONAL { ?p kz:region ?region }
  OPTIONAL { ?p kz:sector ?sector }
  OPTIONAL { ?p kz:status ?status OPTIONAL { ?p kz:statusStatedAs ?statusAs } }
  FILTER(STRSTARTS(STR(?type), STR(kz:)))
}"""


def investment_facts(ds: Dataset, projects: set[str]) -> set[tuple[object, ...]]:
    rows = set()
    for row in ds.query(INVESTMENTS):
        values = [None if v is None else str(v) for v in row]
        if values[2] in projects:
            values[8] = Decimal(values[8])  # 8E8 and 800000000.0 are the same figure
            rows.add(tuple(values))
    return rows


def test_the_worked_example_cites_its_articles_verbatim():
    texts = {
        r.id: normalise_quote(r.file.read_text(encoding="utf-8"))
        for r in records()
        if not r.is_table
    }
    for n, row in enumerate(example_rows(), start=2):
        quote = normalise_quote(row["quotation"])
        assert quote in texts[row["source"]], f"row {n}: quotation not in {row['source']}"
        for column in ("amount_stated", "status_stated"):
            assert normalise_quote(row[column]) in quote, f"row {n}: {column} not in its quotation"


def test_worked_example_into_an_empty_graph_reproduces_the_seeded_investments(tmp_path, dataset):
    root = copy_project(tmp_path, seeds=False)
    settings = Settings.discover(root)
    result = import_table(EXAMPLE, settings, decisions=root / "decisions.csv")
    assert result.report.conforms, result.summary()
    assert {r.outcome for r in result.rows} == {"new"}
    assert len(result.rows) == len(example_rows())
    projects = {row["project"] for row in example_rows()}
    imported = investment_facts(load(settings), projects)
    seeded = investment_facts(dataset, projects)
    assert len(seeded) == len(example_rows())
    assert imported == seeded
    # every fact cites the row it came from and the article sentence; lint checks both
    assert not [f for f in lint(settings) if f.severity == ERROR]
    assert validate(settings).conforms
    graph_file = root / "graph" / "documents" / f"{result.source_id}.trig"
    assert graph_file.exists() and (root / "sources" / f"{result.source_id}.csv").exists()


def test_worked_example_into_the_full_graph_matches_every_row_and_adds_nothing(tmp_path):
    root = copy_project(tmp_path)
    before = tree_digest(root)
    result = import_table(EXAMPLE, Settings.discover(root), decisions=root / "decisions.csv")
    assert [r.outcome for r in result.rows] == ["matched"] * len(example_rows())
    assert result.added == 0 and all(r.added == 0 for r in result.rows)
    assert result.written == []
    assert tree_digest(root) == before


def test_dry_run_reports_diffs_and_validates_but_writes_nothing(tmp_path):
    root = copy_project(tmp_path, seeds=False)
    before = tree_digest(root)
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "kzgraph",
            "--root",
            str(root),
            "import",
            str(EXAMPLE),
            "--dry-run",
            "--diff-lines",
            "1000",
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    assert f"rows: 0 matched, {len(example_rows())} new, 0 held" in done.stdout
    assert "validation: conforms" in done.stdout
    assert "facts: " in done.stdout and " added, 0 removed" in done.stdout
    added = [line for line in done.stdout.splitlines() if line.startswith("    + ")]
    assert any("company:fufeng-group" in line and "rdfs:label" in line for line in added), added[:5]
    assert "dry run: nothing written" in done.stdout
    assert tree_digest(root) == before


def write_table(path: Path, rows: list[dict[str, str]]) -> Path:
    with path.open("w", encoding="utf-8", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=TEMPLATE_COLUMNS)
        writer.writeheader()
        for row in rows:
            writer.writerow({c: row.get(c, "") for c in TEMPLATE_COLUMNS})
    return path


def fufeng_row(**changes: str) -> dict[str, str]:
    row = next(r for r in example_rows() if r["firm"] == "Fufeng Group")
    return {**row, **changes}


def test_a_firm_whose_country_contradicts_the_graph_is_held_until_decided(tmp_path):
    root = copy_project(tmp_path)
    settings = Settings.discover(root)
    table = write_table(tmp_path / "t.csv", [fufeng_row(firm_country="KZ")])
    decisions = tmp_path / "t.decisions.csv"
    before = tree_digest(root)
    held = import_table(table, settings, decisions=decisions)
    assert [r.outcome for r in held.rows] == ["held"]
    res = next(r for r in held.resolutions.values() if r.kind == "company")
    assert res.outcome == "ambiguous" and "headquartersCountry" in res.reason
    assert res.candidates == ["https://w3id.org/kzgraph/id/company/fufeng-group"]
    assert tree_digest(root) == before  # nothing merged
    with decisions.open(encoding="utf-8") as f:
        pending = list(csv.DictReader(f))
    assert [(p["kind"], p["name"], p["decision"], p["rows"]) for p in pending] == [
        ("company", "Fufeng Group", "", "2")
    ]
    # the reviewer decides it is a different firm with the same name
    pending[0]["decision"] = "new"
    with decisions.open("w", encoding="utf-8", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(pending[0]))
        writer.writeheader()
        writer.writerows(pending)
    done = import_table(table, settings, decisions=decisions)
    assert [r.outcome for r in done.rows] == ["new"]
    company = next(r for r in done.resolutions.values() if r.kind == "company")
    assert company.decided and company.iri == "https://w3id.org/kzgraph/id/company/fufeng-group-2"


def test_a_name_two_entities_share_is_ambiguous_and_a_decision_matches_it(tmp_path):
    root = copy_project(tmp_path)
    settings = Settings.discover(root)
    # a second firm that an article also calls "TBEA" (made up for this test, in a copy)
    extra = root / "graph" / "documents"
    extra.mkdir(parents=True, exist_ok=True)
    (extra / "twin.trig").write_text(
        """@prefix kz: <https://w3id.org/kzgraph/ontology#> .
@prefix skos: <http://www.w3.org/2004/02/skos/core#> .
@prefix rdfs: <http://www.w3.org/2000/01/rdf-schema#> .
<https://w3id.org/kzgraph/graph/twin> {
  <https://w3id.org/kzgraph/id/company/tbea-twin> a kz:Company ; rdfs:label "TBEA Twin"@en ;
      skos:altLabel "TBEA Company Limited"@en .
}
""",
        encoding="utf-8",
    )
    row = next(r for r in example_rows() if r["firm"] == "TBEA Company Limited")
    table = write_table(tmp_path / "t.csv", [row])
    decisions = tmp_path / "t.decisions.csv"
    held = import_table(table, settings, decisions=decisions)
    company = next(r for r in held.resolutions.values() if r.kind == "company")
    assert company.outcome == "ambiguous" and len(company.candidates) == 2
    assert held.rows[0].outcome == "held"
    decisions.write_text(
        "kind,name,decision\ncompany,TBEA Company Limited,company:tbea\n", encoding="utf-8"
    )
    done = import_table(table, settings, decisions=decisions)
    assert done.rows[0].outcome == "matched" and done.added == 0


def test_a_differing_figure_becomes_a_second_amount_with_its_own_source(tmp_path):
    root = copy_project(tmp_path)
    settings = Settings.discover(root)
    # a made-up report (in this copy only) that states another figure for the same plant
    article = tmp_path / "report.txt"
    sentence = (
        "Fufeng Group now expects to invest $900 million in its corn plant in the Zhambyl region."
    )
    article.write_text(f"Fufeng revises its plan\n\n{sentence}\n", encoding="utf-8")
    reg = register(article, settings, description="A test report.", graph_file=False)
    table = write_table(
        tmp_path / "t.csv",
        [fufeng_row(source=reg.record.id, quotation=sentence, amount="900000000",
                    amount_stated="$900 million", status="planned",
                    status_stated="expects to invest")],
    )  # fmt: skip
    result = import_table(table, settings, decisions=tmp_path / "d.csv")
    assert result.report.conforms, result.summary()
    assert [r.outcome for r in result.rows] == ["matched"] and result.added > 0
    ds = load(settings)
    amounts = ds.query(
        """PREFIX kz: <https://w3id.org/kzgraph/ontology#>
           PREFIX prov: <http://www.w3.org/ns/prov#>
           SELECT ?value ?src WHERE {
             ?p kz:amount ?a . ?a kz:value ?value .
             OPTIONAL { ?a prov:qualifiedDerivation/prov:entity ?src
                        FILTER NOT EXISTS { ?src kz:fileName ?f FILTER(STRENDS(?f, ".csv")) } }
           }""",
        initBindings={"p": URIRef(FUFENG)},
    )
    found = {
        (Decimal(str(v)), None if s is None else str(s).rsplit("/", 1)[-1]) for v, s in amounts
    }
    assert found == {(Decimal(800000000), None), (Decimal(900000000), reg.record.id)}
    # the graph's status stays; the report's is a second statement with its source
    statuses = ds.query(
        """PREFIX kz: <https://w3id.org/kzgraph/ontology#>
           SELECT ?s WHERE { ?p kz:statusStatement ?st . ?st kz:statusStatedAs "expects to invest" ; kz:status ?s }""",
        initBindings={"p": URIRef(FUFENG)},
    )
    assert [str(s).rsplit("/", 1)[-1] for (s,) in statuses] == ["planned"]
    # the analyst's saved query lists both amounts, each with the article it comes from (the
    # report the row quotes, not the table that carried the row)
    conflicts = run_saved("conflicts-and-revisions", settings=settings).dicts()
    pairs = {
        (str(r["statedAs"]), str(r["file"]))
        for r in conflicts
        if str(r["subject"]) == FUFENG and str(r["kind"]) == "different amounts"
    }
    assert pairs == {
        ("$800 million", "002_97890c3330489398.txt"),
        ("$900 million", reg.record.file.name),
    }
    # and no total adds them: Fufeng's plant is listed as conflicting, outside both sums
    # (before: 1.7 billion, the two figures summed)
    before = {
        (str(r["firm"]), str(r["currency"])): r
        for r in run_saved("investment-total-by-firm", settings=Settings.discover(ROOT)).dicts()
    }
    fufeng_firm = "https://w3id.org/kzgraph/id/company/fufeng-group"
    for name in ("investment-total-by-firm", "investment-total-by-region",
                 "investment-total-by-sector", "investment-total-by-currency"):  # fmt: skip
        rows = run_saved(name, settings=settings).dicts()
        usd = [r for r in rows if str(r["currency"]) == "USD"]
        conflicting = " | ".join(str(r.get("conflicting") or "") for r in usd)
        assert "Fufeng Group corn processing plant in Zhambyl Region: " in conflicting, name
        assert "$800 million" in conflicting and "$900 million" in conflicting, name
        for r in usd:
            assert "Fufeng Group corn" not in str(r.get("contributing") or ""), name
    firm_rows = {
        (str(r["firm"]), str(r["currency"])): r
        for r in run_saved("investment-total-by-firm", settings=settings).dicts()
    }
    # the firm's profile shows each figure under the source that states it, and no other
    profile = run_saved("firm-profile", {"firm": fufeng_firm}, settings=settings).dicts()
    shown = {
        (str(r["investment"]), str(r["file"]))
        for r in profile
        if r.get("investment") is not None and str(r["other"]) == FUFENG
    }
    assert shown == {
        ("$800 million", "002_97890c3330489398.txt"),
        ("$900 million", f"{result.source_id}.csv"),
    }
    fufeng = firm_rows[(fufeng_firm, "USD")]
    assert fufeng["total"] is None  # its only project's figures disagree: nothing is added
    assert Decimal(str(before[(fufeng_firm, "USD")]["total"])) == Decimal(800000000)
    assert validate(settings).conforms
    assert not [f for f in lint(settings) if f.severity == ERROR]


BAD_CELLS = [
    ({"amount": "8OO"}, "column 'amount': '8OO' is not a positive number"),
    ({"currency": "usd"}, "column 'currency': 'usd' is not an ISO 4217 code"),
    (
        {"source": "999_0000000000000000"},
        "column 'source': '999_0000000000000000' is not registered",
    ),
    (
        {"quotation": "Fufeng Group plans to invest $8 billion."},
        "column 'quotation': not found in sources/",
    ),
    (
        {"amount_stated": "$801 million"},
        "column 'amount_stated': '$801 million' is not in the row's quotation",
    ),
    ({"role": "owner"}, "column 'role': 'owner' is not one of"),
    (
        {"project_type": "Spaceport"},
        "column 'project_type': 'Spaceport' is not a kind of kz:Project",
    ),
    ({"firm_country": "XX"}, "column 'firm_country': 'XX' is not an ISO 3166"),
    ({"year": "25"}, "column 'year': '25' is not a year"),
    ({"status_stated": ""}, "column 'status_stated': empty: give the status in the source's words"),
]


@pytest.mark.parametrize("change,message", BAD_CELLS, ids=[next(iter(c)) for c, _ in BAD_CELLS])
def test_bad_cells_are_refused_naming_file_row_and_column_and_nothing_is_written(
    tmp_path, change, message
):
    root = copy_project(tmp_path)
    table = write_table(tmp_path / "t.csv", [fufeng_row(), fufeng_row(**change)])
    before = tree_digest(root)
    done = subprocess.run(
        [sys.executable, "-m", "kzgraph", "--root", str(root), "import", str(table)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert f"{table}:3: {message}" in done.stderr, done.stderr
    assert tree_digest(root) == before


def test_an_unknown_region_holds_the_row(tmp_path):
    root = copy_project(tmp_path)
    table = write_table(tmp_path / "t.csv", [fufeng_row(region="Zhambyl oblast")])
    result = import_table(table, Settings.discover(root), dry_run=True)
    assert result.rows[0].outcome == "held"
    assert "unknown region 'Zhambyl oblast'" in result.rows[0].reasons


def test_the_region_code_and_kazakh_name_match_too(tmp_path):
    root = copy_project(tmp_path)
    table = write_table(
        tmp_path / "t.csv", [fufeng_row(region="KZ-31"), fufeng_row(region="Zhambyl oblysy")]
    )
    result = import_table(table, Settings.discover(root), dry_run=True)
    assert [r.outcome for r in result.rows] == ["matched", "matched"] and result.added == 0


def test_an_xlsx_tracker_imports_like_its_csv(tmp_path):
    openpyxl = pytest.importorskip("openpyxl")
    root = copy_project(tmp_path)
    book = openpyxl.Workbook()
    sheet = book.active
    with EXAMPLE.open(encoding="utf-8", newline="") as f:
        for row in csv.reader(f):
            sheet.append(row)
    xlsx = tmp_path / "seed-investments.xlsx"
    book.save(xlsx)
    result = import_table(xlsx, Settings.discover(root), dry_run=True)
    assert [r.outcome for r in result.rows] == ["matched"] * len(example_rows())
    assert result.added == 0


def test_a_mapping_that_reads_missing_columns_is_refused(tmp_path):
    root = copy_project(tmp_path)
    table = tmp_path / "t.csv"
    table.write_text("firm,project\nFufeng Group,Plant\n", encoding="utf-8")
    with pytest.raises(KzgraphError, match=r"reads column\(s\) the table lacks: .*amount"):
        import_table(table, Settings.discover(root), dry_run=True)


def test_an_import_the_shapes_reject_writes_nothing(tmp_path):
    """A mapping that points firms at a non-country: the findings are printed, exit 1, and the
    graph file written while the shapes ran is discarded (no temporary file left either).
    (A region IRI: the cell checks know currencies and countries, so only the shapes see it.)"""
    root = copy_project(tmp_path)
    mapping = root / "mappings" / "tracker.yarrrml.yml"
    text = mapping.read_text(encoding="utf-8")
    wrong = text.replace("id/country/$(firm_country)~iri", "id/region/$(firm_country)~iri")
    assert wrong != text
    broken = mapping.with_name("broken.yarrrml.yml")
    broken.write_text(wrong, encoding="utf-8")
    table = write_table(
        tmp_path / "t.csv", [fufeng_row(firm="Newco Test Holdings", firm_country="CN")]
    )
    before = tree_digest(root)
    done = subprocess.run(
        [
            sys.executable, "-m", "kzgraph", "--root", str(root), "import", str(table),
            "--mapping", str(broken),
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )  # fmt: skip
    assert done.returncode == 1, done.stdout + done.stderr
    assert "Traceback" not in done.stderr
    assert "kz:headquartersCountry, a kz:Country" in done.stdout, done.stdout
    assert tree_digest(root) == before


def test_reading_each_csv_once_gives_the_engine_s_own_triples(tmp_path):
    """kzgraph runs morph-kgc through morph_kgc_run, which parses the prepared table once instead
    of once per rule: on a generated tracker (with its odd rows) and the worked example, the
    quads are exactly those of ``python -m morph_kgc``."""
    from kzgraph.curation.importing import _prepare, shipped_mapping
    from kzgraph.curation.mapping_engine import run_mapping
    from kzgraph.sources.registry import table_header, table_rows
    from kzgraph.store.synthetic import generate_tracker

    settings = Settings.discover(ROOT)
    tracker = tmp_path / "tracker.csv"
    generate_tracker(tracker, 300, seed=3)
    for table in (tracker, EXAMPLE):
        outputs = []
        for read_once in (True, False):
            workdir = tmp_path / f"{table.stem}-{read_once}"
            workdir.mkdir()
            _prepare(workdir, table_header(table), list(table_rows(table)), "999_test")
            files = run_mapping(settings, shipped_mapping(settings), workdir, read_once=read_once)
            lines = [ln for f in files for ln in f.read_text(encoding="utf-8").splitlines()]
            outputs.append(sorted(lines))
        assert outputs[0] == outputs[1]
        assert len(outputs[0]) > 10 * len(list(table_rows(table)))


def test_the_engine_names_each_output_file_once_it_is_complete(tmp_path):
    """morph_kgc_run prints one line per mapping group's file, after the file is closed: the
    lines name exactly the files in the output directory, and each named file parses."""
    import pyoxigraph as ox

    from kzgraph.curation.importing import _prepare, shipped_mapping
    from kzgraph.curation.mapping_engine import DONE, DRIVER, _config, engine_python
    from kzgraph.sources.registry import table_header, table_rows

    settings = Settings.discover(ROOT)
    _prepare(tmp_path, table_header(EXAMPLE), list(table_rows(EXAMPLE)), "999_test")
    config = tmp_path / "c.ini"
    config.write_text(_config(shipped_mapping(settings), tmp_path / "out", 2), encoding="utf-8")
    done = subprocess.run(
        [str(engine_python(settings)), "-P", str(DRIVER), str(config)],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    named = [ln[len(DONE) :] for ln in done.stdout.splitlines() if ln.startswith(DONE)]
    assert len(named) == len(set(named))
    assert {Path(n) for n in named} == set((tmp_path / "out").glob("*.nq"))
    quads = sum(len(list(ox.parse(path=n, format=ox.RdfFormat.N_QUADS))) for n in named)
    assert quads > 10 * len(list(table_rows(EXAMPLE)))


def test_an_engine_that_fails_midway_is_an_error_and_nothing_is_written(tmp_path):
    """The engine maps the rules it can, then fails on a source that is not there: the files it
    finished were already read, yet the import stops with the engine's own reason."""
    root = copy_project(tmp_path)
    mapping = root / "mappings" / "tracker.yarrrml.yml"
    text = mapping.read_text(encoding="utf-8")
    head, _sep, tail = text.rpartition("table.csv")
    broken = root / "mappings" / "broken.yarrrml.yml"
    broken.write_text(head + "missing.csv" + tail, encoding="utf-8")
    before = tree_digest(root)
    with pytest.raises(KzgraphError, match=r"the mapping engine \(morph-kgc\) failed: .*missing"):
        import_table(EXAMPLE, Settings.discover(root), mapping=broken)
    assert tree_digest(root) == before


def test_without_the_mapping_engine_the_error_says_how_to_get_it(tmp_path, monkeypatch):
    root = copy_project(tmp_path)
    (root / ".tools").unlink()
    monkeypatch.delenv("KZGRAPH_MORPH_KGC", raising=False)
    with pytest.raises(KzgraphError, match=r"morph-kgc is not installed: run scripts/setup\.sh"):
        import_table(EXAMPLE, Settings.discover(root), dry_run=True)


def test_names_like_na_are_names_not_missing_values(tmp_path):
    # pandas, under morph-kgc, reads "NA" and "None" as missing unless told otherwise
    root = copy_project(tmp_path, seeds=False)
    table = write_table(
        tmp_path / "t.csv",
        [fufeng_row(firm="NA", source="", quotation="")],
    )  # fmt: skip
    result = import_table(table, Settings.discover(root), dry_run=True)
    company = next(r for r in result.resolutions.values() if r.kind == "company")
    assert company.name == "NA" and company.outcome == "new"
    assert result.report.conforms


def test_a_maintainer_adds_an_article_and_a_table_citing_it_as_the_readme_says(tmp_path):
    # The README's steps on a copy: register a (made-up) article, write a fact citing it, lint and
    # validate; then import a table row quoting the article, into the files and a store.
    root = copy_project(tmp_path)
    settings = Settings.discover(root)
    article = tmp_path / "article.txt"
    sentence = "Steppe Mills LLP will invest 12 billion tenge in a flour mill in the Akmola region."
    article.write_text(f"A new flour mill for Akmola\n\n{sentence}\n", encoding="utf-8")
    added = subprocess.run(
        [sys.executable, "-m", "kzgraph", "--root", str(root), "source", "add", str(article),
         "--description", "A flour mill in Akmola (test article)."],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert added.returncode == 0, added.stderr
    source_id = next(r.id for r in records(settings) if r.title == "A new flour mill for Akmola")
    graph_file = root / "graph" / "documents" / f"{source_id}.trig"
    graph_file.write_text(
        graph_file.read_text(encoding="utf-8").replace(
            f"kzg:{source_id} prov:wasDerivedFrom source:{source_id} .",
            f"""kzg:{source_id} prov:wasDerivedFrom source:{source_id} .
q:mill a prov:Derivation ; prov:entity source:{source_id} ; kz:quotation "{sentence}" .
<https://w3id.org/kzgraph/id/company/steppe-mills> a kz:Company ;
    rdfs:label "Steppe Mills LLP"@en ; prov:qualifiedDerivation q:mill .""",
        ),
        encoding="utf-8",
    )
    assert not [f for f in lint(settings) if f.severity == ERROR]
    assert validate(settings).conforms
    table = write_table(
        tmp_path / "mills.csv",
        [{"source": source_id, "quotation": sentence, "firm": "Steppe Mills LLP",
          "project": "Steppe Mills flour mill in Akmola Region",
          "project_type": "AgriculturalProject", "region": "Akmola region",
          "sector": "agricultural processing", "amount": "12000000000", "currency": "KZT",
          "amount_stated": "12 billion tenge", "status": "planned",
          "status_stated": "will invest"}],
    )  # fmt: skip
    store = tmp_path / "store"
    done = subprocess.run(
        [sys.executable, "-m", "kzgraph", "--root", str(root), "import", str(table),
         "--store", str(store)],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "rows: 0 matched, 1 new, 0 held" in done.stdout
    result = import_table(table, settings, dry_run=True)  # the firm was matched, the project new
    assert result.added == 0
    assert not [f for f in lint(settings) if f.severity == ERROR]
    assert validate(settings).conforms
    from kzgraph.store.engines import OxigraphStore

    rows = OxigraphStore.read_only(store).query(
        """PREFIX kz: <https://w3id.org/kzgraph/ontology#>
           SELECT ?firm ?value WHERE { ?p kz:investor ?firm ; kz:amount/kz:value ?value }"""
    )
    assert [(str(r["firm"]), Decimal(str(r["value"]))) for r in rows.dicts()] == [
        ("https://w3id.org/kzgraph/id/company/steppe-mills", Decimal(12000000000))
    ]


# ---- reconciliation's building blocks ------------------------------------------------------------


@given(st.text(min_size=1, max_size=60))
def test_names_survive_the_provisional_iri_and_slugs_are_iri_safe(name):
    iri = f"{reconcile.PROVISIONAL}company:{quote(name, safe='')}"
    assert reconcile.split(iri) == ("company", name)
    assert reconcile.slug(name) and set(reconcile.slug(name)) <= set(
        "abcdefghijklmnopqrstuvwxyz0123456789-"
    )
    assert reconcile.key(reconcile.key(name)) == reconcile.key(name)


@pytest.mark.parametrize(
    "body,message",
    [
        ("kind,name\ncompany,X\n", "missing column(s) decision"),
        ("kind,name,decision\nfirm,X,new\n", ":2: kind 'firm' is not one of"),
        (
            "kind,name,decision\ncompany,X,maybe\n",
            ":2: decision 'maybe' is neither an IRI nor 'new'",
        ),
    ],
)
def test_a_malformed_decisions_file_is_named_with_its_line(tmp_path, body, message):
    path = tmp_path / "d.csv"
    path.write_text(body, encoding="utf-8")
    with pytest.raises(KzgraphError) as caught:
        reconcile.read_decisions(path)
    assert message in str(caught.value) and str(path) in str(caught.value)


def test_a_decision_naming_an_entity_of_another_kind_is_refused(tmp_path):
    root = copy_project(tmp_path)
    table = write_table(tmp_path / "t.csv", [fufeng_row()])
    decisions = tmp_path / "d.csv"
    decisions.write_text(
        "kind,name,decision\ncompany,Fufeng Group,region:zhambyl\n", encoding="utf-8"
    )
    with pytest.raises(KzgraphError, match="is no company in the graph"):
        import_table(table, Settings.discover(root), decisions=decisions, dry_run=True)


@pytest.mark.parametrize("limit", [5, 100_000], ids=["plain-ntriples-block", "rdflib-grouped"])
def test_the_graph_file_reloads_and_a_second_run_merges_into_it(tmp_path, monkeypatch, limit):
    # Big graphs are written as N-Triples inside one TriG graph block, small ones by rdflib; both
    # must load back, and a second run (after a decision) must keep the first run's facts.
    import kzgraph.curation.import_files as import_files

    monkeypatch.setattr(import_files, "READABLE_LIMIT", limit)
    root = copy_project(tmp_path)
    settings = Settings.discover(root)
    other = next(r for r in example_rows() if r["firm"] == "Dalian Hesheng Holdings")
    table = write_table(
        tmp_path / "t.csv",
        [fufeng_row(firm_country="KZ"), {**other, "firm": "Harbin Grain Partners",
                                         "project": "Second grain plant"}],
    )  # fmt: skip
    decisions = tmp_path / "d.csv"
    first = import_table(table, settings, decisions=decisions)
    assert [r.outcome for r in first.rows] == ["held", "new"]
    graph_file = root / "graph" / "documents" / f"{first.source_id}.trig"
    decisions.write_text("kind,name,decision\ncompany,Fufeng Group,new\n", encoding="utf-8")
    second = import_table(table, settings, decisions=decisions)
    assert [r.outcome for r in second.rows] == ["new", "matched"]
    ds = load(settings)
    graph = ds.graph(URIRef(f"https://w3id.org/kzgraph/graph/{first.source_id}"))
    labels = {str(o) for o in graph.objects(None, RDFS.label)}
    assert {"Harbin Grain Partners", "Second grain plant", "Fufeng Group"} <= labels
    assert len(graph) == first.added + second.added
    assert validate(settings).conforms
    assert not [f for f in lint(settings) if f.severity == ERROR]
    assert graph_file.read_text(encoding="utf-8").startswith("# Facts imported from")


def test_a_kill_9_at_any_moment_of_an_import_leaves_a_project_that_loads_and_lints(tmp_path):
    """kill -9 an import of a generated tracker at several moments (mapping, assembling,
    validating, writing): each time every graph file still parses, the project conforms to the
    shapes and lints without an error, and a last run completes the import."""
    import time

    from kzgraph.curation.importing import current_store
    from kzgraph.graph.loading import load_shapes
    from kzgraph.store.synthetic import generate_tracker
    from kzgraph.validation.report import validate_store

    def conforms(settings: Settings) -> bool:
        return validate_store(current_store(settings), load_shapes(settings)).conforms

    root = copy_project(tmp_path)
    table = tmp_path / "tracker.csv"
    generate_tracker(table, 1000, seed=5)
    command = [sys.executable, "-m", "kzgraph", "--root", str(root), "import", str(table)]
    scratch = tmp_path / "tmp"  # the imports' temporary folder, to see what a kill leaves there
    scratch.mkdir()
    env = {**os.environ, "TMPDIR": str(scratch)}
    for delay in (1.0, 2.0, 3.0, 4.0):
        process = subprocess.Popen(
            command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env
        )
        time.sleep(delay)
        process.kill()
        process.wait(timeout=60)
        settings = Settings.discover(root)
        assert conforms(settings), f"after a kill at {delay} s"  # current_store parses every file
        assert not [f for f in lint(settings) if f.severity == ERROR], f"after a kill at {delay} s"
    done = subprocess.run(command, capture_output=True, text=True, timeout=600, env=env)
    assert done.returncode == 0, done.stdout + done.stderr
    # the killed imports' working folders (copies of the table) were swept by the last run
    assert not list(scratch.glob("kzgraph-import-*"))
    settings = Settings.discover(root)
    source_id = next(r.id for r in records(settings) if r.file.suffix == ".csv")
    assert (root / "graph" / "documents" / f"{source_id}.trig").stat().st_size > 100_000
    assert conforms(settings)


def test_working_folders_of_dead_imports_are_swept_and_live_ones_kept(tmp_path):
    from kzgraph.curation.import_files import WORKDIR_PREFIX, sweep_stale_workdirs

    ended = subprocess.Popen([sys.executable, "-c", "pass"])
    ended.wait()
    dead = tmp_path / f"{WORKDIR_PREFIX}{ended.pid}-abc"
    live = tmp_path / f"{WORKDIR_PREFIX}{os.getpid()}-def"
    unnamed = tmp_path / f"{WORKDIR_PREFIX}0wktn8ti"  # the old naming, without a process id
    for folder in (dead, live, unnamed):
        folder.mkdir()
        (folder / "table.csv").write_text("a,b\n")
    assert sweep_stale_workdirs(tmp_path) == [dead]
    assert not dead.exists() and live.exists() and unnamed.exists()


USER_MAPPING = """prefixes:
  kz: https://w3id.org/kzgraph/ontology#
  rdfs: http://www.w3.org/2000/01/rdf-schema#
  xsd: http://www.w3.org/2001/XMLSchema#
mappings:
  firm:
    sources:
      - [table.csv~csv]
    s: urn:kzgraph:import:company:$(Investor)
    graph: urn:kzgraph:import:row:$(row)
    po:
      - [a, kz:Company]
      - [rdfs:label, $(Investor), en~lang]
  project:
    sources:
      - [table.csv~csv]
    s: urn:kzgraph:import:project:$(Project title)
    graph: urn:kzgraph:import:row:$(row)
    po:
      - [a, kz:Project]
      - [rdfs:label, $(Project title), en~lang]
      - [kz:investor, urn:kzgraph:import:company:$(Investor)~iri]
      - [kz:value, $(Amount (USD m)), xsd:decimal]
      - [kz:referenceYear, $(Year), xsd:gYear]
      - [kz:currency, https://w3id.org/kzgraph/id/currency/$(Cur)~iri]
"""


def test_a_users_own_mapping_gets_every_cell_checked_by_what_it_maps_to(tmp_path):
    """Column names with parentheses and spaces, typed by the user's YARRRML: bad numbers,
    years, currencies and an empty title are each one line naming the row and column, and
    nothing is written (rows read = refused)."""
    root = copy_project(tmp_path)
    mapping = root / "mappings" / "mine.yarrrml.yml"
    mapping.write_text(USER_MAPPING, encoding="utf-8")
    table = tmp_path / "tracker.csv"
    table.write_text(
        "Investor,Project title,Amount (USD m),Year,Cur\n"
        'Fufeng Group,Corn plant,"1,2 billion",2025,USD\n'
        "TBEA,Solar park,n/a,20255,USD\n"
        "Huawei,Data centre,10,2024,usd\n"
        "Sinopec,,300,2023,USD\n",
        encoding="utf-8",
    )
    before = tree_digest(root)
    with pytest.raises(KzgraphError) as refused:
        import_table(table, Settings.discover(root), mapping=mapping)
    text = str(refused.value)
    assert "4 row(s) read, all refused" in text
    assert "tracker.csv:2: column 'Amount (USD m)': '1,2 billion' is not a decimal number" in text
    assert "tracker.csv:3: column 'Amount (USD m)': 'n/a' is not a decimal number" in text
    assert "tracker.csv:3: column 'Year': '20255' is not a year (YYYY)" in text
    assert "tracker.csv:4: column 'Cur': 'usd' is not a currency the graph has" in text
    assert "tracker.csv:5: column 'Project title': empty, but 'Amount (USD m)'" in text
    assert "Traceback" not in text
    assert tree_digest(root) == before


def test_graph_files_staged_by_a_killed_import_are_swept(tmp_path):
    from kzgraph.curation.import_files import sweep_stale_staged

    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True).stdout.strip()  # fmt: skip
    stale = tmp_path / f".005_table.trig.{dead}-abc123"
    live = tmp_path / f".005_table.trig.{os.getpid()}-def456"
    other = tmp_path / "005_table.trig"
    for path in (stale, live, other):
        path.write_text("x", encoding="utf-8")
    assert sweep_stale_staged(tmp_path) == [stale]
    assert live.exists() and other.exists() and not stale.exists()


def test_variant_names_of_known_firms_are_held_with_candidates_and_scores(tmp_path):
    """Company suffixes, punctuation and case never make a second firm: each variant is held as
    ambiguous with the close firm and a score; decided, it matches; run again, nothing changes."""
    root = copy_project(tmp_path)
    settings = Settings.discover(root)
    variants = {
        "Fufeng Group": "Fufeng Group Co., Ltd.",
        "TBEA Company Limited": "TBEA Co Ltd",
        "Qingdao Wanlin Food Corporation": "QINGDAO WANLIN FOOD Corp.",
    }
    rows = [{**r, "firm": variants[r["firm"]]} for r in example_rows() if r["firm"] in variants]
    table = write_table(tmp_path / "variants.csv", rows)
    decisions = tmp_path / "variants.decisions.csv"
    before = tree_digest(root)
    held = import_table(table, settings, decisions=decisions)
    firms = {r.name: r for r in held.resolutions.values() if r.kind == "company"}
    assert set(firms) == set(variants.values())
    expected = {
        "Fufeng Group Co., Ltd.": "fufeng-group",
        "TBEA Co Ltd": "tbea",
        "QINGDAO WANLIN FOOD Corp.": "qingdao-wanlin-food",
    }
    for name, res in firms.items():
        assert res.outcome == reconcile.AMBIGUOUS, (name, res)
        assert res.candidates[0].endswith("/company/" + expected[name]), res.candidates
        assert res.scores[0] == reconcile.SAME_CORE
        assert "close ones exist" in res.reason
    assert {r.outcome for r in held.rows} == {"held"}
    assert held.added == 0 and tree_digest(root) == before
    reconcile.write_decisions(decisions, held.pending, {})
    written = list(csv.DictReader(decisions.open(encoding="utf-8")))
    assert {w["name"] for w in written} == set(variants.values())
    assert all("(0.95)" in w["candidates"] for w in written)
    for w in written:
        w["decision"] = w["candidates"].split(" ")[0]
    with decisions.open("w", encoding="utf-8", newline="") as f:
        out = csv.DictWriter(f, fieldnames=list(written[0]))
        out.writeheader()
        out.writerows(written)
    first = import_table(table, settings, decisions=decisions)
    assert {r.outcome for r in first.rows} == {"matched"}
    after_first = tree_digest(root)
    again = import_table(table, settings, decisions=decisions)
    assert {r.outcome for r in again.rows} == {"matched"}
    assert again.added == 0
    assert tree_digest(root) == after_first


def test_two_close_new_names_in_one_table_are_both_held(tmp_path):
    root = copy_project(tmp_path)
    rows = [
        fufeng_row(firm="Zeta Agro Holdings Ltd"),
        fufeng_row(firm="ZETA AGRO Holdings Limited"),
    ]
    held = import_table(
        write_table(tmp_path / "t.csv", rows), Settings.discover(root), dry_run=True
    )
    firms = [r for r in held.resolutions.values() if r.kind == "company"]
    assert len(firms) == 2
    assert all(
        r.outcome == reconcile.AMBIGUOUS and "the table also names" in r.reason for r in firms
    )


def test_a_firm_decided_new_is_not_minted_again_when_the_table_is_run_again(tmp_path):
    root = copy_project(tmp_path)
    settings = Settings.discover(root)
    table = write_table(tmp_path / "t.csv", [fufeng_row(firm="Fufeng Group Co")])
    decisions = tmp_path / "t.decisions.csv"
    decisions.write_text("kind,name,decision\ncompany,Fufeng Group Co,new\n", encoding="utf-8")
    first = import_table(table, settings, decisions=decisions)
    minted = next(r for r in first.resolutions.values() if r.kind == "company")
    assert minted.outcome == reconcile.NEW and minted.iri.endswith("/company/fufeng-group-co")
    after_first = tree_digest(root)
    again = import_table(table, settings, decisions=decisions)
    same = next(r for r in again.resolutions.values() if r.kind == "company")
    assert same.outcome == reconcile.MATCHED and same.iri == minted.iri
    assert again.added == 0 and tree_digest(root) == after_first
