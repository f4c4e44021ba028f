"""A non-Python client: Comunica (Node.js), installed by scripts/test.sh from tests/clients."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from .server_process import Server

COMUNICA = Path(__file__).parent / "clients" / "node_modules" / ".bin" / "comunica-sparql"


@pytest.fixture(scope="module")
def server():
    s = Server("--workers", "1")
    yield s
    s.stop()


def comunica(server: Server, query: str, media: str) -> str:
    if not COMUNICA.exists():
        pytest.fail(
            "Comunica is missing: scripts/test.sh installs it (npm ci --prefix tests/clients)"
        )
    result = subprocess.run(
        [str(COMUNICA), f"sparql@{server.url}sparql", query, "-t", media],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_comunica_select(server):
    out = comunica(
        server,
        "SELECT ?firm WHERE { ?firm <https://w3id.org/kzgraph/ontology#headquartersCountry> "
        "<https://w3id.org/kzgraph/id/country/CN> }",
        "application/sparql-results+json",
    )
    firms = {b["firm"]["value"] for b in json.loads(out)["results"]["bindings"]}
    assert "https://w3id.org/kzgraph/id/company/fufeng-group" in firms


def test_comunica_construct(server):
    out = comunica(
        server,
        "CONSTRUCT { ?s ?p ?o } WHERE { ?s ?p ?o FILTER(?s = <https://w3id.org/kzgraph/id/company/tbea>) }",
        "application/n-triples",
    )
    assert "<https://w3id.org/kzgraph/id/company/tbea>" in out
