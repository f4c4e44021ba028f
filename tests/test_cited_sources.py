"""Sources cited by reference: registered by address, their facts cited with the curator's words.

No text of such a source is kept, so its facts carry a locator (where the fact stands, in the
curator's words) instead of a quotation, figures keep only their short phrase (whose number
must be the figure), and a status is the curator's reading. Each rule is tested where it
bites: the registry, the import's cell checks, the shapes, the lint, and the review tools.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from rdflib import URIRef
from rdflib.namespace import PROV, RDFS

from kzgraph.core.errors import KzgraphError
from kzgraph.core.namespaces import KZ
from kzgraph.core.settings import Settings
from kzgraph.curation.importing import import_table
from kzgraph.curation.review import lookalikes, review
from kzgraph.graph.loading import load
from kzgraph.sources.registry import cite, records, source_iri
from kzgraph.validation.lint import ERROR, lint
from kzgraph.validation.report import validate

from .test_import import copy_project, write_table

URL = "https://example.org/news/2024/chinese-firm-plans-plant"
HUADIAN = "160 MW gas-steam power plant in Mangystau Region with China Huadian"


def cited(root: Path) -> str:
    done = cite(
        URL, Settings.discover(root), title="Chinese firm plans plant", publisher="Example News",
        date="2024-10-24", retrieved="2026-12-06", description="A test article, by reference.",
    )  # fmt: skip
    return done.record.id


def huadian_row(source: str, **changes: str) -> dict[str, str]:
    row = {
        "source": source,
        "locator": "fourth paragraph, on the Mangystau gas plant and its cost",
        "firm": "China Huadian Corporation", "firm_country": "CN", "role": "partner",
        "project": HUADIAN, "project_type": "EnergyProject", "region": "Mangystau Region",
        "amount": "190000000", "currency": "USD", "amount_stated": "$190 million",
        "status": "announced", "status_reading": "updates shared with Kazakh Invest",
        "quantity": "300", "quantity_unit": "count", "quantity_measure": "jobs",
        "quantity_stated": "300 jobs",
    }  # fmt: skip
    return {**row, **changes}


def test_citing_records_the_address_not_the_text(tmp_path):
    root = copy_project(tmp_path)
    source = cited(root)
    [rec] = [r for r in records(Settings.discover(root)) if r.id == source]
    assert rec.cited and rec.file is None and rec.url == URL and rec.sha256 is None
    assert not any((root / "sources").glob(f"{source}*"))  # no copy of any text
    again = cite(
        URL, Settings.discover(root), title="x", publisher="y", retrieved="2026-12-06",
        description="z",
    )  # fmt: skip
    assert not again.created and again.record.id == source
    assert validate(
        dataset=load(Settings.discover(root)), settings=Settings.discover(root)
    ).conforms
    for bad, message in (
        ({"url": "ftp://example.org/x"}, "http"),
        ({"retrieved": "06.12.2026"}, "YYYY-MM-DD"),
        ({"title": " "}, "headline"),
    ):
        args = {"url": URL + "/other", "title": "T", "retrieved": "2026-12-06", **bad}
        with pytest.raises(KzgraphError, match=message):
            cite(
                args["url"], Settings.discover(root), title=args["title"], publisher="P",
                retrieved=args["retrieved"], description="D",
            )  # fmt: skip


def test_a_cited_row_imports_with_its_locator_and_phrase(tmp_path):
    root = copy_project(tmp_path)
    settings = Settings.discover(root)
    source = cited(root)
    table = write_table(tmp_path / "t.csv", [huadian_row(source)])
    result = import_table(table, settings)
    assert result.report.conforms, result.report.to_text()
    ds = load(settings)
    locators = {str(q[2]) for q in ds.quads((None, KZ.locator, None, None))}
    assert "fourth paragraph, on the Mangystau gas plant and its cost" in locators
    readings = {str(q[2]) for q in ds.quads((None, KZ.statusReading, None, None))}
    assert "updates shared with Kazakh Invest" in readings  # a second stage, in our words
    assert not [f for f in lint(settings) if f.severity == ERROR]
    shown = review(settings, source).to_text()
    assert "[locator] fourth paragraph" in shown and "'$190 million'" in shown
    assert "measure:jobs 300 kzu:count stated as '300 jobs'" in shown
    assert "stage status:announced, read as 'updates shared with Kazakh Invest'" in shown


def test_an_article_restating_the_graph_still_counts_as_a_source(tmp_path):
    # a second article with the seeds' $800 million for Fufeng's plant adds no figure, but its
    # locator is cited by the firm and the project it names: the source is not registered in vain
    root = copy_project(tmp_path)
    settings = Settings.discover(root)
    source = cited(root)
    fufeng = "Fufeng Group corn processing plant in Zhambyl Region"
    row = {
        "source": source, "locator": "first paragraph, on Fufeng's investment agreement",
        "firm": "Fufeng Group", "firm_country": "CN", "role": "investor", "project": fufeng,
        "region": "Zhambyl Region", "amount": "800000000", "currency": "USD",
        "amount_stated": "800 million US dollars",
    }  # fmt: skip
    amounts = len(list(load(settings).quads((None, KZ.amount, None, None))))
    result = import_table(write_table(tmp_path / "t.csv", [row]), settings)
    assert result.report.conforms, result.report.to_text()
    ds = load(settings)
    src = source_iri(source)
    citing = {
        s for s, _, d, _ in ds.quads((None, PROV.qualifiedDerivation, None, None))
        if any(ds.quads((d, PROV.entity, src, None)))
    }  # fmt: skip
    assert {str(ds.value(s, RDFS.label)) for s in citing} == {fufeng, "Fufeng Group"}
    assert len(list(ds.quads((None, KZ.amount, None, None)))) == amounts  # no second figure
    assert not [f for f in lint(settings) if f.severity == ERROR]
    assert fufeng in review(settings, source).to_text()


def test_the_same_figure_with_another_hedge_is_a_second_claim(tmp_path):
    # the seeds give Fufeng's plant "$800 million"; an article saying "about $800 million" is a
    # claim of its own: kept with its words and source, not dropped as a repeat
    root = copy_project(tmp_path)
    settings = Settings.discover(root)
    source = cited(root)
    fufeng = URIRef("https://w3id.org/kzgraph/id/project/fufeng-corn-processing-plant")
    row = {
        "source": source, "locator": "second paragraph, on the plant's estimated cost",
        "firm": "Fufeng Group", "role": "investor",
        "project": "Fufeng Group corn processing plant in Zhambyl Region",
        "amount": "800000000", "currency": "USD", "amount_stated": "about $800 million",
        "amount_qualifier": "about",
    }  # fmt: skip

    def hedges() -> list[str]:
        ds = load(settings)
        out = []
        for _s, _p, a, g in ds.quads((fufeng, KZ.amount, None, None)):
            graph = ds.graph(g)
            if float(graph.value(a, KZ.value)) == 800_000_000:
                out.append(str(graph.value(a, KZ.qualifier) or ""))
        return sorted(out)

    before = hedges()
    result = import_table(write_table(tmp_path / "t.csv", [row]), settings)
    assert result.report.conforms, result.report.to_text()
    assert hedges() == sorted([*before, "about"])
    again = import_table(write_table(tmp_path / "t2.csv", [row, row]), settings)
    assert hedges() == sorted([*before, "about"]), "the same hedge again is a repeat"
    assert again.report.conforms


@pytest.mark.parametrize(
    ("changes", "column", "message"),
    [
        ({"quotation": "Jiang Yi shared updates on a plant."}, "quotation", "keeps no text"),
        ({"locator": ""}, "locator", "in your own words"),
        ({"amount_stated": "$19 million"}, "amount_stated", "says 19000000"),
        (
            {"amount_stated": "a $190 million combined-cycle gas plant in the Mangystau Region"},
            "amount_stated",
            "not a short figure phrase",
        ),
        (
            {"status_stated": "set to begin", "status_reading": ""},
            "status_stated",
            "status_reading",
        ),
        ({"quantity_unit": "gigajoule"}, "quantity_unit", "is not one of"),
    ],
)
def test_a_cited_row_breaking_a_rule_is_refused(tmp_path, changes, column, message):
    root = copy_project(tmp_path)
    source = cited(root)
    table = write_table(tmp_path / "t.csv", [huadian_row(source, **changes)])
    with pytest.raises(KzgraphError) as refused:
        import_table(table, Settings.discover(root), dry_run=True)
    text = str(refused.value)
    assert f"column {column!r}" in text and message in text, text


def test_a_quoted_source_takes_no_locator(tmp_path):
    root = copy_project(tmp_path)
    row = huadian_row("002_97890c3330489398", quotation="In the Mangystau region")
    with pytest.raises(KzgraphError, match="locator is for sources cited by reference"):
        import_table(write_table(tmp_path / "t.csv", [row]), Settings.discover(root), dry_run=True)


def _append_graph(root: Path, source: str, body: str) -> None:
    path = root / "graph" / "documents" / f"{source}.trig"
    text = path.read_text(encoding="utf-8").rstrip().removesuffix("}")
    path.write_text(text + body + "\n}\n", encoding="utf-8")


def test_the_lint_keeps_a_cited_facts_words_short(tmp_path):
    root = copy_project(tmp_path)
    source = cited(root)
    _append_graph(
        root,
        source,
        f"""
<https://w3id.org/kzgraph/id/project/test-plant> a kz:EnergyProject ;
    rdfs:label "Test plant"@en ; kz:status <https://w3id.org/kzgraph/vocab/status/planned> ;
    kz:statusStatedAs "with construction set to begin at the end of this year" ;
    prov:qualifiedDerivation <https://w3id.org/kzgraph/id/source/{source}/locator/l-1> .
<https://w3id.org/kzgraph/id/source/{source}/locator/l-1> a prov:Derivation ;
    prov:entity source:{source} ; kz:locator "fourth paragraph, on the test plant" .""",
    )
    found = [f for f in lint(Settings.discover(root)) if f.check == "cited-words-kept"]
    assert found and found[0].severity == ERROR and "kz:statusReading" in found[0].message
    assert "test-plant" in found[0].term


def test_shapes_refuse_a_quotation_of_a_cited_source(tmp_path):
    root = copy_project(tmp_path)
    source = cited(root)
    _append_graph(
        root,
        source,
        f"""
<https://w3id.org/kzgraph/id/source/{source}/quote/q-1> a prov:Derivation ;
    prov:entity source:{source} ; kz:quotation "A sentence copied from the article." .""",
    )
    settings = Settings.discover(root)
    report = validate(dataset=load(settings), settings=settings)
    assert not report.conforms
    assert "never a kz:quotation" in report.to_text()


def test_lookalikes_list_a_second_copy_of_a_firm(tmp_path):
    root = copy_project(tmp_path)
    source = cited(root)
    _append_graph(
        root,
        source,
        f"""
<https://w3id.org/kzgraph/id/company/sinopec-corp> a kz:Company ; rdfs:label "Sinopec Corp."@en ;
    prov:qualifiedDerivation <https://w3id.org/kzgraph/id/source/{source}/locator/l-2> .
<https://w3id.org/kzgraph/id/source/{source}/locator/l-2> a prov:Derivation ;
    prov:entity source:{source} ; kz:locator "second paragraph, on the firm's partner" .""",
    )
    found = lookalikes(Settings.discover(root))
    pairs = {(f.iri.rsplit("/", 1)[-1], f.other.rsplit("/", 1)[-1]) for f in found}
    assert ("sinopec-corp", "sinopec") in pairs
    assert all(f.score >= 0.85 for f in found)


def test_stats_prints_the_summary_and_the_networks_largest_component(tmp_path):
    root = copy_project(tmp_path)
    cited(root)
    done = subprocess.run(
        [sys.executable, "-m", "kzgraph", "--root", str(root), "stats"],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    lines = {line.split("  ")[1].strip(): line.split()[-1] for line in done.stdout.splitlines()
             if line.startswith("  ") and len(line.split("  ")) > 2}  # fmt: skip
    assert lines["sources cited by reference"] == "1"
    assert int(lines["company-project: largest component, of nodes"]) <= int(
        lines["company-project: nodes"]
    )
    assert int(lines["projects"]) >= 37 and int(lines["regions with projects"]) >= 1
    assert URIRef(f"https://w3id.org/kzgraph/id/source/{cited(root)}")
