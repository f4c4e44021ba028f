"""Bad files are reported as file, line and reason; nothing else escapes as a traceback."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given
from hypothesis import settings as hsettings
from hypothesis import strategies as st
from rdflib import Dataset, URIRef

from kzgraph.core.errors import KzgraphError
from kzgraph.core.settings import Settings
from kzgraph.graph.loading import GraphSyntaxError, load, parse_file

GOOD = """@prefix kz: <https://w3id.org/kzgraph/ontology#> .
@prefix ex: <http://example.org/> .
ex:a kz:value 1.0 .
ex:b kz:statedAs "two" .
"""


def test_turtle_error_names_file_line_and_column(tmp_path: Path):
    bad = tmp_path / "bad.ttl"
    bad.write_text(GOOD + 'ex:c kz:statedAs "unterminated .\n')
    with pytest.raises(GraphSyntaxError) as info:
        parse_file(bad, Dataset(), URIRef("urn:g"))
    assert info.value.path == bad
    assert info.value.line == 5
    assert str(info.value).startswith(f"{bad}:5:")


def test_trig_error_names_the_line(tmp_path: Path):
    bad = tmp_path / "bad.trig"
    bad.write_text(
        "@prefix ex: <http://example.org/> .\nex:g {\n ex:a ex:b ex:c .\n ex:a ex:b ex:c ex:d .\n}\n"
    )
    with pytest.raises(GraphSyntaxError) as info:
        parse_file(bad, Dataset())
    assert info.value.line == 4


def test_unknown_file_type_is_refused(tmp_path: Path):
    odd = tmp_path / "data.xyz"
    odd.write_text("")
    with pytest.raises(KzgraphError, match="unknown RDF file type"):
        parse_file(odd, Dataset())


@pytest.fixture
def project_copy(tmp_path: Path, settings: Settings) -> Settings:
    for folder in ("ontology", "graph"):
        shutil.copytree(settings.root / folder, tmp_path / folder)
    return Settings.discover(tmp_path)


def test_a_broken_seed_file_stops_the_load_and_names_it(project_copy: Settings):
    target = project_copy.graph_dir / "seed" / "002_astana_forum.trig"
    lines = target.read_text().splitlines()
    broken_line = next(
        i for i, line in enumerate(lines) if "company:fufeng-group a kz:Company" in line
    )
    lines[broken_line] = lines[broken_line].replace("a kz:Company ;", "a kz:Company ;;; ]")
    target.write_text("\n".join(lines) + "\n")
    with pytest.raises(GraphSyntaxError) as info:
        load(project_copy)
    assert info.value.path == target
    assert info.value.line == broken_line + 1


@hsettings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(position=st.integers(min_value=0, max_value=len(GOOD)), junk=st.text(min_size=1, max_size=5))
def test_any_corruption_gives_a_clean_error_or_a_parse(tmp_path: Path, position: int, junk: str):
    path = tmp_path / "fuzz.ttl"
    path.write_text(GOOD[:position] + junk + GOOD[position:], encoding="utf-8")
    try:
        parse_file(path, Dataset(), URIRef("urn:g"))
    except GraphSyntaxError as exc:
        assert str(path) in str(exc)
