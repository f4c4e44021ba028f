"""The maintainers' tools on the real ontology and on deliberately broken copies: lint, inference,
diff and the documentation site."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from rdflib import RDF, URIRef

from kzgraph.core.errors import KzgraphError
from kzgraph.core.namespaces import ORG, entity
from kzgraph.core.settings import Settings
from kzgraph.graph.diff import diff
from kzgraph.graph.loading import load
from kzgraph.store.engines import open_store
from kzgraph.validation.inference import INFERRED, expand
from kzgraph.validation.lint import ERROR, INFO, WARNING, lint
from kzgraph.validation.report import validate

from .conftest import CHECKOUT, ROOT  # the seeded project, and the git checkout


def copy_project(tmp_path: Path) -> Path:
    for folder in ("ontology", "graph", "queries", "sources"):
        shutil.copytree(ROOT / folder, tmp_path / folder)
    return tmp_path


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert old in text, f"{old!r} not in {path}"
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


# ---- lint ----------------------------------------------------------------------------------


def test_lint_has_no_error_on_main():
    findings = lint()
    assert [f for f in findings if f.severity == ERROR] == []


BREAKAGES = [
    # (file, old, new, check, term)
    (
        "graph/seed/002_astana_forum.trig",
        "kz:investor company:fufeng-group",
        "kz:invester company:fufeng-group",
        "undeclared-term",
        "https://w3id.org/kzgraph/ontology#invester",
    ),
    (
        "ontology/kzgraph.ttl",
        'rdfs:label "Company"@en ;',
        "",
        "missing-label",
        "https://w3id.org/kzgraph/ontology#Company",
    ),
    (
        "ontology/kzgraph.ttl",
        'skos:definition "A commercial enterprise: a corporation, group, holding or joint-stock company."@en ;',
        "",
        "missing-definition",
        "https://w3id.org/kzgraph/ontology#Company",
    ),
    (
        "ontology/kzgraph.ttl",
        'rdfs:label "Forum"@en ;',
        'rdfs:label "Forum "@en ;',
        "label-whitespace",
        "https://w3id.org/kzgraph/ontology#Forum",
    ),
    (
        "ontology/kzgraph.ttl",
        'rdfs:label "Summit"@en ;',
        'rdfs:label "Forum"@en ;',
        "duplicate-label",
        "https://w3id.org/kzgraph/ontology#Forum, https://w3id.org/kzgraph/ontology#Summit",
    ),
    (
        "ontology/shapes.ttl",
        "sh:targetClass kz:GovernmentBody ;",
        "",
        "class-without-shape",
        "https://w3id.org/kzgraph/ontology#GovernmentBody",
    ),
    (
        "ontology/shapes.ttl",
        "sh:path kz:stateOwned ;",
        "sh:path kz:stateOwnd ;",
        "shape-path-undeclared",
        "https://w3id.org/kzgraph/ontology#stateOwnd",
    ),
    (
        "ontology/kzgraph.ttl",
        "rdfs:subClassOf kz:Organization, org:FormalOrganization, schema:Corporation .",
        "rdfs:subClassOf kz:Organization, org:FormalOrganization, schema:Corporation .\nkz:Organization rdfs:subClassOf kz:Company .",
        "subclass-cycle",
        "https://w3id.org/kzgraph/ontology#Company",
    ),
    (
        "graph/seed/001_kazakhstan_china_ties.trig",
        "kz:edition 2 ;",
        'kz:edition "second" ;',
        "range-mismatch",
        None,
    ),
    (
        "queries/timeline.rq",
        "kz:launchYear",
        "kz:launchYr",
        "undeclared-term",
        "https://w3id.org/kzgraph/ontology#launchYr",
    ),
    (
        "ontology/kzgraph.ttl",
        'rdfs:label "brand"@en ;',
        'rdfs:label "brand"@en ;\n    owl:deprecated true ;',
        "deprecated-in-use",
        "https://w3id.org/kzgraph/ontology#brand",
    ),
    (
        "ontology/kzgraph.ttl",
        "kz:stateOwned a owl:DatatypeProperty ;",
        'kz:neverUsed a owl:DatatypeProperty ; rdfs:label "never used"@en ; skos:definition "x"@en .\nkz:stateOwned a owl:DatatypeProperty ;',
        "unused-term",
        "https://w3id.org/kzgraph/ontology#neverUsed",
    ),
    (
        # the resource project constraint as first written: 404 s on a 200k-quad load
        "ontology/shapes.ttl",
        "{ ?sector skos:broader* <https://w3id.org/kzgraph/vocab/sector/oil-and-gas> }\n"
        "                    UNION { ?sector skos:broader* <https://w3id.org/kzgraph/vocab/sector/mining> }",
        "?sector skos:broader* ?broad FILTER (?broad IN (<https://w3id.org/kzgraph/vocab/sector/mining>))",
        "shape-sparql-open-path",
        "https://w3id.org/kzgraph/shapes#ResourceProjectShape",
    ),
    (
        "ontology/shapes.ttl",
        "$this a kz:ResourceProject .",
        "$this a .",
        "shape-sparql-broken",
        "https://w3id.org/kzgraph/shapes#ResourceProjectShape",
    ),
]


@pytest.mark.parametrize("file,old,new,check,term", BREAKAGES, ids=[b[3] for b in BREAKAGES])
def test_lint_catches(tmp_path, file, old, new, check, term):
    root = copy_project(tmp_path)
    edit(root / file, old, new)
    findings = lint(Settings.discover(root))
    hits = [f for f in findings if f.check == check and (term is None or f.term == term)]
    assert hits, f"lint did not report {check} for {term}"
    severity = hits[0].severity
    assert severity == {
        "duplicate-label": WARNING,
        "label-whitespace": WARNING,
        "deprecated-in-use": WARNING,
        "unused-term": INFO,
        "shape-sparql-open-path": WARNING,
    }.get(check, ERROR)
    assert hits[0].file


def test_lint_cli_exit_status_and_json(tmp_path):
    ok = subprocess.run(
        [sys.executable, "-m", "kzgraph", "lint", "--format", "json"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert ok.returncode == 0
    assert all(f["severity"] != "ERROR" for f in json.loads(ok.stdout))
    root = copy_project(tmp_path)
    edit(
        root / "graph/seed/002_astana_forum.trig",
        "kz:investor company:fufeng-group",
        "kz:invester company:fufeng-group",
    )
    bad = subprocess.run(
        [sys.executable, "-m", "kzgraph", "--root", str(root), "lint"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert bad.returncode == 1
    assert "graph/seed/002_astana_forum.trig" in bad.stdout and "invester" in bad.stdout


# ---- inference --------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def inferred():
    return expand(load(), "rdfs")


def test_superclass_queries_find_subclass_members(inferred):
    store = open_store("oxigraph", dataset=inferred)
    orgs = {r[0] for r in store.query("SELECT ?x WHERE { ?x a org:Organization }").rows}
    assert URIRef(entity("company", "tbea")) in orgs
    plain = open_store("oxigraph")
    assert plain.query("ASK { company:tbea a org:Organization }").boolean is False
    assert (URIRef(entity("company", "tbea")), RDF.type, ORG.Organization) in inferred.graph(
        INFERRED
    )


def test_inferred_graph_still_validates(inferred):
    assert validate(dataset=inferred).conforms


def test_inference_cli():
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "kzgraph",
            "sparql",
            "--inference",
            "rdfs",
            "--format",
            "csv",
            "SELECT (COUNT(DISTINCT ?x) AS ?n) WHERE { ?x a kz:Project }",
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    assert int(result.stdout.split()[1]) == 37  # every kind of project, now found by the superclass


def test_unknown_inference_mode():
    with pytest.raises(KzgraphError, match="unknown inference"):
        expand(load(), "magic")


# ---- diff -----------------------------------------------------------------------------------------


def test_diff_reports_terms_and_facts(tmp_path):
    old = copy_project(tmp_path / "old")
    new = copy_project(tmp_path / "new")
    edit(
        new / "ontology/kzgraph.ttl",
        "kz:stateOwned a owl:DatatypeProperty ;",
        'kz:stake a owl:DatatypeProperty ; rdfs:label "stake"@en ; skos:definition "x"@en .\nkz:stateOwned a owl:DatatypeProperty ;',
    )
    edit(
        new / "ontology/kzgraph.ttl", 'rdfs:label "Summit"@en ;', 'rdfs:label "Summit meeting"@en ;'
    )
    edit(
        new / "graph/seed/002_astana_forum.trig",
        'rdfs:label "Huawei"@en ;',
        'rdfs:label "Huawei Technologies"@en ;',
    )
    result = diff(str(old), str(new))
    assert result.added_terms == ["https://w3id.org/kzgraph/ontology#stake"]
    assert "https://w3id.org/kzgraph/ontology#Summit" in result.changed_terms
    graph = "https://w3id.org/kzgraph/graph/002_97890c3330489398"
    assert len(result.added[graph]) == 1 and len(result.removed[graph]) == 1
    text = result.to_text()
    assert "+ kz:stake" in text and "Huawei Technologies" in text
    assert len(result.to_rdf()) == 2


def test_diff_of_identical_versions_is_empty(tmp_path):
    a = copy_project(tmp_path / "a")
    result = diff(str(a), str(ROOT))
    assert not result.added_terms and not result.removed and not result.added


def test_diff_against_a_git_revision():
    head = subprocess.run(
        ["git", "-C", str(CHECKOUT), "rev-parse", "HEAD"], capture_output=True, text=True
    )
    if head.returncode != 0:
        pytest.fail("the project must be a git checkout for this test")
    result = subprocess.run(
        [sys.executable, "-m", "kzgraph", "--root", str(CHECKOUT), "diff", "HEAD", str(CHECKOUT)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    assert "ontology terms:" in result.stdout
    bad = subprocess.run(
        [sys.executable, "-m", "kzgraph", "--root", str(CHECKOUT), "diff", "no-such-rev", "."],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert bad.returncode == 2 and "neither a project folder nor a git revision" in bad.stderr


# ---- docs ------------------------------------------------------------------------------------------


def test_docs_site(tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "kzgraph", "docs", "-o", str(tmp_path / "site")],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    site = tmp_path / "site"
    classes = (site / "classes.html").read_text()
    assert 'id="Company"' in classes and "Instances in the graph: <strong>31</strong>" in classes
    assert "a company cannot also be a person" in classes  # the SHACL constraints that apply
    schemes = (site / "schemes.html").read_text()
    assert "ISIC Rev.4 2410" in schemes and "under construction" in schemes
    assert "chinese-investors-by-region" in (site / "queries.html").read_text()
    assert "[Unreleased]" in (site / "changelog.html").read_text()
    assert "<svg" in (site / "model.svg").read_text()
    assert (
        "kz:Company" in (site / "ontology" / "index.html").read_text()
        or "Company" in (site / "ontology" / "index.html").read_text()
    )


def test_building_the_site_leaves_logging_as_it_was():
    """pyLODE configures the root logger at DEBUG on import; the site build puts it back."""
    import logging
    import sys

    from kzgraph.docs.site import _pylode_ontpub

    for name in [m for m in sys.modules if m == "pylode" or m.startswith("pylode.")]:
        del sys.modules[name]  # imported afresh, as in a new process
    root = logging.getLogger()
    before = (root.level, list(root.handlers))
    _pylode_ontpub()
    assert (root.level, list(root.handlers)) == before
