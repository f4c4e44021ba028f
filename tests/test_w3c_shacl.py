"""The W3C SHACL test suites (core and SHACL-SPARQL) through ``kzgraph validate``, every engine.

Each case becomes a project: its shapes as ``ontology/shapes.ttl``, its data as
``graph/data.ttl``, run as a user would (``kzgraph --root P validate --engine E --format
turtle``). The outcome of every case on every engine is checked in
(``tests/w3c/shacl-expected.tsv``): a change in any outcome fails, a silent pass (conforms where
the data violates the shapes) is never allowed, and the default engine passes at least what
pyshacl passes. ``KZGRAPH_UPDATE_W3C=1`` rewrites the table after a deliberate change.
"""

from __future__ import annotations

import os
import shutil
from collections import Counter
from pathlib import Path

import pytest
from click.testing import CliRunner
from rdflib import Graph
from rdflib.namespace import SH

from kzgraph.cli import main
from kzgraph.validation.engines import DEFAULT_ENGINE, ENGINES
from tests import w3c_shacl

TABLE = Path(__file__).parent / "w3c" / "shacl-expected.tsv"
CASES = [(suite, case) for suite in ("core", "sparql") for case in w3c_shacl.cases(suite)]


def run_case(case: w3c_shacl.Case, engine: str, root: Path) -> tuple[str, str]:
    """The outcome of one case on one engine, through the command line, and what was said."""
    if root.exists():
        shutil.rmtree(root)
    (root / "ontology").mkdir(parents=True)
    (root / "graph").mkdir()
    shutil.copy(case.shapes, root / "ontology" / "shapes.ttl")
    shutil.copy(case.data, root / "graph" / "data.ttl")
    args = ["--root", str(root), "validate", "--engine", engine, "--format", "turtle"]
    result = CliRunner().invoke(main, [*args, "--no-cache"])
    if result.exit_code == 2:
        return w3c_shacl.judge(case, None), result.stderr.strip()
    if result.exit_code not in (0, 1) or (
        result.exception is not None and not isinstance(result.exception, SystemExit)
    ):
        return "crash", repr(result.exception) + result.output[-500:]
    report = Graph().parse(data=result.stdout, format="turtle")
    outcome = w3c_shacl.judge(case, report)
    if outcome == "pass" and (result.exit_code == 1) != has_violation(report):
        return "wrong exit code", f"exit {result.exit_code}"
    return outcome, w3c_shacl.difference(case, report)


def has_violation(report: Graph) -> bool:
    """The exit code's rule on every engine: 1 exactly when a result is a Violation."""
    return (None, SH.resultSeverity, SH.Violation) in report


def read_table() -> dict[tuple[str, str], str]:
    table = {}
    for line in TABLE.read_text(encoding="utf-8").splitlines()[1:]:
        name, engine, outcome = line.split("\t")
        table[name, engine] = outcome
    return table


@pytest.fixture(scope="module")
def outcomes(tmp_path_factory: pytest.TempPathFactory) -> dict[tuple[str, str], tuple[str, str]]:
    root = tmp_path_factory.mktemp("w3c") / "project"
    found = {}
    for engine in ENGINES:
        for suite, case in CASES:
            found[f"{suite}/{case.name}", engine] = run_case(case, engine, root)
    if os.environ.get("KZGRAPH_UPDATE_W3C"):
        lines = ["case\tengine\toutcome"]
        lines += [f"{n}\t{e}\t{o}" for (n, e), (o, _) in sorted(found.items())]
        TABLE.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return found


def test_the_suites_are_all_there():
    counts = Counter(suite for suite, _ in CASES)
    assert counts == {"core": 98, "sparql": 22}


@pytest.mark.parametrize("engine", ENGINES)
def test_every_outcome_is_the_recorded_one(outcomes, engine):
    table = read_table()
    changed = [
        f"{name}: recorded {table.get((name, e))!r}, now {outcome!r}\n{said}"
        for (name, e), (outcome, said) in outcomes.items()
        if e == engine and table.get((name, e)) != outcome
    ]
    assert not changed, "\n".join(changed)


@pytest.mark.parametrize("engine", ENGINES)
def test_no_engine_passes_bad_data_silently(outcomes, engine):
    silent = [n for (n, e), (o, _) in outcomes.items() if e == engine and o == "silent pass"]
    crashes = [n for (n, e), (o, _) in outcomes.items() if e == engine and o == "crash"]
    assert crashes == []
    assert silent == []


def test_the_default_engine_passes_what_pyshacl_passes(outcomes):
    def passed(engine: str) -> set[str]:
        return {n for (n, e), (o, _) in outcomes.items() if e == engine and o == "pass"}

    core = {n for n in passed("pyshacl") if n.startswith("core/")}
    assert core <= passed(DEFAULT_ENGINE)
    assert len({n for n in passed(DEFAULT_ENGINE) if n.startswith("core/")}) == 98


def test_the_recorded_table_has_no_silent_pass():
    assert [(n, e) for (n, e), o in read_table().items() if o == "silent pass"] == []


def test_the_default_engine_passes_every_sparql_case():
    """The shacl engine runs a subquery SHACL forbids (unsupported-sparql-004); kzgraph refuses
    it before the engine sees it, so the default passes all 22 SHACL-SPARQL cases."""
    table = read_table()
    sparql = {
        n: o for (n, e), o in table.items() if e == DEFAULT_ENGINE and n.startswith("sparql/")
    }
    assert len(sparql) == 22 and set(sparql.values()) == {"pass"}
