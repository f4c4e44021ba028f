"""Which shapes the SPARQL engine compiles faithfully, and a refusal naming any other.

Before any query runs, :func:`problems` walks every shape in the shapes graph; a feature the
compiler (:mod:`.shacl_compile`) does not translate exactly is named with its shape, so
nothing is skipped silently. The helpers here are the terms both halves share.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import pyoxigraph as ox
from rdflib import BNode, Graph, Literal, Node, URIRef
from rdflib.collection import Collection
from rdflib.namespace import RDF, RDFS, SH, SKOS

if TYPE_CHECKING:
    pass


#: The constraint parameters the compiler understands (besides sh:path and sh:message).
SUPPORTED = {
    SH.minCount, SH.maxCount, SH["class"], SH.datatype, SH["in"], SH.pattern, SH.flags,
    SH.minExclusive, SH.minInclusive, SH.maxExclusive, SH.maxInclusive, SH.minLength,
    SH.maxLength, SH.nodeKind, SH.hasValue, SH.uniqueLang, SH["or"], SH["not"], SH.xone,
    SH.qualifiedValueShape, SH.qualifiedMinCount, SH.qualifiedMaxCount, SH.sparql,
}  # fmt: skip
IGNORED = {
    RDF.type, SH.path, SH.message, SH.name, SH.description, SH.targetClass, SH.property,
    SH.severity, SH.order, SH.group, SH.deactivated, SH.defaultValue, RDFS.label,
    RDFS.comment, SKOS.definition,
}  # fmt: skip
#: Datatypes whose lexical forms Oxigraph can check (a cast of the lexical form gives the
#: literal back); a literal of these types that is not well-formed fails sh:datatype.
_CHECKED_DATATYPES = {
    "integer", "decimal", "double", "float", "boolean", "date", "dateTime", "time",
    "duration", "dayTimeDuration", "yearMonthDuration",
}  # fmt: skip
_XSD = "http://www.w3.org/2001/XMLSchema#"
#: Datatypes with no lexical constraint the engine could miss: any lexical form is well-formed.
_FREE_DATATYPES = {
    _XSD + "string", _XSD + "anyURI", str(RDF.langString), str(RDF.HTML), str(RDF.XMLLiteral),
}  # fmt: skip
#: Year-like XSD datatypes, checked by their lexical pattern.
_PATTERN_DATATYPES = {
    _XSD + "gYear": r"^-?[0-9]{4,}(Z|[+-][0-9]{2}:[0-9]{2})?$",
    _XSD + "gYearMonth": r"^-?[0-9]{4,}-(0[1-9]|1[0-2])(Z|[+-][0-9]{2}:[0-9]{2})?$",
}
RDFS_SUBCLASS = "<http://www.w3.org/2000/01/rdf-schema#subClassOf>"
_XSD_STRING = "http://www.w3.org/2001/XMLSchema#string"


class UnsupportedShapeError(ValueError):
    """A shape uses a SHACL feature this engine does not compile; use pyshacl for it."""


@dataclass(frozen=True)
class Violation:
    """One validation result, in the same terms pyshacl's report gives."""

    focus: Node
    path: URIRef | None
    value: Node | None
    message: str
    shape: str  # the targeted node shape
    severity: str = "Violation"
    source: Node = SH.Shape  # the node or property shape the constraint sits on
    component: URIRef = SH.ConstraintComponent  # sh:sourceConstraintComponent


@dataclass
class Check:
    """One compiled constraint: a SELECT whose rows are violations of one shape."""

    shape: str  # the node shape's IRI
    source: Node  # the node or property shape the constraint sits on (pyshacl's sourceShape)
    path: URIRef | None
    message: str
    where: str  # the pattern below the focus-node pattern; binds ?this and maybe ?value
    value_is_focus: bool = False  # node-level constraints report the focus node as the value
    template: bool = False  # the message has {?var} placeholders filled from the solution
    projected: list[str] = field(default_factory=list)
    component: URIRef = SH.ConstraintComponent
    severity: str = "Violation"
    report_value: bool = True  # components whose results carry sh:value


def component_of(parameter: URIRef) -> URIRef:
    """The constraint component a parameter belongs to: sh:minCount -> MinCountCC."""
    special = {
        SH.qualifiedMinCount: SH.QualifiedMinCountConstraintComponent,
        SH.qualifiedMaxCount: SH.QualifiedMaxCountConstraintComponent,
        SH.sparql: SH.SPARQLConstraintComponent,
    }
    if parameter in special:
        return special[parameter]
    name = str(parameter).removeprefix(str(SH))
    return SH[name[0].upper() + name[1:] + "ConstraintComponent"]


def n3(node: Node) -> str:
    """A term as SPARQL text, for the queries the compiler writes."""
    if isinstance(node, URIRef):
        return f"<{node}>"
    if isinstance(node, Literal):
        return node.n3()
    raise UnsupportedShapeError(f"blank node {node} used as a constant")


def same_term(v: str, term: Node) -> str:
    """``sameTerm(v, term)`` for a fixed ``term``, spelt out by kind of term.

    Virtuoso 7.2 answers ``sameTerm`` with a constant wrongly (false for equal IRIs and
    strings), so the test is written with ``=`` on IRIs and on a literal's parts, which every
    store evaluates alike and which is true exactly when the terms are the same.
    """
    if isinstance(term, Literal):
        lexical = Literal(str(term)).n3()
        if term.language:
            lang = Literal(term.language).n3()
            return f"(isLiteral({v}) && LANG({v}) = {lang} && STR({v}) = {lexical})"
        datatype = term.datatype or URIRef("http://www.w3.org/2001/XMLSchema#string")
        return (
            f'(isLiteral({v}) && LANG({v}) = "" && DATATYPE({v}) = <{datatype}>'
            f" && STR({v}) = {lexical})"
        )
    if isinstance(term, URIRef):
        return f"(isIRI({v}) && {v} = <{term}>)"
    return f"sameTerm({v}, {n3(term)})"


def ox_to_rdflib(term: ox.NamedNode | ox.BlankNode | ox.Literal) -> Node:
    """An Oxigraph term as rdflib's, so a violation reads the same from every engine."""
    if isinstance(term, ox.NamedNode):
        return URIRef(term.value)
    if isinstance(term, ox.BlankNode):
        return BNode(term.value)
    if term.language:
        return Literal(term.value, lang=term.language)
    if term.datatype.value == _XSD_STRING:  # RDF 1.1: a plain literal is an xsd:string
        return Literal(term.value)
    return Literal(term.value, datatype=URIRef(term.datatype.value))


def datatype_test(v: str, datatype: str) -> str:
    """True when ``v`` is a literal of ``datatype`` whose lexical form is well-formed."""
    base = f"(isLiteral({v}) && datatype({v}) = <{datatype}>"
    local = datatype.removeprefix(_XSD)
    if datatype.startswith(_XSD) and local in _CHECKED_DATATYPES:
        # a cast of the lexical form fails (an error: false) when it is not well-formed
        cast = f"<{datatype}>(STR({v}))"
        return base + f" && COALESCE(sameTerm({cast}, {v}) || {cast} = {v}, false))"
    if datatype in _PATTERN_DATATYPES:
        return base + f" && REGEX(STR({v}), {Literal(_PATTERN_DATATYPES[datatype]).n3()}))"
    return base + ")"


def deactivated(shapes: Graph, shape: Node) -> bool:
    """Whether a shape or constraint is switched off (``sh:deactivated true``)."""
    return any(str(v).lower() == "true" for v in shapes.objects(shape, SH.deactivated))


def severity_of(shapes: Graph, shape: Node) -> str:
    """A shape's ``sh:severity`` without its namespace (``Violation`` when unset)."""
    severity = shapes.value(shape, SH.severity)
    return str(severity).removeprefix(str(SH)) if isinstance(severity, URIRef) else "Violation"


def targeted(shapes: Graph) -> set[Node]:
    """Shapes with a class target: the only targets this engine compiles."""
    return set(shapes.subjects(SH.targetClass, None))


OTHER_TARGETS = (SH.targetNode, SH.targetSubjectsOf, SH.targetObjectsOf, SH.target)


def _shape_nodes(shapes: Graph) -> list[tuple[Node, str]]:
    """Every shape in the graph, with where it stands: ``top``, ``property`` or ``nested``."""
    found: dict[Node, str] = {}
    for s in shapes.subjects(RDF.type, SH.NodeShape):
        found.setdefault(s, "top")
    for s in shapes.subjects(RDF.type, SH.PropertyShape):
        found.setdefault(s, "top")
    for p in (SH.targetClass, *OTHER_TARGETS):
        for s in shapes.subjects(p, None):
            found[s] = "top"
    for holder, prop in shapes.subject_objects(SH.property):
        found.setdefault(prop, "property" if found.get(holder) == "top" else "nested")
    for p in (SH["not"], SH.node, SH.qualifiedValueShape):
        for o in shapes.objects(None, p):
            found.setdefault(o, "nested")
    for p in (SH["or"], SH["and"], SH.xone):
        for lst in shapes.objects(None, p):
            for member in Collection(shapes, lst):
                found.setdefault(member, "nested")
    return sorted(found.items(), key=lambda kv: str(kv[0]))


def problems(shapes: Graph) -> list[str]:
    """What this engine cannot run in ``shapes``, one line each naming the shape and feature.

    An empty list means every constraint of every active shape is compiled faithfully.
    """
    # Long on purpose (69 lines): one check per SHACL feature the compiler refuses, so the list of
    # refusals is read in one place.
    out: list[str] = []
    classes = {
        c
        for cls in (RDFS.Class, URIRef("http://www.w3.org/2002/07/owl#Class"))
        for c in shapes.subjects(RDF.type, cls)
    }
    custom = {
        path: component
        for component in shapes.subjects(RDF.type, SH.ConstraintComponent)
        for parameter in shapes.objects(component, SH.parameter)
        for path in shapes.objects(parameter, SH.path)
    }
    for shape, where in _shape_nodes(shapes):
        if deactivated(shapes, shape):
            continue
        for p in set(shapes.predicates(shape, None)) & set(custom):
            component = _written(custom[p], shapes)
            out.append(f"{_written(shape, shapes)}: the custom constraint component {component}")
        name = _written(shape, shapes) if isinstance(shape, URIRef) else "a blank-node shape"
        for target in OTHER_TARGETS:
            if (shape, target, None) in shapes:
                out.append(f"{name}: {_written(target, shapes)} (only sh:targetClass is compiled)")
        if shape in classes and (shape, RDF.type, SH.NodeShape) in shapes:
            out.append(f"{name}: an implicit class target (shape and class in one node)")
        has_path = (shape, SH.path, None) in shapes
        if where == "top":
            if not isinstance(shape, URIRef) and (shape, SH.targetClass, None) in shapes:
                out.append(f"{name}: a blank-node shape with a target")
            if has_path and (shape, SH.targetClass, None) in shapes:
                out.append(f"{name}: a property shape with its own target")
        if has_path and not isinstance(shapes.value(shape, SH.path), URIRef):
            out.append(f"{name}: a path other than a single IRI (a sequence, inverse...)")
        for p, o in shapes.predicate_objects(shape):
            if p in IGNORED - {SH.property} or p == SH.flags:
                continue
            if p == SH.property:
                if where != "top" or has_path:
                    out.append(f"{name}: sh:property inside a nested or property shape")
                continue
            if p == SH.sparql:
                if has_path or where != "top":
                    out.append(f"{name}: sh:sparql on a property or nested shape")
                else:
                    out.extend(f"{name}: {why}" for why in sparql_problems(shapes, o))
                continue
            if p not in SUPPORTED:
                if str(p).startswith(str(SH)):
                    out.append(f"{name}: {_written(p, shapes)} is not compiled")
                continue
            if p == SH.datatype and not _datatype_supported(str(o)):
                out.append(
                    f"{name}: sh:datatype {_written(o, shapes)} (its lexical forms are not checked)"
                )
            if p in (SH.minCount, SH.maxCount) and where == "nested" and has_path:
                n = int(str(o))
                if (p == SH.minCount and n > 1) or (p == SH.maxCount and n != 1):
                    out.append(f"{name}: nested {_written(p, shapes)} {n}")
            if p in (SH.hasValue, SH["in"]) and _has_blank(shapes, p, o):
                out.append(f"{name}: {_written(p, shapes)} with a blank node")
            if p in (SH["class"],) and not isinstance(o, URIRef):
                out.append(f"{name}: sh:class {_written(o, shapes)}")
            if where == "nested" and has_path and p in (SH.uniqueLang, SH.qualifiedValueShape):
                out.append(f"{name}: nested {_written(p, shapes)} on a path")
    return out


def _written(term: Node, shapes: Graph) -> str:
    """A term as a maintainer wrote it: a prefixed name where the shapes bind the prefix."""
    try:
        return term.n3(shapes.namespace_manager)
    except Exception:  # an IRI no prefix covers
        return term.n3()


def _datatype_supported(datatype: str) -> bool:
    local = datatype.removeprefix(_XSD)
    if not datatype.startswith(_XSD):
        return datatype in _FREE_DATATYPES or not datatype.startswith("http://www.w3.org/")
    return (
        local in _CHECKED_DATATYPES
        or datatype in _FREE_DATATYPES
        or (datatype in _PATTERN_DATATYPES)
    )


def _has_blank(shapes: Graph, p: Node, o: Node) -> bool:
    if p == SH["in"]:
        return any(isinstance(m, BNode) for m in Collection(shapes, o))
    return isinstance(o, BNode)


#: SPARQL forms the SHACL spec forbids with pre-bound ``$this`` (section 5.2.1), and forms
#: whose meaning would change when ``$this`` is bound by a join instead of a substitution.
_PREBINDING_FORBIDDEN = (
    (re.compile(r"\bMINUS\b", re.I), "MINUS"),
    (re.compile(r"\bVALUES\b", re.I), "VALUES"),
    (re.compile(r"\bSERVICE\b", re.I), "SERVICE"),
    (re.compile(r"\bBIND\s*\([^)]*\bAS\s+[$?](this|value|shapesGraph|currentShape)\b", re.I),
     "re-binding a pre-bound variable"),
    (re.compile(r"\$(shapesGraph|currentShape)\b"), "$shapesGraph or $currentShape"),
    (re.compile(r"\bGRAPH\b", re.I), "GRAPH"),
)  # fmt: skip


def sparql_problems(shapes: Graph, constraint: Node) -> list[str]:
    """Why a SPARQL-based constraint cannot be run as compiled (pre-binding rules), if it cannot."""
    if deactivated(shapes, constraint):
        return []
    select = shapes.value(constraint, SH.select)
    if select is None:
        return ["a sh:sparql constraint without sh:select"]
    text = str(select)
    where = text.split("{", 1)[1] if "{" in text else ""
    out = [f"sh:sparql uses {name}" for rx, name in _PREBINDING_FORBIDDEN if rx.search(text)]
    if re.search(r"\bSELECT\b", where, re.I):
        out.append("sh:sparql has a subquery")
    if not re.search(r"[$?]this\b", text.split("WHERE", 1)[0].split("{", 1)[0]):
        out.append("sh:sparql does not project $this")
    if _nested_this(where):
        out.append("sh:sparql uses $this inside a nested group (pre-binding would differ)")
    return out


def _nested_this(where: str) -> bool:
    """Whether ``$this`` is tested in a group a join would evaluate before binding it.

    OPTIONAL and top-level FILTER (NOT) EXISTS see ``?this`` bound by the focus pattern, as a
    substitution would; a FILTER inside a nested group (a UNION branch) does not.
    """
    depth = 0
    kinds: list[str] = []
    i = 0
    while i < len(where):
        c = where[i]
        if c == "{":
            before = where[:i].rstrip().upper()
            kind = "optional" if before.endswith("OPTIONAL") else "group"
            if before.endswith("EXISTS"):
                kind = "exists"
            kinds.append(kind)
            depth += 1
        elif c == "}":
            if kinds:
                kinds.pop()
            depth -= 1
        elif where.startswith("$this", i) or where.startswith("?this", i):
            inner = [k for k in kinds if k != "optional"]
            # top-level FILTER EXISTS is evaluated with ?this bound; deeper groups are not
            if len(inner) > 1 or (inner and inner[0] == "group" and _filter_in(where, i)):
                return True
        i += 1
    return False


def _filter_in(where: str, position: int) -> bool:
    """Whether a FILTER or BIND expression of the group holding ``position`` mentions it."""
    start = where.rfind("{", 0, position)
    segment = where[start:position].upper()
    return "FILTER" in segment or "BIND" in segment
