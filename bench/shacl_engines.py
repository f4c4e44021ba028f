"""Which SHACL engine should judge kzgraph's data: ``bash bench/shacl.sh`` prints the table.

Every engine installed here (see bench/shacl_adapters.py; ``bench/shacl.sh`` installs the PyPI
ones) is run, each case in a fresh process so its peak memory is its own, on:

- the W3C SHACL core (98) and SHACL-SPARQL (22) suites: pass / wrong report / silent pass /
  refused, judged by the rule of tests/w3c_shacl.py;
- the project's shapes on the seeded graph, and on a fault corpus (the seeded graph plus every
  invalid shape fixture): time, peak memory, and whether the findings equal pyshacl's;
- synthetic graphs of 1M and 10M quads (bench/generate.py): time, peak memory, findings.

``sparql`` is kzgraph's own compiled engine, run as ``kzgraph validate --store`` runs it.
The baseline for every ratio is pyshacl, the reference implementation.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))


def child(engine: str, shapes: str, data: str, out: str) -> None:
    """Run one engine once, in this process, and write what it found as JSON."""
    from tests import w3c_shacl

    started = time.perf_counter()
    error = None
    keys: Counter[tuple[str, ...]] = Counter()
    conforms = None
    try:
        if engine == "sparql":
            report = sparql_engine(Path(shapes), Path(data))
        elif engine == "kzgraph":
            report = kzgraph_engine(Path(shapes), Path(data))
        else:
            import shacl_adapters

            report = shacl_adapters.available()[engine](Path(shapes), Path(data))
        keys = w3c_shacl.result_keys(report)
        conforms = w3c_shacl.report_conforms(report)
    except Exception as exc:
        error = f"{type(exc).__name__}: {str(exc)[:200]}"
    seconds = time.perf_counter() - started
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    Path(out).write_text(
        json.dumps(
            {
                "seconds": seconds,
                "peak_mb": peak,
                "error": error,
                "conforms": conforms,
                "keys": [[list(k), n] for k, n in keys.items()],
            }
        )
    )


def _store_of(data: Path):  # noqa: ANN202
    """An Oxigraph store holding every graph of ``data`` in its default graph (kzgraph's merge)."""
    import pyoxigraph as ox

    from kzgraph.store.bulk import format_of

    fmt = format_of(data)
    store = ox.Store()
    store.bulk_extend(
        ox.Quad(q.subject, q.predicate, q.object)
        for q in ox.parse(path=str(data), format=fmt, base_iri=data.resolve().as_uri())
    )
    return store


def sparql_engine(shapes: Path, data: Path):  # noqa: ANN201
    """Kzgraph's compiled engine on a store holding ``data`` (its graphs merged)."""
    from rdflib import Graph

    from kzgraph.validation.report import validate_store
    from kzgraph.validation.shacl_scope import problems

    shapes_graph = Graph().parse(shapes)
    found = problems(shapes_graph)
    if found:
        raise ValueError(found[0])
    report = validate_store(
        _store_of(data), shapes_graph, threads=os.cpu_count() or 1, engine="sparql"
    )
    assert report.graph is not None
    return report.graph


def kzgraph_engine(shapes: Path, data: Path):  # noqa: ANN201
    """Kzgraph's default as ``validate --store`` runs it.

    The shacl engine, its SPARQL constraints run by Oxigraph, and the report read into
    kzgraph's (the standard's sh:conforms restored).
    """
    from kzgraph.graph.loading import load_shapes_file
    from kzgraph.validation.report import validate_store

    report = validate_store(
        _store_of(data), load_shapes_file(shapes), engine="shacl", shapes_file=shapes
    )
    assert report.graph is not None
    return report.graph


def run(engine: str, shapes: Path, data: Path, timeout: float) -> dict:
    """One engine on one input, in a fresh process; its time, peak memory and findings."""
    out = Path(os.environ.get("TMPDIR", "/tmp")) / f"kzgraph-shacl-bench-{os.getpid()}.json"
    command = [sys.executable, __file__, "--child", engine, str(shapes), str(data), str(out)]
    try:
        subprocess.run(command, timeout=timeout, check=False, capture_output=True)
        result = json.loads(out.read_text())
    except subprocess.TimeoutExpired:
        result = {"error": f"over {timeout:.0f} s", "seconds": timeout, "peak_mb": None}
    except (OSError, ValueError):
        result = {"error": "crashed", "seconds": None, "peak_mb": None}
    finally:
        out.unlink(missing_ok=True)
    if result.get("keys") is not None:
        result["keys"] = Counter({tuple(k): n for k, n in result["keys"]})
    return result


def suite_row(engine: str, suite: str) -> str:
    from tests import w3c_shacl

    tally: Counter[str] = Counter()
    started = time.perf_counter()
    for case in w3c_shacl.cases(suite):
        result = run(engine, case.shapes, case.data, 120)
        if result["error"]:
            outcome = w3c_shacl.judge(case, None)
        else:
            outcome = judge_keys(case, result)
        tally[outcome] += 1
    seconds = time.perf_counter() - started
    parts = ", ".join(f"{n} {o}" for o, n in sorted(tally.items()))
    return f"{parts} ({seconds:.0f} s incl. process starts)"


def judge_keys(case, result: dict) -> str:  # noqa: ANN001
    """The suite's verdict from a child's JSON (conforms and result keys)."""
    if case.failure:
        return "silent pass" if result["conforms"] else "wrong report"
    if result["conforms"] is None:
        return "no report"
    if result["conforms"] and not case.conforms:
        return "silent pass"
    if bool(result["conforms"]) != case.conforms:
        return "wrong report"
    if frozenset(result["keys"].items()) != case.expected:
        return "wrong report"
    return "pass"


def fault_corpus(folder: Path) -> Path:
    """The seeded graph plus every invalid shape fixture: one file, many kinds of fault."""
    from rdflib import Dataset

    from kzgraph.core.namespaces import PREFIXES
    from kzgraph.graph.loading import load

    header = "".join(f"@prefix {p}: <{iri}> .\n" for p, iri in PREFIXES.items())
    header += "@prefix ex: <http://example.org/> .\n"
    ds: Dataset = load()
    for fixture in sorted((ROOT / "tests" / "fixtures" / "shapes").glob("*-invalid.ttl")):
        ds.default_graph.parse(data=header + fixture.read_text(encoding="utf-8"), format="turtle")
    path = folder / "faults.nt"
    graph = ds.default_graph
    for quad in ds.quads((None, None, None, None)):
        graph.add(quad[:3])
    graph.serialize(path, format="nt", encoding="utf-8")
    return path


def canonical(keys: Counter) -> Counter:
    """Result keys with numeric literals compared by value.

    An Oxigraph store keeps "-414.0"^^xsd:decimal as "-414", the same literal; every other term
    is compared as written.
    """
    from decimal import Decimal, InvalidOperation

    from rdflib.util import from_n3

    numeric = ("decimal", "integer", "double", "float")

    def canon(term: str) -> str:
        if not term.startswith('"'):
            return term
        literal = from_n3(term)
        datatype = str(getattr(literal, "datatype", "") or "")
        if not datatype.endswith(numeric):
            return term
        try:
            return f"{Decimal(str(literal)).normalize()}^^{datatype}"
        except InvalidOperation:
            return term

    out: Counter = Counter()
    for key, n in keys.items():
        out[tuple(canon(t) for t in key)] += n
    return out


def data_row(engine: str, shapes: Path, data: Path, reference: dict | None, timeout: float) -> str:
    result = run(engine, shapes, data, timeout)
    if result["error"]:
        return f"{engine}: {result['error']}"
    found = sum(result["keys"].values())
    same = ""
    if reference is not None and reference.get("keys") is not None:
        agree = canonical(result["keys"]) == canonical(reference["keys"])
        same = "same as the reference" if agree else "DIFFERENT"
        if reference.get("seconds"):
            same += f", {reference['seconds'] / result['seconds']:.1f}x the reference's speed"
    return (
        f"{engine}: {result['seconds']:.1f} s, peak {result['peak_mb']:.0f} MB, "
        f"{found} result(s) {same}".rstrip()
    )


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        child(*sys.argv[2:6])
        return
    import shacl_adapters

    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--data", type=Path, nargs="*", default=[], help="synthetic .nq files")
    parser.add_argument("--engines", nargs="*", default=None)
    parser.add_argument("--skip-suites", action="store_true")
    # past 100 MB of data pyshacl is left out (about 15 min per million quads); past 1 GB, the
    # engines whose memory grows past a few GB per million quads too
    parser.add_argument(
        "--big-engines",
        nargs="*",
        default=[
            "kzgraph",
            "sparql",
            "shacl",
            "shacl-rust",
            "pyshacl-turbo",
            "pyshifty",
            "pyrudof",
        ],
    )
    parser.add_argument("--huge-engines", nargs="*", default=["kzgraph", "sparql"])
    parser.add_argument("--timeout", type=float, default=3600)
    args = parser.parse_args()
    engines = args.engines or [*shacl_adapters.available(), "sparql", "kzgraph"]
    shapes = ROOT / "ontology" / "shapes.ttl"
    lines: list[str] = []

    def say(line: str) -> None:
        print(line, flush=True)
        lines.append(line)

    say(f"SHACL engines on this machine ({os.cpu_count()} cores); reference: pyshacl")
    if not args.skip_suites:
        for suite in ("core", "sparql"):
            say(f"\nW3C SHACL {suite} suite")
            for engine in engines:
                say(f"  {engine}: {suite_row(engine, suite)}")
    folder = Path(os.environ.get("TMPDIR", "/tmp")) / "kzgraph-shacl-bench"
    folder.mkdir(exist_ok=True)
    subprocess.run(
        [
            str(ROOT / ".venv" / "bin" / "kzgraph"),
            "export",
            "--format",
            "nq",
            "--output",
            str(folder / "seeded.nq"),
        ],
        check=True,
        capture_output=True,
    )
    inputs = [
        ("seeded graph", folder / "seeded.nq"),
        ("seeded + every invalid fixture", fault_corpus(folder)),
    ]
    inputs += [(f"synthetic {p.name}", p) for p in args.data]
    for label, data in inputs:
        say(f"\n{label} ({sum(1 for _ in data.open('rb')):,} lines)")
        big = data.stat().st_size > 100_000_000
        huge = data.stat().st_size > 1_000_000_000
        reference = None
        if not big and "pyshacl" in engines:
            reference = run("pyshacl", shapes, data, args.timeout)
        for engine in engines:
            if (big and engine not in args.big_engines) or (
                huge and engine not in args.huge_engines
            ):
                continue
            if engine == "pyshacl" and reference is not None:
                say(
                    data_row(engine, shapes, data, None, args.timeout).replace(
                        "pyshacl:", "pyshacl (reference):"
                    )
                )
                continue
            say("  " + data_row(engine, shapes, data, reference, args.timeout))
    out = ROOT / "bench" / "RESULTS-shacl.txt"
    out.write_text("\n".join(lines) + "\n", encoding="utf-8")
    print(f"\nwritten to {out}")


if __name__ == "__main__":
    main()
