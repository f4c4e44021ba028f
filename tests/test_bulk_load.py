"""`kzgraph load`: a user's RDF files into an on-disk store, checked first, graphs kept apart."""

from __future__ import annotations

import gzip
import subprocess
import sys
from pathlib import Path

import pyoxigraph as ox


def kz(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "kzgraph", *args], capture_output=True, text=True, timeout=300
    )


def quads(store_path: Path, graph: str) -> int:
    store = ox.Store.read_only(str(store_path))
    return sum(1 for _ in store.quads_for_pattern(None, None, None, ox.NamedNode(graph)))


def test_formats_gzip_graphs_and_the_merge(tmp_path: Path):
    ttl = tmp_path / "firms.ttl"
    ttl.write_text("<urn:x:a> <urn:x:p> 1 .\n<urn:x:b> <urn:x:p> 2 .\n")
    nq = tmp_path / "more.nq.gz"
    with gzip.open(nq, "wt") as out:
        out.write('<urn:x:c> <urn:x:p> "3" <urn:x:g> .\n<urn:x:d> <urn:x:p> "4" .\n')
    jsonld = tmp_path / "one.jsonld"
    jsonld.write_text('{"@id": "urn:x:e", "urn:x:p": "five"}')
    store = tmp_path / "db"
    result = kz("load", str(ttl), str(nq), str(jsonld), "--store", str(store))
    assert result.returncode == 0, result.stderr
    assert "loaded 3 file(s); the store holds 5 quads" in result.stderr
    assert quads(store, "https://w3id.org/kzgraph/graph/loaded/firms") == 2
    assert quads(store, "urn:x:g") == 1
    assert quads(store, "https://w3id.org/kzgraph/graph/loaded/more") == 1  # its default graph
    assert quads(store, "https://w3id.org/kzgraph/graph/loaded/one") == 1
    merged = ox.Store.read_only(str(store))
    assert len(list(merged.quads_for_pattern(None, None, None, ox.DefaultGraph()))) == 5


def test_graph_option_names_the_target(tmp_path: Path):
    nt = tmp_path / "x.nt"
    nt.write_text("<urn:x:a> <urn:x:p> <urn:x:b> .\n")
    store = tmp_path / "db"
    assert kz("load", str(nt), "--store", str(store), "--graph", "kzg:mine").returncode == 0
    assert quads(store, "https://w3id.org/kzgraph/graph/mine") == 1


def test_a_syntax_error_names_file_and_line_and_writes_nothing(tmp_path: Path):
    good = tmp_path / "good.ttl"
    good.write_text("<urn:x:a> <urn:x:p> 1 .\n")
    bad = tmp_path / "bad.ttl"
    bad.write_text("<urn:x:a> <urn:x:p> 1 .\n<urn:x:b> <urn:x:p> .\n")
    store = tmp_path / "db"
    result = kz("load", str(good), str(bad), "--store", str(store))
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert "bad.ttl: syntax error" in result.stderr and "line 2" in result.stderr
    assert not store.exists() or quads(store, "https://w3id.org/kzgraph/graph/loaded/good") == 0
    unknown = tmp_path / "data.csv"
    unknown.write_text("a,b\n")
    assert "unknown RDF file extension" in kz("load", str(unknown), "--store", str(store)).stderr


def test_a_syntax_error_leaves_a_store_with_data_as_it_was(tmp_path: Path):
    """A store that holds data is written only after every file parsed."""
    first = tmp_path / "first.nt"
    first.write_text("<urn:x:a> <urn:x:p> <urn:x:b> .\n")
    store = tmp_path / "db"
    assert kz("load", str(first), "--store", str(store)).returncode == 0
    good = tmp_path / "good.ttl"
    good.write_text("<urn:x:c> <urn:x:p> 1 .\n")
    bad = tmp_path / "bad.ttl"
    bad.write_text("<urn:x:d> <urn:x:p> .\n")
    result = kz("load", str(good), str(bad), "--store", str(store))
    assert result.returncode == 2 and "bad.ttl: syntax error" in result.stderr
    assert quads(store, "https://w3id.org/kzgraph/graph/loaded/first") == 1
    assert quads(store, "https://w3id.org/kzgraph/graph/loaded/good") == 0
