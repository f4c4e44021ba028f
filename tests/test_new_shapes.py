"""A maintainer adds a shape with any SHACL Core feature: it works on every path (validate, load,
import, serve) or is refused in one line, exit 2, before anything is written; never a traceback."""

from __future__ import annotations

import logging
import subprocess
import sys
from pathlib import Path

import pytest

from kzgraph.core.errors import KzgraphError
from kzgraph.core.settings import Settings
from kzgraph.endpoint.config import ServerSettings
from kzgraph.endpoint.serving.preparation import prepare_data
from kzgraph.validation.lint import WARNING, lint

from .test_import import copy_project as copy_import_project
from .test_import import fufeng_row, tree_digest, write_table

#: Features the compiled pre-check cannot run, which the default engine must.
NEW_SHAPE = """
kzsh:CompanyNamingShape a sh:NodeShape ;
    sh:targetClass kz:Company ;
    sh:property [ sh:path rdfs:label ; sh:languageIn ( "en" "ru" "kk" "zh" ) ;
                  sh:message "a company's labels are in English, Russian, Kazakh or Chinese" ] ;
    sh:node kzsh:LabelledNode .
kzsh:LabelledNode a sh:NodeShape ;
    sh:property [ sh:path rdfs:label ; sh:minCount 1 ] .
"""
#: The same, but closed: every company of the data has other properties, so it fails.
CLOSED_SHAPE = """
kzsh:ClosedCurrencyShape a sh:NodeShape ;
    sh:targetClass kz:Currency ;
    sh:closed true ; sh:ignoredProperties ( rdf:type ) ;
    sh:property [ sh:path rdfs:label ] .
"""
#: A shape the default engine cannot compile: a SPARQL constraint that is not SPARQL.
BROKEN_SHAPE = """
kzsh:BrokenShape a sh:NodeShape ;
    sh:targetClass kz:Company ;
    sh:sparql [ sh:select "SELEKT $this WHERE { }" ] .
"""


def kzgraph(root: Path, *args: str, timeout: int = 300) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "kzgraph", "--root", str(root), *args],
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def add_shape(root: Path, text: str) -> None:
    shapes = root / "ontology" / "shapes.ttl"
    shapes.write_text(shapes.read_text(encoding="utf-8") + text, encoding="utf-8")


@pytest.fixture
def project(tmp_path: Path) -> Path:
    return copy_import_project(tmp_path)


def test_a_shape_the_precheck_cannot_run_works_on_every_default_path(project, tmp_path, caplog):
    add_shape(project, NEW_SHAPE)
    assert kzgraph(project, "validate", "--no-cache").returncode == 0
    files = [project / "ontology" / "kzgraph.ttl", project / "ontology" / "vocabularies.ttl"]
    files += sorted((project / "graph").rglob("*.trig"))
    loaded = kzgraph(project, "load", "--store", str(tmp_path / "store"), *map(str, files))
    assert loaded.returncode == 0, loaded.stderr
    assert "conforms to the shapes" in loaded.stderr
    assert kzgraph(project, "validate", "--store", str(tmp_path / "store")).returncode == 0
    table = write_table(tmp_path / "t.csv", [fufeng_row()])
    imported = kzgraph(project, "import", str(table), "--dry-run")
    assert imported.returncode == 0, imported.stdout + imported.stderr
    caplog.set_level(logging.INFO, logger="kzgraph.endpoint")
    settings = ServerSettings(project=Settings.discover(project), workers=1, sandbox=False)
    prepared = prepare_data(settings)  # the in-memory server's start: validated, served
    assert prepared.validation["conforms"] is True
    # only the compiled pre-check refuses it, by name, and lint says so when the shape is added
    refused = kzgraph(project, "validate", "--engine", "sparql")
    assert refused.returncode == 2
    assert refused.stderr.count("\n") == 1 and "Traceback" not in refused.stderr
    assert "kzsh:CompanyNamingShape" in refused.stderr or "CompanyNamingShape" in refused.stderr
    assert "languageIn" in refused.stderr or "sh:node" in refused.stderr
    warned = [f for f in lint(Settings.discover(project)) if f.check == "shape-not-precheckable"]
    assert warned and all(f.severity == WARNING for f in warned)


def test_a_closed_shape_the_data_breaks_is_reported_on_every_path(project, tmp_path):
    add_shape(project, CLOSED_SHAPE)
    done = kzgraph(project, "validate", "--no-cache")
    assert done.returncode == 1 and "Traceback" not in done.stderr
    assert "ClosedConstraintComponent" in kzgraph(project, "validate", "--format", "json").stdout
    loaded = kzgraph(project, "load", "--store", str(tmp_path / "store"),
                     str(project / "graph" / "reference" / "iso4217.trig"),
                     str(project / "graph" / "seed" / "002_astana_forum.trig"))  # fmt: skip
    assert loaded.returncode == 0 and "does not conform" in loaded.stderr, loaded.stderr
    with pytest.raises(KzgraphError, match="does not conform"):
        prepare_data(ServerSettings(project=Settings.discover(project), workers=1, sandbox=False))


def test_a_shape_the_default_engine_refuses_is_refused_before_anything_is_written(
    project, tmp_path
):
    add_shape(project, BROKEN_SHAPE)
    before = tree_digest(project)
    store = tmp_path / "store"
    table = write_table(tmp_path / "t.csv", [fufeng_row()])
    for args in (
        ("validate", "--no-cache"),
        ("load", "--store", str(store), str(project / "graph" / "reference" / "iso4217.trig")),
        ("import", str(table)),
    ):
        done = kzgraph(project, *args)
        assert done.returncode == 2, (args, done.stdout, done.stderr)
        assert "Traceback" not in done.stderr and "shacl engine refuses the shapes" in done.stderr
        assert done.stderr.strip().count("\n") == 0, done.stderr  # one line
    assert not store.exists()
    assert tree_digest(project) == before
    with pytest.raises(KzgraphError, match="refuses the shapes"):
        prepare_data(ServerSettings(project=Settings.discover(project), workers=1, sandbox=False))


@pytest.mark.parametrize("engine", ["shacl", "pyshacl", "sparql"])
def test_every_engine_validates_an_on_disk_store(tmp_path_factory, engine):
    store = tmp_path_factory.getbasetemp() / "engines-store"
    root = Path(__file__).resolve().parent.parent
    if not store.exists():
        assert kzgraph(root, "build", "--store", str(store)).returncode == 0
    done = kzgraph(root, "validate", "--store", str(store), "--engine", engine)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "Conforms" in done.stdout and f"({engine})" in done.stderr
