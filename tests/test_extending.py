"""docs/extending.md, followed step by step on a copy of the project, must work."""

from __future__ import annotations

import re
import shutil

import pytest

from kzgraph.core.settings import Settings
from kzgraph.docs.catalogue_page import catalogue_markdown
from kzgraph.graph.loading import load
from kzgraph.queries.catalogue import load_catalogue
from kzgraph.queries.running import run_saved
from kzgraph.store.engines import open_store
from kzgraph.validation.lint import ERROR, lint
from kzgraph.validation.report import validate

from .conftest import CHECKOUT, ROOT  # the seeded project, and the checkout for tests/

GUIDE = ROOT / "docs" / "extending.md"
BLOCK = re.compile(
    r"```\w+ file=(?P<file>\S+) mode=(?P<mode>append|create)\n(?P<body>.*?)```", re.S
)


@pytest.fixture(scope="module")
def extended(tmp_path_factory) -> Settings:
    root = tmp_path_factory.mktemp("project")
    for folder in ("ontology", "graph", "queries", "sources", "tests"):
        shutil.copytree(
            (CHECKOUT if folder == "tests" else ROOT) / folder,
            root / folder,
            ignore=shutil.ignore_patterns("node_modules", "__pycache__"),
        )
    blocks = list(BLOCK.finditer(GUIDE.read_text(encoding="utf-8")))
    assert len(blocks) >= 6, "the guide lost its file blocks"
    for block in blocks:
        target = root / block["file"]
        if block["mode"] == "append":
            assert target.exists(), f"the guide appends to {block['file']}, which does not exist"
            target.write_text(
                target.read_text(encoding="utf-8") + "\n" + block["body"], encoding="utf-8"
            )
        else:
            assert not target.exists(), f"the guide creates {block['file']}, which already exists"
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(block["body"], encoding="utf-8")
    settings = Settings.discover(root)
    (root / "queries" / "README.md").write_text(catalogue_markdown(load_catalogue(settings)))
    return settings


def test_lint_passes(extended):
    errors = [f for f in lint(extended) if f.severity == ERROR]
    assert errors == []


def test_validation_passes(extended):
    report = validate(extended)
    assert report.conforms, report.to_text()


def test_new_query_finds_khorgos(extended, seed_texts):
    store = open_store("oxigraph", dataset=load(extended))
    rows = run_saved("economic-zones", store=store, settings=extended).dicts()
    assert [str(r["zone"]) for r in rows] == [
        "https://w3id.org/kzgraph/id/facility/khorgos-international-center"
    ]
    assert str(rows[0]["purpose"]) in seed_texts["001_eb158449043a4115"]


def test_new_shape_fixtures_behave(extended):
    from kzgraph.core.namespaces import ONTOLOGY_GRAPH
    from kzgraph.graph.loading import load_shapes
    from tests.test_shapes import _results_for

    shapes = load_shapes(extended)
    ontology = load(extended).graph(ONTOLOGY_GRAPH)
    fixtures = extended.root / "tests" / "fixtures" / "shapes"
    assert (
        _results_for(
            "EconomicZoneShape", fixtures / "EconomicZoneShape-valid.ttl", shapes, ontology
        )
        == []
    )
    failed = _results_for(
        "EconomicZoneShape", fixtures / "EconomicZoneShape-invalid.ttl", shapes, ontology
    )
    assert any("an economic zone needs kz:zonePurpose" in m for m in failed)


def test_lint_would_have_caught_a_missing_shape(extended, tmp_path):
    broken = tmp_path / "broken"
    for folder in ("ontology", "graph", "queries", "sources"):
        shutil.copytree(extended.root / folder, broken / folder)
    shapes = broken / "ontology" / "shapes.ttl"
    shapes.write_text(shapes.read_text().split("kzsh:EconomicZoneShape a sh:NodeShape")[0])
    found = [(f.check, f.term) for f in lint(Settings.discover(broken)) if f.severity == ERROR]
    assert ("class-without-shape", "https://w3id.org/kzgraph/ontology#EconomicZone") in found
