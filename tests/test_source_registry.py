"""Sources as records: the registry, `kzgraph source add`, and the lint checks that hold every
quotation to its registered text, on the real seeds and on deliberately broken copies."""

from __future__ import annotations

import hashlib
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from rdflib import URIRef
from rdflib.namespace import DCTERMS

from kzgraph.core.errors import KzgraphError
from kzgraph.core.settings import Settings
from kzgraph.graph.loading import load
from kzgraph.sources.registry import normalise_quote, records, register, table_rows
from kzgraph.validation.lint import ERROR, lint
from kzgraph.validation.report import validate

from .test_maintainers import copy_project, edit

SEED_GRAPH = "graph/seed/002_astana_forum.trig"
FUFENG = "China’s Fufeng Group plans to invest $800 million in building a plant capable of processing 1 million tons of corn annually."


def kzgraph(root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "kzgraph", "--root", str(root), *args],
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_the_five_seeds_are_registered_with_their_own_bytes(settings: Settings):
    recs = {r.id: r for r in records(settings)}
    seeds = sorted(settings.seeds_dir.glob("*.txt"))
    assert len(seeds) == 5
    for seed in seeds:
        rec = recs[seed.stem]
        assert rec.file.read_bytes() == seed.read_bytes(), f"sources/ copy of {seed.name} differs"
        assert rec.sha256 == hashlib.sha256(seed.read_bytes()).hexdigest()
        assert rec.title, f"{seed.stem} has no title"


def test_registry_records_agree_with_the_seed_graphs(dataset):
    # The record repeats what each seed graph says of its article, so nothing conflicts.
    for rec in records():
        titles = set(dataset.objects(rec.iri, DCTERMS.title))
        assert len(titles) == 1, f"{rec.id} has titles {titles}"


def test_source_add_registers_keeps_bytes_and_prepares_a_graph(tmp_path):
    root = copy_project(tmp_path / "p")
    article = tmp_path / "article.txt"
    article.write_text(
        "Astana hosts a trade fair\n\nOn 3 March the organisers said “it will host $5 million in talks”.\n",
        encoding="utf-8",
    )
    sha = hashlib.sha256(article.read_bytes()).hexdigest()
    done = kzgraph(
        root,
        "source", "add", str(article),
        "--description", "A made-up article for this test.",
        "--publisher", "Test desk", "--date", "2026-03-03", "--url", "https://example.org/a",
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    source_id = f"005_{sha[:16]}"
    assert source_id in done.stdout
    kept = root / "sources" / f"{source_id}.txt"
    assert kept.read_bytes() == article.read_bytes()
    graph_file = root / "graph" / "documents" / f"{source_id}.trig"
    assert graph_file.exists()
    ds = load(Settings.discover(root))
    iri = URIRef(f"https://w3id.org/kzgraph/id/source/{source_id}")
    assert str(ds.value(iri, DCTERMS.title)) == "Astana hosts a trade fair"
    assert str(ds.value(iri, DCTERMS.issued)) == "2026-03-03"
    assert validate(Settings.discover(root), ds).conforms
    assert not [f for f in lint(Settings.discover(root)) if f.severity == ERROR]
    again = kzgraph(root, "source", "add", str(article), "--description", "x")
    assert again.returncode == 0 and "already registered" in again.stdout
    # the same article saved again with CRLF line endings and straight quotes: not a new source
    resaved = tmp_path / "resaved.txt"
    resaved.write_bytes(
        article.read_text(encoding="utf-8").replace("\n", "\r\n").replace("“", '"')
        .replace("”", '"').encode("utf-8")
    )  # fmt: skip
    before = sorted(p.name for p in (root / "sources").iterdir())
    third = kzgraph(root, "source", "add", str(resaved), "--description", "x")
    assert third.returncode == 0, third.stderr
    assert f"already registered as {source_id} (the same text" in third.stdout
    assert sorted(p.name for p in (root / "sources").iterdir()) == before
    # a changed word is another text
    edited = tmp_path / "edited.txt"
    edited.write_text(
        article.read_text(encoding="utf-8").replace("$5 million", "$6 million"), encoding="utf-8"
    )
    fourth = kzgraph(root, "source", "add", str(edited), "--description", "A corrected copy.")
    assert fourth.returncode == 0 and "registered 006_" in fourth.stdout, fourth.stdout
    listing = kzgraph(root, "source", "list")
    assert f"{source_id}" in listing.stdout and "ok" in listing.stdout


@pytest.mark.parametrize(
    "args,message",
    [
        (["--description", "x", "--date", "March 2026"], "--date"),
        (["--description", "x", "--url", "file:///etc/passwd"], "--url"),
        (["--description", " "], "--description"),
    ],
)
def test_source_add_refuses_bad_metadata_and_writes_nothing(tmp_path, args, message):
    root = copy_project(tmp_path / "p")
    before = (root / "graph" / "sources.trig").read_bytes()
    article = tmp_path / "a.txt"
    article.write_text("Headline\nBody.\n", encoding="utf-8")
    done = kzgraph(root, "source", "add", str(article), *args)
    assert done.returncode == 2 and message in done.stderr and "Traceback" not in done.stderr
    assert (root / "graph" / "sources.trig").read_bytes() == before


def test_source_add_refuses_unreadable_files(tmp_path):
    root = copy_project(tmp_path / "p")
    binary = tmp_path / "a.txt"
    binary.write_bytes(b"\xff\xfe\x00bad")
    with pytest.raises(KzgraphError, match="not UTF-8"):
        register(binary, Settings.discover(root), description="x")
    with pytest.raises(KzgraphError, match="first line is not a headline"):
        long = tmp_path / "b.txt"
        long.write_text("word " * 100 + "\n", encoding="utf-8")
        register(long, Settings.discover(root), description="x")


# ---- the lint checks against registered texts ---------------------------------------------------

BROKEN = [
    (
        "quotation-not-in-source",
        SEED_GRAPH,
        "plans to invest $800 million in building",
        "plans to invest $900 million in building",
        "https://w3id.org/kzgraph/id/source/002_97890c3330489398/quote/fufeng-2",
    ),
    (
        "stated-not-in-quotation",
        SEED_GRAPH,
        'kz:statedAs "$420 million"',
        'kz:statedAs "$421 million"',
        "https://w3id.org/kzgraph/id/project/xinjiang-lihua-cotton-cluster",
    ),
    (
        "unregistered-source",
        SEED_GRAPH,
        "q:bundle a prov:Derivation ; prov:entity source:002_97890c3330489398",
        "q:bundle a prov:Derivation ; prov:entity source:999_0000000000000000",
        "https://w3id.org/kzgraph/id/source/002_97890c3330489398/quote/bundle",
    ),
    (
        "value-not-stated",
        SEED_GRAPH,
        "kz:value 420000000.0 ;",
        "kz:value 42000000.0 ;",
        "https://w3id.org/kzgraph/id/project/xinjiang-lihua-cotton-cluster",
    ),
]


@pytest.mark.parametrize("check,file,old,new,term", BROKEN, ids=[b[0] for b in BROKEN])
def test_lint_holds_quotations_to_their_source(tmp_path, check, file, old, new, term):
    """Each finding names the file and the line that holds the words, and validate fails too."""
    root = copy_project(tmp_path)
    edit(root / file, old, new)
    hits = [f for f in lint(Settings.discover(root)) if f.check == check]
    assert [(f.severity, f.file.rsplit(":", 1)[0], f.term) for f in hits] == [(ERROR, file, term)]
    line = int(hits[0].file.rsplit(":", 1)[1])
    held = (root / file).read_text(encoding="utf-8").splitlines()[line - 1]
    assert line > 1 and held.strip(), held
    done = kzgraph(root, "validate", "--no-cache")
    assert done.returncode == 1, done.stdout + done.stderr
    assert f"{check}:" in done.stdout and f"{file}:{line}" in done.stdout, done.stdout


def test_lint_reports_a_changed_text_with_the_facts_that_cite_it(tmp_path, dataset):
    citing = dataset.query(
        """SELECT (COUNT(DISTINCT ?e) AS ?n) WHERE {
             ?e prov:qualifiedDerivation ?d . ?d prov:entity source:002_97890c3330489398 .
             FILTER(isIRI(?e)) }""",
        initNs={
            "prov": "http://www.w3.org/ns/prov#",
            "source": "https://w3id.org/kzgraph/id/source/",
        },
    )
    count = int(next(iter(citing))[0])
    root = copy_project(tmp_path)
    edit(root / "sources/002_97890c3330489398.txt", "$800 million", "$900 million")
    findings = lint(Settings.discover(root))
    changed = [f for f in findings if f.check == "source-changed"]
    assert len(changed) == 1
    assert changed[0].file == "sources/002_97890c3330489398.txt"
    assert "Fufeng Group" in changed[0].message and f"{count} fact(s) cite it" in changed[0].message
    assert "Roman Sklyar" not in changed[0].message  # its quotation still reads the same
    # and the one quotation that no longer matches is named too
    moved = [f for f in findings if f.check == "quotation-not-in-source"]
    assert [f.term.rsplit("/", 1)[-1] for f in moved] == ["fufeng-2"]


def test_lint_reports_a_lost_text(tmp_path):
    root = copy_project(tmp_path)
    (root / "sources/004_2b059f08c0a5d038.txt").unlink()
    assert [f.check for f in lint(Settings.discover(root)) if f.severity == ERROR] == [
        "source-missing"
    ]


def test_lint_accepts_typographic_variants_of_a_quotation(tmp_path):
    root = copy_project(tmp_path)
    edit(root / SEED_GRAPH, FUFENG, FUFENG.replace("’", "'").replace(" ", "  "))
    assert not [f for f in lint(Settings.discover(root)) if f.severity == ERROR]


@given(st.text(alphabet=st.sampled_from("ab ’'“”\"—–-\n\t\u00a0"), max_size=40))
def test_normalise_quote_is_idempotent_and_keeps_no_typographic_marks(text):
    once = normalise_quote(text)
    assert normalise_quote(once) == once
    assert not set(once) & set("’“”—–\n\t\u00a0")
    assert "  " not in once


def test_table_rows_number_rows_as_a_spreadsheet_does(tmp_path):
    table = tmp_path / "t.csv"
    table.write_text('firm,amount\nFufeng Group,"800,000"\n\nTBEA,1\n', encoding="utf-8")
    assert [(n, cells["firm"], record) for n, cells, record in table_rows(table)] == [
        (2, "Fufeng Group", 'Fufeng Group,"800,000"'),
        (4, "TBEA", "TBEA,1"),
    ]
    bad = tmp_path / "bad.csv"
    bad.write_text("a,b\n1,2,3\n", encoding="utf-8")
    with pytest.raises(KzgraphError, match=r"bad\.csv:2: row has 3 cells"):
        list(table_rows(bad))
