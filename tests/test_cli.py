"""The CLI run as a user runs it: a real subprocess, real files, exit codes checked."""

from __future__ import annotations

import csv
import io
import json
import shutil
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
from rdflib import Dataset, Graph

from kzgraph.core.namespaces import GRAPH
from kzgraph.core.settings import Settings


def run(*args: str, root: Path | None = None) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "kzgraph", *(["--root", str(root)] if root else []), *args]
    return subprocess.run(command, capture_output=True, text=True, timeout=300)


def test_build_prints_counts_per_graph_and_class(dataset):
    result = run("build")
    assert result.returncode == 0, result.stderr
    out = result.stdout
    for stem in ("000_096687169d175def", "004_2b059f08c0a5d038", "iso3166-1", "ontology"):
        assert f"kzg:{stem}" in out
    from rdflib.namespace import RDF

    from kzgraph.core.namespaces import KZ

    printed = {
        line.split()[0]: int(line.split()[1])
        for line in out.splitlines()
        if line.startswith("  kz:") and len(line.split()) == 2
    }
    assert printed["kz:Company"] == len(set(dataset.subjects(RDF.type, KZ.Company)))
    assert printed["kz:TradeFlow"] == len(set(dataset.subjects(RDF.type, KZ.TradeFlow)))


def test_build_writes_an_on_disk_store(tmp_path: Path):
    store = tmp_path / "store"
    result = run("build", "--store", str(store))
    assert result.returncode == 0, result.stderr
    assert store.exists() and any(store.iterdir())
    assert "quads to the Oxigraph store" in result.stderr


def test_validate_conforms_on_main():
    result = run("validate")
    assert result.returncode == 0, result.stdout
    assert "Conforms" in result.stdout


@pytest.fixture
def broken_project(tmp_path: Path, settings: Settings) -> Path:
    for folder in ("ontology", "graph"):
        shutil.copytree(settings.root / folder, tmp_path / folder)
    target = tmp_path / "graph" / "seed" / "003_business_council.trig"
    text = target.read_text()
    # The Sinopec plant's capacity loses its unit: a maintainer's typical slip.
    text = text.replace(
        'kz:value 1250000.0 ;\n                  kz:unit kzu:tonne-per-year ; kz:statedAs "1.25 million tonnes per year" ] ;\n    kz:amount',
        'kz:value 1250000.0 ;\n                  kz:statedAs "1.25 million tonnes per year" ] ;\n    kz:amount',
        1,
    )
    target.write_text(text)
    return tmp_path


def test_validate_reports_violations_with_labels_and_exit_1(broken_project: Path):
    result = run("validate", root=broken_project)
    assert result.returncode == 1
    assert "Polyethylene plant in Atyrau Region with Sinopec → kz:quantity" in result.stdout
    assert "a quantity needs exactly one kz:unit" in result.stdout


def test_validate_json_report(broken_project: Path):
    result = run("validate", "--format", "json", root=broken_project)
    assert result.returncode == 1
    report = json.loads(result.stdout)
    assert report["conforms"] is False
    assert any("kz:unit" in f["message"] for f in report["findings"])


def test_validate_turtle_report_is_shacl(broken_project: Path):
    result = run("validate", "--format", "turtle", root=broken_project)
    g = Graph().parse(data=result.stdout, format="turtle")
    assert len(g) > 0


def test_syntax_error_is_one_line_without_traceback(tmp_path: Path, settings: Settings):
    for folder in ("ontology", "graph"):
        shutil.copytree(settings.root / folder, tmp_path / folder)
    (tmp_path / "graph" / "typo.ttl").write_text('@prefix ex: <http://e/> .\nex:a ex:b "x .\n')
    result = run("build", root=tmp_path)
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert f"{tmp_path / 'graph' / 'typo.ttl'}:2" in result.stderr


@pytest.mark.parametrize(
    "fmt,parser,named",
    [
        ("trig", "trig", True),
        ("nq", "nquads", True),
        ("jsonld", "json-ld", True),
        ("ttl", "turtle", False),
        ("nt", "nt", False),
    ],
)
def test_export_round_trips(tmp_path: Path, dataset: Dataset, fmt: str, parser: str, named: bool):
    out = tmp_path / f"dump.{fmt}"
    result = run("export", "--format", fmt, "--output", str(out))
    assert result.returncode == 0, result.stderr
    if named:
        back = Dataset()
        back.parse(out, format=parser)
        seed = GRAPH["002_97890c3330489398"]
        assert len(back.graph(seed)) == len(dataset.graph(seed))
    else:
        back_graph = Graph().parse(out, format=parser)
        assert len(back_graph) == len(set(dataset.triples((None, None, None))))


def test_stats_counts_quotations_per_source():
    result = run("stats")
    assert result.returncode == 0
    assert "source:000_096687169d175def" in result.stdout


def test_sparql_command_answers(dataset):
    result = run(
        "sparql", "SELECT ?l WHERE { company:fufeng-group rdfs:label ?l }", "--format", "tsv"
    )
    assert result.returncode == 0
    assert '"Fufeng Group"@en' in result.stdout
    table = run("query", "investments-in-region", "--param", "region=region:zhambyl")
    assert table.returncode == 0, table.stderr
    assert "Fufeng Group" in table.stdout and "(2 rows)" in table.stdout


@pytest.mark.parametrize(
    "fmt,marker",
    [
        ("json", '"bindings"'),
        ("xml", "<sparql"),
        ("csv", "firm,"),
        ("tsv", "?firm"),
        ("md", "|---|"),
        ("table", "rows)"),
    ],
)
def test_query_formats(fmt, marker):
    result = run("query", "chinese-investors-by-region", "--format", fmt)
    assert result.returncode == 0, result.stderr
    assert marker in result.stdout
    if fmt == "table":  # the row count the table reports is the number of CSV rows
        csv_rows = run("query", "chinese-investors-by-region", "--format", "csv").stdout
        assert f"({len(csv_rows.strip().splitlines()) - 1} rows)" in result.stdout


def test_query_errors_are_one_line():
    for args, message in [
        (("query", "nope"), "no saved query named 'nope'"),
        (("query", "investments-in-region", "--param", "regoin=x"), "unknown parameter 'regoin'"),
        (("query", "investments-in-region", "--param", "region=not a name"), "no such entity"),
        (("query", "investments-in-region", "--param", "region"), "NAME=VALUE"),
    ]:
        result = run(*args)
        assert result.returncode == 2
        assert message in result.stderr
        assert "Traceback" not in result.stderr


def test_queries_lists_the_catalogue():
    result = run("queries")
    assert result.returncode == 0
    assert "chinese-investors-by-region" in result.stdout
    assert "region (iri)" in result.stdout


def test_sparql_syntax_error_is_clean():
    result = run("sparql", "SELECT ?x WHERE { ?x ?y }")
    assert result.returncode == 2
    assert "SPARQL syntax error" in result.stderr
    assert "Traceback" not in result.stderr


def test_sparql_errors_point_at_the_users_text_and_name_unknown_prefixes():
    result = run("sparql", "SELECT ?p WHERE { ?p kz:region regionn:atyrau }")
    assert result.returncode == 2
    assert "unknown prefix regionn: at line 1, column 32" in result.stderr
    truncated = run("sparql", "SELECT ?p WHERE { ?p kz:region ")
    assert "error at 1:32" in truncated.stderr  # the user's own line and column
    assert "\\u{" not in truncated.stderr  # no wall of Unicode ranges


def test_required_parameters_have_no_silent_default():
    result = run("query", "investments-in-region")
    assert result.returncode == 2 and "missing required parameter region" in result.stderr
    rows = run(
        "query", "investments-in-region", "--param", "region=region:zhambyl", "--format", "csv"
    )
    header = rows.stdout.splitlines()[0]
    assert "_region_iri" not in header and "firm" in header


@pytest.mark.parametrize("name", ["turtle", "ttl", "TTL", "text/turtle"])
def test_format_names_are_the_usual_ones(name):
    assert run("export", "--format", name).stdout.startswith("@prefix")
    assert run("validate", "--format", name).returncode == 0


def test_a_busy_port_is_reported_at_once():
    import socket
    import time

    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        started = time.monotonic()
        result = run("serve", "--port", str(busy.getsockname()[1]), "--no-validate")
        waited = time.monotonic() - started
    assert result.returncode == 2 and "already in use" in result.stderr
    assert "Traceback" not in result.stderr
    assert waited < 30  # it did not load the graph and start workers first


def test_docs_count_blank_node_instances_as_stats_does(tmp_path: Path):
    from kzgraph.docs.site import build_site
    from kzgraph.graph.loading import load
    from kzgraph.queries.stats import compute

    counts = compute(load()).classes
    build_site(Settings.discover(), tmp_path)
    page = (tmp_path / "classes.html").read_text()
    for name in ("kz:MonetaryAmount", "kz:Quantity"):
        assert counts[name] > 0
        local = name.split(":")[1]
        section = page.split(f'id="{local}"', 1)[1][:4000]
        assert f"Instances in the graph: <strong>{counts[name]}</strong>" in section, name


def test_validation_and_docs_are_reused_when_nothing_changed():
    from tests.server_process import Server

    first = Server("--workers", "1")
    # the site is built in the background: wait for it, or the second start has none to reuse
    assert httpx.get(first.url + "ontology/classes.html", timeout=60).status_code == 200
    first.stop()
    second = Server("--workers", "1")
    try:
        log = second.output()
        assert "conforms (cached)" in log and "documentation: reused" in log
    finally:
        second.stop()


def test_csv_output_is_safe_to_open_in_a_spreadsheet():
    """OWASP's rule: a value a spreadsheet would run gets an apostrophe; numbers stay numbers."""
    query = 'SELECT ?f ?n ?s WHERE { VALUES (?f ?n ?s) { ("=HYPERLINK(1)" "-5" "Sinopec") } }'
    result = run("sparql", query, "--format", "csv")
    assert result.returncode == 0, result.stderr
    rows = list(csv.reader(io.StringIO(result.stdout)))
    assert rows == [["f", "n", "s"], ["'=HYPERLINK(1)", "-5", "Sinopec"]]


def test_query_help_lists_the_saved_query_s_parameters(settings):
    from click.testing import CliRunner

    from kzgraph.cli import main
    from kzgraph.queries.catalogue import get_query

    saved = get_query("place-profile", settings)
    out = CliRunner().invoke(main, ["query", "place-profile", "--help"])
    assert out.exit_code == 0, out.output
    assert saved.summary.split(" - ")[0][:40] in " ".join(out.output.split())
    for p in saved.parameters:
        assert p.describe() in out.output
    assert saved.defaults["place"] in out.output


def test_a_mistyped_iri_is_no_such_entity_and_a_name_is_accepted():
    from click.testing import CliRunner

    from kzgraph.cli import main

    runner = CliRunner()
    typo = runner.invoke(main, ["query", "investments-by-firm", "-p", "firm=company:tbae"])
    assert typo.exit_code == 2
    assert "no such entity 'company:tbae'" in typo.output and "(company:tbea)" in typo.output
    by_iri = runner.invoke(main, ["query", "investments-by-firm", "-p", "firm=company:tbea"])
    by_name = runner.invoke(main, ["query", "investments-by-firm", "-p", "firm=TBEA"])
    assert by_iri.exit_code == by_name.exit_code == 0
    assert by_iri.output == by_name.output and "TBEA" in by_iri.output


def test_class_pages_count_the_instances_of_subclasses_too(tmp_path: Path, stores):
    from kzgraph.docs.site import build_site

    build_site(Settings.discover(), tmp_path)
    page = (tmp_path / "classes.html").read_text()
    store = stores["oxigraph"]

    def count(pattern: str) -> int:
        return int(
            store.query(f"SELECT (COUNT(DISTINCT ?s) AS ?n) WHERE {{ {pattern} }}").rows[0][0]
        )

    total = count("?s a/rdfs:subClassOf* kz:Project")
    direct = count("?s a kz:Project")
    assert total > direct
    section = page.split('id="Project"', 1)[1][:4000]
    assert f"Instances in the graph: <strong>{total}</strong> ({direct} directly" in section
