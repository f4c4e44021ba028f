"""Every read command on a store, and a command line that loads only what a command needs.

The store is built from the seeded files by ``kzgraph build --store``, so each command's answer
on it must equal its answer on the files; the store is opened read-only, and graph/ is not read
(a project folder without graph/ still answers from the store).
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from rdflib import Dataset, Graph

from kzgraph.core.settings import Settings

HEAVY = ("rdflib", "pyshacl", "networkx", "matplotlib", "yaml", "httpx", "starlette")


def run(*args: str, root: Path | None = None) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "kzgraph", *(["--root", str(root)] if root else []), *args]
    return subprocess.run(command, capture_output=True, text=True, timeout=300)


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Path:
    store = tmp_path_factory.mktemp("reads") / "store"
    result = run("build", "--store", str(store))
    assert result.returncode == 0, result.stderr
    return store


@pytest.fixture(scope="module")
def no_graph(tmp_path_factory: pytest.TempPathFactory, settings: Settings) -> Path:
    """A project folder with the ontology and queries but no graph/: only a store can answer."""
    root = tmp_path_factory.mktemp("nograph")
    for folder in ("ontology", "queries"):
        shutil.copytree(settings.root / folder, root / folder)
    (root / "graph").mkdir()
    return root


def modules_loaded(*args: str) -> set[str]:
    """The top-level packages a CLI invocation imported (in process, as the console script)."""
    code = (
        "import sys\n"
        "from kzgraph.cli import main\n"
        f"try:\n    main({list(args)!r})\nexcept SystemExit:\n    pass\n"
        "print(' '.join(sorted({m.split('.')[0] for m in sys.modules})))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    return set(out.stdout.split())


def test_help_loads_no_engine():
    loaded = modules_loaded("--help")
    assert not loaded & set(HEAVY), loaded & set(HEAVY)
    assert "pyoxigraph" not in loaded


@pytest.mark.parametrize("command", ["network", "source", "search", "table", "query", "serve"])
def test_each_commands_help_loads_no_engine(command: str):
    loaded = modules_loaded(command, "--help")
    assert not loaded & set(HEAVY), (command, loaded & set(HEAVY))


def test_a_saved_query_needs_neither_pyshacl_nor_networkx():
    loaded = modules_loaded("query", "chinese-investors-by-region", "--format", "csv")
    assert not loaded & {"pyshacl", "networkx", "matplotlib", "httpx", "starlette"}


@pytest.mark.parametrize("fmt", ["csv", "json", "table"])
def test_saved_query_on_a_store_equals_the_files(built: Path, no_graph: Path, fmt: str):
    on_files = run("query", "chinese-investors-by-region", "--format", fmt)
    on_store = run("query", "chinese-investors-by-region", "--format", fmt, "--store", str(built),
                   root=no_graph)  # fmt: skip
    assert on_files.returncode == 0 and on_store.returncode == 0, on_store.stderr
    assert on_store.stdout == on_files.stdout
    assert on_store.stdout.count("USD") > 5  # rows, not an empty answer


def test_saved_query_parameters_resolve_names_on_a_store(built: Path, no_graph: Path):
    on_store = run("query", "investments-by-firm", "-p", "firm=TBEA", "--format", "csv",
                   "--store", str(built), root=no_graph)  # fmt: skip
    on_files = run("query", "investments-by-firm", "-p", "firm=TBEA", "--format", "csv")
    assert on_store.returncode == 0, on_store.stderr
    assert on_store.stdout == on_files.stdout


def test_sparql_on_a_store(built: Path, no_graph: Path, dataset: Dataset):
    query = "SELECT (COUNT(*) AS ?n) WHERE { GRAPH ?g { ?s ?p ?o } }"
    result = run("sparql", query, "--format", "json", "--store", str(built), root=no_graph)
    assert result.returncode == 0, result.stderr
    count = int(json.loads(result.stdout)["results"]["bindings"][0]["n"]["value"])
    assert count == len(list(dataset.quads((None, None, None, None))))


@pytest.mark.parametrize(
    "fmt,parser,named",
    [("nq", "nquads", True), ("trig", "trig", True), ("jsonld", "json-ld", True),
     ("ttl", "turtle", False), ("nt", "nt", False), ("xml", "xml", False)],
)  # fmt: skip
def test_export_a_store_streams_what_the_files_export(
    built: Path, no_graph: Path, tmp_path: Path, dataset: Dataset, fmt: str, parser: str,
    named: bool,
):  # fmt: skip
    out = tmp_path / f"dump.{fmt}"
    result = run("export", "--store", str(built), "-o", str(out), root=no_graph)
    assert result.returncode == 0, result.stderr
    if named:
        back = Dataset()
        back.parse(out, format=parser)
        names = {str(g.identifier) for g in dataset.graphs() if len(g)}
        assert {str(g.identifier) for g in back.graphs() if len(g)} >= names
        assert len(list(back.quads((None, None, None, None)))) == len(
            list(dataset.quads((None, None, None, None)))
        )
    else:
        merged = Graph().parse(out, format=parser)
        assert len(merged) == len(set(dataset.triples((None, None, None))))


def test_stats_on_a_store(built: Path, no_graph: Path):
    result = run("stats", "--store", str(built), root=no_graph)
    assert result.returncode == 0, result.stderr
    assert "kz:Company" in result.stdout


def test_search_and_table_on_a_store(built: Path, no_graph: Path):
    found = run("search", "TBEA", "--format", "json", "--store", str(built), root=no_graph)
    assert found.returncode == 0, found.stderr
    assert any("TBEA" in hit["text"] for hit in json.loads(found.stdout))
    table = run("table", "Company", "--format", "csv", "--store", str(built), root=no_graph)
    assert table.returncode == 0, table.stderr
    assert "TBEA" in table.stdout


def test_network_on_a_store(built: Path, no_graph: Path):
    result = run("network", "--store", str(built), "summary", "--projection", "company-project",
                 root=no_graph)  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "company-project:" in result.stdout


@pytest.mark.parametrize(
    "args,words",
    [
        (["--backend", "http://127.0.0.1:9/query"], "--store and --backend"),
        (["--inference", "rdfs"], "--inference applies to the project's files"),
        (["--engine", "rdflib"], "--engine rdflib reads the project's files"),
    ],
)
def test_conflicting_sources_are_refused(built: Path, args: list[str], words: str):
    result = run("query", "chinese-investors-by-region", "--store", str(built), *args)
    assert result.returncode == 2
    assert words in result.stderr and "Traceback" not in result.stderr


def test_search_refuses_two_stores_too(built: Path):
    result = run("search", "TBEA", "--store", str(built), "--backend", "http://127.0.0.1:9/query")
    assert result.returncode == 2 and "--store and --backend" in result.stderr


def test_a_folder_that_is_not_a_store_is_refused(tmp_path: Path):
    result = run("query", "chinese-investors-by-region", "--store", str(tmp_path))
    assert result.returncode == 2
    assert "not an Oxigraph store" in result.stderr
    assert not any(tmp_path.iterdir())  # nothing was created in it


def test_a_broken_file_is_named_with_its_line(tmp_path: Path, settings: Settings):
    for folder in ("ontology", "graph", "queries"):
        shutil.copytree(settings.root / folder, tmp_path / folder)
    (tmp_path / "graph" / "typo.ttl").write_text('@prefix ex: <http://e/> .\nex:a ex:b "x .\n')
    result = run("query", "chinese-investors-by-region", root=tmp_path)
    assert result.returncode == 2
    assert f"{tmp_path / 'graph' / 'typo.ttl'}:2" in result.stderr
    assert "Traceback" not in result.stderr


def test_a_mistyped_query_name_still_gets_suggestions():
    result = run("query", "chinese-investor-by-region")
    assert result.returncode == 2
    assert "did you mean chinese-investors-by-region" in result.stderr
