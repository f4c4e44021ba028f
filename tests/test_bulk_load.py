"""`kzgraph load`: a user's RDF files into an on-disk store, checked first, graphs kept apart."""

from __future__ import annotations

import gzip
import hashlib
import re
import subprocess
import sys
from pathlib import Path

import pyoxigraph as ox

from kzgraph.store import state as store_state
from kzgraph.store.engines import OxigraphStore


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
    assert re.search(r"loaded 3 file\(s\) in [\d.]+ s; the store holds 5 quads", result.stderr)
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


def merge_of(store_path: Path) -> set[str]:
    """The default graph as N-Triples lines, blank nodes by their stored names."""
    store = ox.Store.read_only(str(store_path))
    return set(
        (store.dump(format=ox.RdfFormat.N_TRIPLES, from_graph=ox.DefaultGraph()) or b"")
        .decode()
        .splitlines()
    )


def test_the_merge_written_with_the_data_is_the_derived_merge(tmp_path: Path):
    """Loading writes the default graph in the same pass; it must equal the merge derived
    afterwards, blank nodes included, so a default-graph pattern joins a GRAPH pattern on them."""
    nq = tmp_path / "two.nq"
    nq.write_text(
        '_:q <urn:x:value> "7" <urn:x:g1> .\n'
        "<urn:x:a> <urn:x:amount> _:q <urn:x:g1> .\n"
        "<urn:x:a> <urn:x:amount> _:q <urn:x:g2> .\n"  # the same triple in two graphs
        '<urn:x:b> <urn:x:p> "in no graph" .\n'
    )
    ttl = tmp_path / "three.ttl"
    ttl.write_text("<urn:x:c> <urn:x:p> [ <urn:x:q> 1 ] .\n")
    store = tmp_path / "db"
    assert kz("load", str(nq), str(ttl), "--store", str(store)).returncode == 0
    written = merge_of(store)
    assert len(written) == 5  # the repeated triple once
    derived = OxigraphStore(store)
    derived.refresh_union()
    derived.store.flush()
    del derived
    assert merge_of(store) == written
    joined = ox.Store.read_only(str(store)).query(
        'ASK { <urn:x:a> <urn:x:amount> ?q GRAPH <urn:x:g1> { ?q <urn:x:value> "7" } }'
    )
    assert bool(joined)


def test_the_content_id_grows_with_each_load_without_reading_the_store(tmp_path: Path):
    first, second = tmp_path / "first.nt", tmp_path / "second.nt"
    first.write_text("<urn:x:a> <urn:x:p> <urn:x:b> .\n")
    second.write_text("<urn:x:c> <urn:x:p> <urn:x:d> .\n")
    one, two = tmp_path / "one", tmp_path / "two"
    assert kz("load", str(first), "--store", str(one)).returncode == 0
    after_first = store_state.read(one)
    assert after_first and after_first.content and not after_first.dirty
    assert after_first.validated and after_first.validated["key"]
    graph = "https://w3id.org/kzgraph/graph/loaded/first"
    digest = hashlib.sha256(first.read_bytes()).hexdigest()  # from the file, not the store
    assert after_first.content == store_state.with_files(f"{0:064x}", [(digest, graph)])
    kept = tmp_path / "one.answers"  # what a server kept for the data as it was
    kept.mkdir()
    (kept / "stale.answer").write_bytes(b"{}\n")
    assert kz("load", str(second), "--store", str(one)).returncode == 0
    assert not kept.exists()  # never servable again (the id changed): not left to take disk
    assert kz("load", str(second), str(first), "--store", str(two)).returncode == 0
    a, b = store_state.read(one), store_state.read(two)
    assert a and b and a.content == b.content != after_first.content  # order does not count
    assert kz("load", str(first), "--store", str(two), "--graph", "kzg:other").returncode == 0
    c = store_state.read(two)
    assert c and c.content != b.content  # the same bytes into another graph are other data


def test_a_load_into_a_store_with_a_stale_record_rederives_merge_and_id(tmp_path: Path):
    """After a crash mid-write (record dirty) the merge may be stale; a load then redoes it."""
    first = tmp_path / "first.nt"
    first.write_text("<urn:x:a> <urn:x:p> <urn:x:b> .\n")
    store = tmp_path / "db"
    assert kz("load", str(first), "--store", str(store)).returncode == 0
    stale = ox.Store(str(store))
    stale.add(ox.Quad(ox.NamedNode("urn:x:gone"), ox.NamedNode("urn:x:p"), ox.Literal("x")))
    stale.flush()
    del stale
    store_state.mark_dirty(store)
    second = tmp_path / "second.nt"
    second.write_text("<urn:x:c> <urn:x:p> <urn:x:d> .\n")
    assert kz("load", str(second), "--store", str(store)).returncode == 0
    assert not any("urn:x:gone" in line for line in merge_of(store))
    recorded = store_state.read(store)
    assert recorded and not recorded.dirty
    assert recorded.content == store_state.content_of(ox.Store.read_only(str(store)))


def test_a_store_another_process_holds_or_a_missing_parent_is_one_clear_line(tmp_path: Path):
    nt = tmp_path / "one.nt"
    nt.write_text("<urn:x:a> <urn:x:p> <urn:x:b> .\n")
    held = tmp_path / "held"
    holder = ox.Store(str(held))  # RocksDB's lock: no second writer while this is open
    result = kz("load", str(nt), "--store", str(held))
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert f"{held}: cannot open the store for writing" in result.stderr
    assert "lock" in result.stderr.lower()
    del holder
    deeper = tmp_path / "not" / "yet" / "db"  # made as `mkdir -p` would
    assert kz("load", str(nt), "--store", str(deeper)).returncode == 0
    assert quads(deeper, "https://w3id.org/kzgraph/graph/loaded/one") == 1


def _report(result: subprocess.CompletedProcess[str]) -> list[dict[str, str]]:
    assert result.returncode in (0, 1), result.stderr
    import json

    findings = json.loads(result.stdout)["findings"]
    return sorted(findings, key=lambda f: json.dumps(f, sort_keys=True))


def test_a_file_validated_while_it_loads_reports_what_the_store_validation_reports(
    tmp_path: Path, settings
):
    """One N-Quads file into an empty store is validated as written, alongside the load; its
    findings (blank focus nodes named by their owner included) are those of the store."""
    store = OxigraphStore()
    store.load_project(settings)
    # the Sinopec plant's capacity loses its unit (a blank node, named by the plant that holds it)
    store.store.update("""
        DELETE { GRAPH ?g { ?q kz:unit ?u } } WHERE {
          GRAPH ?g { ?q kz:statedAs "1.25 million tonnes per year" ; kz:unit ?u } }""",
        prefixes={"kz": "https://w3id.org/kzgraph/ontology#"})  # fmt: skip
    named = [q for q in store.store if not isinstance(q.graph_name, ox.DefaultGraph)]
    data = tmp_path / "all.nq.gz"
    with gzip.open(data, "wb") as out:
        out.write(ox.serialize(named, format=ox.RdfFormat.N_QUADS) or b"")
    db = tmp_path / "db"
    loaded = kz("load", str(data), "--store", str(db))
    assert loaded.returncode == 0, loaded.stderr
    assert "validating the file (shacl engine) while it loads" in loaded.stderr
    found = re.search(r"does not conform: (\d+) finding", loaded.stderr)
    assert found, loaded.stderr
    again = _report(kz("validate", "--store", str(db), "--format", "json"))
    assert int(found.group(1)) == len(again) > 0
    assert any("→" in f["focus_label"] for f in again)  # a blank node, named by its owner
    # the same data loaded the other way (two files: the store is dumped and validated)
    half = tmp_path / "half.nq"
    half.write_bytes(ox.serialize(named[:10], format=ox.RdfFormat.N_QUADS) or b"")
    rest = tmp_path / "rest.nq"
    rest.write_bytes(ox.serialize(named[10:], format=ox.RdfFormat.N_QUADS) or b"")
    other = kz("load", str(half), str(rest), "--store", str(tmp_path / "db2"))
    assert "validating the store (shacl engine)" in other.stderr
    assert f"does not conform: {found.group(1)} finding" in other.stderr
