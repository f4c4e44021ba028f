"""Every SHACL engine the benchmark compares, behind one call: files in, a report graph out.

Each adapter takes the shapes file and the data file (Turtle, N-Triples or N-Quads) and returns
the engine's SHACL validation report as an rdflib Graph, so the W3C suite and the fault checks
judge every engine by the same rule (tests/w3c_shacl.py).
"""

from __future__ import annotations

import importlib.util
from collections.abc import Callable
from pathlib import Path

from rdflib import Dataset, Graph

Adapter = Callable[[Path, Path], Graph]


def _rdf_format(path: Path) -> str:
    return {".nt": "nt", ".nq": "nquads", ".trig": "trig"}.get(path.suffix, "turtle")


def _data_graph(path: Path) -> Graph:
    fmt = _rdf_format(path)
    if fmt in ("nquads", "trig"):
        ds = Dataset()
        ds.parse(path, format=fmt)
        g = Graph()
        for s, p, o, _ in ds.quads():
            g.add((s, p, o))
        return g
    return Graph().parse(path, format=fmt)


def pyshacl_engine(shapes: Path, data: Path) -> Graph:
    from pyshacl import validate

    _, report, _ = validate(
        _data_graph(data), shacl_graph=Graph().parse(shapes), inference="none", advanced=True
    )
    if not isinstance(report, Graph):  # pyshacl returns its refusal instead of raising it
        raise ValueError(str(report))
    return report


def pyshacl_turbo_engine(shapes: Path, data: Path) -> Graph:
    from pyshacl_turbo import validate

    _, report, _ = validate(
        _data_graph(data), shacl_graph=Graph().parse(shapes), inference="none", advanced=True
    )
    if isinstance(report, (bytes, str)):
        return Graph().parse(data=report, format="turtle")
    if not isinstance(report, Graph):
        raise ValueError(str(report))
    return report


def shifty_engine(shapes: Path, data: Path) -> Graph:
    import shifty

    _, report, _ = shifty.validate(_data_graph(data), shacl_graph=Graph().parse(shapes))
    return report


def shacl_rs_engine(shapes: Path, data: Path) -> Graph:
    import shacl

    compiled = shacl.Shapes.from_file(str(shapes))
    report = compiled.validate_file(str(data))
    return Graph().parse(data=report.turtle, format="turtle")


def shacl_rust_engine(shapes: Path, data: Path) -> Graph:
    import shacl_rust
    from rdflib import BNode, Literal
    from rdflib.namespace import RDF, SH
    from rdflib.util import from_n3

    out = shacl_rust.validate_file(str(data), str(shapes))
    report = Graph()
    node = BNode()
    report.add((node, RDF.type, SH.ValidationReport))
    report.add((node, SH.conforms, Literal(bool(out["conforms"]))))
    names = {
        "focusNode": SH.focusNode,
        "resultPath": SH.resultPath,
        "severity": SH.resultSeverity,
        "sourceConstraintComponent": SH.sourceConstraintComponent,
        "sourceShape": SH.sourceShape,
        "value": SH.value,
    }
    for result in out["results"]:
        r = BNode()
        report.add((node, SH.result, r))
        report.add((r, RDF.type, SH.ValidationResult))
        for key, predicate in names.items():
            text = result.get(key)
            if text:
                term = from_n3(text) if not text.startswith("_:") else BNode()
                report.add((r, predicate, term))
    return report


def rudof_engine(shapes: Path, data: Path) -> Graph:
    import pyrudof

    r = pyrudof.Rudof(pyrudof.RudofConfig())
    fmt = {
        "turtle": pyrudof.RDFFormat.Turtle,
        "nt": pyrudof.RDFFormat.NTriples,
        "nquads": pyrudof.RDFFormat.NQuads,
        "trig": pyrudof.RDFFormat.TriG,
    }[_rdf_format(data)]
    r.read_data(str(data), format=fmt)
    r.read_shacl(str(shapes))
    r.validate_shacl()
    text = r.serialize_shacl_validation_results(format=pyrudof.ResultShaclValidationFormat.Turtle)
    return Graph().parse(data=text, format="turtle")


ENGINES: dict[str, tuple[str, Adapter]] = {
    "pyshacl": ("pyshacl", pyshacl_engine),
    "pyshacl-turbo": ("pyshacl_turbo", pyshacl_turbo_engine),
    "pyshifty": ("shifty", shifty_engine),
    "shacl": ("shacl", shacl_rs_engine),
    "shacl-rust": ("shacl_rust", shacl_rust_engine),
    "pyrudof": ("pyrudof", rudof_engine),
}


def available() -> dict[str, Adapter]:
    """The engines installed here."""
    return {n: a for n, (mod, a) in ENGINES.items() if importlib.util.find_spec(mod) is not None}
