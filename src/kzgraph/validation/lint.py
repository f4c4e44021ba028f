"""Hygiene checks for the ontology, shapes, data and queries, in the spirit of ROBOT's report.

Each finding has a severity (ERROR stops CI; WARNING and INFO inform), a check name, the file and
the term, so a maintainer sees at once what a change broke and where.
"""

from __future__ import annotations

import json
import re
from collections import defaultdict
from dataclasses import asdict
from pathlib import Path

from rdflib import Graph, Literal, URIRef
from rdflib.namespace import OWL, RDF, RDFS, SH, SKOS, XSD

from kzgraph.core.findings import ERROR as ERROR
from kzgraph.core.findings import INFO as INFO
from kzgraph.core.findings import WARNING as WARNING
from kzgraph.core.findings import Finding as Finding
from kzgraph.core.namespaces import BASE, KZ
from kzgraph.core.settings import Settings
from kzgraph.graph.loading import (
    FORMATS,
    data_files,
    load_shapes,
    new_dataset,
    ontology_files,
    parse_file,
)

OWN = (str(KZ), BASE + "vocab/")
_IRI_IN_QUERY = re.compile(r"<(https://w3id\.org/kzgraph/[^>\s]+)>")
_PNAME = re.compile(r"(?<![\w?$<])([A-Za-z][\w-]*):([A-Za-z_][\w.-]*)")


def _rel(path: Path, settings: Settings) -> str:
    try:
        return str(path.relative_to(settings.root))
    except ValueError:
        return str(path)


def _parse(path: Path) -> Graph:
    ds = new_dataset()
    parse_file(path, ds, URIRef(path.resolve().as_uri()))
    g = Graph()
    for s, p, o, _g in ds.quads((None, None, None, None)):
        g.add((s, p, o))
    return g


def _declared(ontology: Graph) -> set[URIRef]:
    return {s for s in ontology.subjects(RDF.type, None) if isinstance(s, URIRef)}


def _own(term: object) -> bool:
    return isinstance(term, URIRef) and str(term).startswith(OWN)


def _check_terms(ontology: Graph, file_of: dict[URIRef, str]) -> list[Finding]:
    found = []
    kinds = (OWL.Class, OWL.ObjectProperty, OWL.DatatypeProperty)
    labels: dict[tuple[str, str | None], list[URIRef]] = defaultdict(list)
    for kind in kinds:
        for term in ontology.subjects(RDF.type, kind):
            if not isinstance(term, URIRef) or not _own(term):
                continue
            where = file_of.get(term, "ontology/")
            term_labels = [o for o in ontology.objects(term, RDFS.label) if isinstance(o, Literal)]
            if not term_labels:
                found.append(Finding(ERROR, "missing-label", where, str(term), "add rdfs:label"))
            for label in term_labels:
                labels[(str(label), label.language)].append(term)
                if str(label) != str(label).strip() or "  " in str(label):
                    found.append(
                        Finding(
                            WARNING,
                            "label-whitespace",
                            where,
                            str(term),
                            f"label {str(label)!r} has stray whitespace",
                        )
                    )
            if (
                ontology.value(term, SKOS.definition) is None
                and ontology.value(term, RDFS.comment) is None
            ):
                found.append(
                    Finding(ERROR, "missing-definition", where, str(term), "add skos:definition")
                )
    for (text, lang), terms in labels.items():
        if len(terms) > 1:
            found.append(
                Finding(
                    WARNING,
                    "duplicate-label",
                    "ontology/",
                    ", ".join(sorted(map(str, terms))),
                    f"{len(terms)} terms share the label {text!r}@{lang}",
                )
            )
    return found


def _check_cycles(ontology: Graph) -> list[Finding]:
    found = []
    for cls in set(ontology.subjects(RDFS.subClassOf, None)):
        if not _own(cls):
            continue
        supers = set(ontology.transitive_objects(cls, RDFS.subClassOf)) - {cls}
        if any(
            (s, RDFS.subClassOf, cls) in ontology
            or cls in set(ontology.transitive_objects(s, RDFS.subClassOf))
            for s in supers
        ):
            found.append(
                Finding(
                    ERROR,
                    "subclass-cycle",
                    "ontology/kzgraph.ttl",
                    str(cls),
                    "rdfs:subClassOf leads back to this class",
                )
            )
    return found


def _check_shapes(
    ontology: Graph, shapes: Graph, declared: set[URIRef], shapes_file: str
) -> list[Finding]:
    found = []
    targeted = set(shapes.objects(None, SH.targetClass))
    for cls in ontology.subjects(RDF.type, OWL.Class):
        if _own(cls) and cls not in targeted:
            found.append(
                Finding(
                    ERROR,
                    "class-without-shape",
                    shapes_file,
                    str(cls),
                    "add a NodeShape with sh:targetClass for it",
                )
            )
    for path in set(shapes.objects(None, SH.path)):
        if _own(path) and path not in declared:
            found.append(
                Finding(
                    ERROR,
                    "shape-path-undeclared",
                    shapes_file,
                    str(path),
                    "sh:path names a property the ontology does not declare",
                )
            )
    from kzgraph.validation.shacl_scope import problems

    for problem in problems(shapes):
        term, _, what = problem.partition(": ")
        found.append(
            Finding(
                WARNING,
                "shape-not-precheckable",
                shapes_file,
                term.strip("<>"),
                f"the SPARQL pre-check cannot run {what}: the shacl engine judges every write "
                "in full instead, and --engine sparql and --backend refuse these shapes",
            )
        )
    return found


def _open_ended(path: object) -> bool:
    """Whether a property path repeats (``*`` or ``+``) anywhere inside it."""
    from rdflib.paths import AlternativePath, InvPath, MulPath, NegatedPath, SequencePath

    if isinstance(path, MulPath):
        return path.mod in ("*", "+") or _open_ended(path.path)
    if isinstance(path, (SequencePath, AlternativePath)):
        return any(_open_ended(p) for p in path.args)
    if isinstance(path, (InvPath, NegatedPath)):
        return _open_ended(getattr(path, "arg", None))
    return False


def _free_repeated_paths(node: object, out: list[str]) -> None:
    """Collect triple patterns whose repeated path has a variable at both ends."""
    from rdflib.plugins.sparql.parserutils import CompValue
    from rdflib.term import Variable

    if isinstance(node, CompValue):
        for value in node.values():
            _free_repeated_paths(value, out)
    elif isinstance(node, (list, tuple)):
        if len(node) == 3 and isinstance(node[0], Variable) and isinstance(node[2], Variable):
            if _open_ended(node[1]):
                out.append(f"?{node[0]} {node[1].n3()} ?{node[2]}")
            return
        for item in node:
            _free_repeated_paths(item, out)


def _check_sparql_paths(shapes: Graph, shapes_file: str) -> list[Finding]:
    """SHACL-SPARQL constraints that walk a repeated path with both ends free.

    ``?x skos:broader* ?y FILTER(?y IN (...))`` reads the same as ``?x skos:broader* <...>``, but
    the default engine runs it for every focus node over the whole closure: the resource project
    constraint written so took a 200k-quad load from 0.3 s to 404 s. Fix one end to an IRI.
    """
    from rdflib.plugins.sparql import prepareQuery

    prefixes = {
        str(p): str(ns)
        for d in shapes.objects(None, SH.declare)
        for p in shapes.objects(d, SH.prefix)
        for ns in shapes.objects(d, SH.namespace)
    }
    found = []
    for constraint, text in shapes.subject_objects(SH.select):
        shape = next(shapes.subjects(SH.sparql, constraint), constraint)
        try:
            query = prepareQuery(str(text).replace("$this", "?this"), initNs=prefixes)
        except Exception as exc:  # the engines report a broken query; lint names it too
            found.append(Finding(ERROR, "shape-sparql-broken", shapes_file, str(shape), str(exc)))
            continue
        free: list[str] = []
        _free_repeated_paths(query.algebra, free)
        for pattern in sorted(set(free)):
            found.append(
                Finding(
                    WARNING,
                    "shape-sparql-open-path",
                    shapes_file,
                    str(shape),
                    f"{pattern}: a repeated path with both ends variables is evaluated over the "
                    "whole closure for every focus node; give one end an IRI (a UNION per value)",
                )
            )
    return found


def _check_usage(
    ontology: Graph, declared: set[URIRef], used: dict[URIRef, set[str]]
) -> list[Finding]:
    found = []
    for term, files in sorted(used.items()):
        if _own(term) and term not in declared:
            for file in sorted(files):
                found.append(
                    Finding(
                        ERROR,
                        "undeclared-term",
                        file,
                        str(term),
                        "not declared in ontology/ (a typo in the IRI?)",
                    )
                )
        if (term, OWL.deprecated, Literal(True)) in ontology:
            for file in sorted(files):
                found.append(
                    Finding(
                        WARNING,
                        "deprecated-in-use",
                        file,
                        str(term),
                        "this term is deprecated; use its replacement",
                    )
                )
    for kind in (OWL.Class, OWL.ObjectProperty, OWL.DatatypeProperty):
        for declared_term in ontology.subjects(RDF.type, kind):
            if (
                isinstance(declared_term, URIRef)
                and _own(declared_term)
                and declared_term not in used
                and (declared_term, OWL.deprecated, Literal(True)) not in ontology
            ):
                found.append(
                    Finding(
                        INFO,
                        "unused-term",
                        "ontology/kzgraph.ttl",
                        str(declared_term),
                        "declared but used by no data, shape or query",
                    )
                )
    return found


_NUMERIC = {XSD.decimal, XSD.integer, XSD.double, XSD.float}


def _range_problem(o: object, expected: object, datatype_prop: bool, object_prop: bool) -> str:
    """What is wrong with value ``o`` for a property of range ``expected``, or ''."""
    if object_prop and isinstance(o, Literal):
        return f"object property with literal value {o!r}"
    if datatype_prop and not isinstance(o, Literal):
        return f"datatype property with non-literal value {o}"
    if datatype_prop and isinstance(o, Literal) and str(expected).startswith(str(XSD)):
        actual = o.datatype or (RDF.langString if o.language else XSD.string)
        if actual != expected and not (expected in _NUMERIC and actual in _NUMERIC):
            return f"value typed {actual}, range is {expected}"
    return ""


def _check_ranges(
    ontology: Graph, data: Graph, file_of_subject: dict[object, str]
) -> list[Finding]:
    found = []
    ranges = {p: r for p, r in ontology.subject_objects(RDFS.range) if _own(p)}
    for p, expected in ranges.items():
        datatype_prop = (p, RDF.type, OWL.DatatypeProperty) in ontology
        object_prop = (p, RDF.type, OWL.ObjectProperty) in ontology
        for s, o in data.subject_objects(p):
            problem = _range_problem(o, expected, datatype_prop, object_prop)
            if problem:
                where = file_of_subject.get(s, "graph/")
                found.append(Finding(ERROR, "range-mismatch", where, f"{s} {p}", problem))
    return found


def _used_in_queries(settings: Settings, prefixes: dict[str, str]) -> dict[URIRef, set[str]]:
    used: dict[URIRef, set[str]] = defaultdict(set)
    for path in sorted(settings.queries_dir.rglob("*.rq")):
        text = "\n".join(
            line
            for line in path.read_text(encoding="utf-8").splitlines()
            if not line.lstrip().startswith("#")
        )
        local = dict(re.findall(r"PREFIX\s+([\w-]*):\s*<([^>]+)>", text, re.I))
        text = re.sub(r"PREFIX\s+[\w-]*:\s*<[^>]*>", " ", text, flags=re.I)
        for iri in _IRI_IN_QUERY.findall(text):
            used[URIRef(iri)].add(_rel(path, settings))
        body = re.sub(r"<[^>]*>|\"[^\"]*\"|'[^']*'", " ", text)
        for prefix, name in _PNAME.findall(body):
            ns = local.get(prefix) or prefixes.get(prefix)
            if ns and ns.startswith(OWN) and prefix not in ("http", "https"):
                used[URIRef(ns + name)].add(_rel(path, settings))
    return used


def lint(settings: Settings | None = None) -> list[Finding]:
    """Run every check; findings sorted by severity, check and term."""
    # Long on purpose (64 lines): the list of every check lint runs, in report order.
    from kzgraph.core.namespaces import PREFIXES
    from kzgraph.sources.checks import check_sources

    settings = settings or Settings.discover()
    ontology = Graph()
    file_of: dict[URIRef, str] = {}
    for path in ontology_files(settings):
        g = _parse(path)
        for s in g.subjects():
            if isinstance(s, URIRef):
                file_of.setdefault(s, _rel(path, settings))
        ontology += g
    shapes = load_shapes(settings)
    declared = _declared(ontology)
    used: dict[URIRef, set[str]] = defaultdict(set)
    data = Graph()
    file_of_subject: dict[object, str] = {}
    for path in data_files(settings):
        g = _parse(path)
        data += g
        rel = _rel(path, settings)
        for s, p, o in g:
            file_of_subject.setdefault(s, rel)
            for term in (p, o) if p != RDF.type else (o,):
                if isinstance(term, URIRef):
                    used[term].add(rel)
            if p == RDF.type and isinstance(o, URIRef):
                used[o].add(rel)
    shapes_rel = _rel(settings.shapes_file, settings)
    for _s, p, o in shapes:
        for term in (p, o):
            if isinstance(term, URIRef):
                used[term].add(shapes_rel)
    for term, files in _used_in_queries(settings, PREFIXES).items():
        used[term] |= files
    # The ontology's own references count as use (domain, range, subClassOf of own terms).
    for s, p, o in ontology:
        if (
            p
            in (
                RDFS.domain,
                RDFS.range,
                RDFS.subClassOf,
                RDFS.subPropertyOf,
                OWL.inverseOf,
            )
            and isinstance(o, URIRef)
            and isinstance(s, URIRef)
            and _own(o)
        ):
            used[o].add(file_of.get(s, "ontology/"))
    found = [
        *_check_terms(ontology, file_of),
        *_check_cycles(ontology),
        *_check_shapes(ontology, shapes, declared, shapes_rel),
        *_check_sparql_paths(shapes, shapes_rel),
        *_check_usage(ontology, declared, used),
        *_check_ranges(ontology, data, file_of_subject),
        *check_sources(settings, data, file_of_subject),
    ]
    order = {ERROR: 0, WARNING: 1, INFO: 2}
    return sorted(set(found), key=lambda f: (order[f.severity], f.check, f.term, f.file))


def to_text(findings: list[Finding]) -> str:
    """One line per finding and a summary line."""
    lines = [f"{f.severity:<7} {f.check:<22} {f.file}  {f.term}: {f.message}" for f in findings]
    counts = {s: sum(1 for f in findings if f.severity == s) for s in (ERROR, WARNING, INFO)}
    lines.append(f"{counts[ERROR]} error(s), {counts[WARNING]} warning(s), {counts[INFO]} info")
    return "\n".join(lines)


def to_json(findings: list[Finding]) -> str:
    """The findings as a JSON list."""
    return json.dumps([asdict(f) for f in findings], indent=2)


__all__ = ["ERROR", "FORMATS", "INFO", "WARNING", "Finding", "lint", "to_json", "to_text"]
