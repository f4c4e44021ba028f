"""SHACL validation compiled to SPARQL and run by Oxigraph, for graphs pyshacl is too slow for.

pyshacl takes minutes on a 100k-quad graph and more than six on a million, because it walks the
graph from Python one focus node at a time. Here each constraint of each shape becomes one
SPARQL SELECT that returns the violating focus nodes (and values) in a single pass, and Oxigraph
runs it in Rust. pyshacl stays the reference: the tests compare this engine's findings with
pyshacl's on the seeded graph, on every shape fixture and on random edits.

Only what compiles faithfully is compiled: node shapes with ``sh:targetClass`` and the Core
components in ``SUPPORTED`` (with ``sh:property`` on the targeted shape only), plus SPARQL-based
constraints whose ``$this`` can be bound by a join. Before any query runs, :func:`problems`
walks every shape in the shapes graph, and any other feature (another kind of target, a nested
``sh:property``, ``sh:closed``, ``sh:node``, a SPARQL form pre-binding forbids...) raises
:class:`UnsupportedShapeError` naming the shape and the feature, so nothing is skipped silently.
The W3C SHACL core suite runs through this engine in the tests: every case is passed or refused.

Validation can be limited to some focus nodes (those a write touched): targets among them are
checked, and so are blank nodes hanging off them (a project's amounts and status statements).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import pyoxigraph as ox
from rdflib import BNode, Graph, Literal, Node, URIRef
from rdflib.collection import Collection
from rdflib.namespace import RDF, RDFS, SH, SKOS

if TYPE_CHECKING:
    from kzgraph.store.engines import Store as KzStore

#: The constraint parameters the compiler understands (besides sh:path and sh:message).
SUPPORTED = {
    SH.minCount, SH.maxCount, SH["class"], SH.datatype, SH["in"], SH.pattern, SH.flags,
    SH.minExclusive, SH.minInclusive, SH.maxExclusive, SH.maxInclusive, SH.minLength,
    SH.maxLength, SH.nodeKind, SH.hasValue, SH.uniqueLang, SH["or"], SH["not"], SH.xone,
    SH.qualifiedValueShape, SH.qualifiedMinCount, SH.qualifiedMaxCount, SH.sparql,
}  # fmt: skip
_IGNORED = {
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
_RDFS_SUBCLASS = "<http://www.w3.org/2000/01/rdf-schema#subClassOf>"
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


def _n3(node: Node) -> str:
    if isinstance(node, URIRef):
        return f"<{node}>"
    if isinstance(node, Literal):
        return node.n3()
    raise UnsupportedShapeError(f"blank node {node} used as a constant")


def _same_term(v: str, term: Node) -> str:
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
    return f"sameTerm({v}, {_n3(term)})"


def _ox_to_rdflib(term: ox.NamedNode | ox.BlankNode | ox.Literal) -> Node:
    if isinstance(term, ox.NamedNode):
        return URIRef(term.value)
    if isinstance(term, ox.BlankNode):
        return BNode(term.value)
    if term.language:
        return Literal(term.value, lang=term.language)
    if term.datatype.value == _XSD_STRING:  # RDF 1.1: a plain literal is an xsd:string
        return Literal(term.value)
    return Literal(term.value, datatype=URIRef(term.datatype.value))


def _datatype_test(v: str, datatype: str) -> str:
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


def _deactivated(shapes: Graph, shape: Node) -> bool:
    return any(str(v).lower() == "true" for v in shapes.objects(shape, SH.deactivated))


def _severity(shapes: Graph, shape: Node) -> str:
    severity = shapes.value(shape, SH.severity)
    return str(severity).removeprefix(str(SH)) if isinstance(severity, URIRef) else "Violation"


def _targeted(shapes: Graph) -> set[Node]:
    """Shapes with a class target: the only targets this engine compiles."""
    return set(shapes.subjects(SH.targetClass, None))


_OTHER_TARGETS = (SH.targetNode, SH.targetSubjectsOf, SH.targetObjectsOf, SH.target)


def _shape_nodes(shapes: Graph) -> list[tuple[Node, str]]:
    """Every shape in the graph, with where it stands: ``top``, ``property`` or ``nested``."""
    found: dict[Node, str] = {}
    for s in shapes.subjects(RDF.type, SH.NodeShape):
        found.setdefault(s, "top")
    for s in shapes.subjects(RDF.type, SH.PropertyShape):
        found.setdefault(s, "top")
    for p in (SH.targetClass, *_OTHER_TARGETS):
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
        if _deactivated(shapes, shape):
            continue
        for p in set(shapes.predicates(shape, None)) & set(custom):
            component = _written(custom[p], shapes)
            out.append(f"{_written(shape, shapes)}: the custom constraint component {component}")
        name = _written(shape, shapes) if isinstance(shape, URIRef) else "a blank-node shape"
        for target in _OTHER_TARGETS:
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
            if p in _IGNORED - {SH.property} or p == SH.flags:
                continue
            if p == SH.property:
                if where != "top" or has_path:
                    out.append(f"{name}: sh:property inside a nested or property shape")
                continue
            if p == SH.sparql:
                if has_path or where != "top":
                    out.append(f"{name}: sh:sparql on a property or nested shape")
                else:
                    out.extend(f"{name}: {why}" for why in _sparql_problems(shapes, o))
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


def _sparql_problems(shapes: Graph, constraint: Node) -> list[str]:
    if _deactivated(shapes, constraint):
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


class Compiler:
    """Turns a shapes graph into :class:`Check` objects, one per constraint."""

    def __init__(self, shapes: Graph, closure: Callable[[URIRef], list[str]] | None = None) -> None:
        self.shapes = shapes
        self._fresh = 0
        # With the data's class hierarchy at hand, sh:class becomes a lookup among the class and
        # its subclasses instead of a property path walked for every value.
        self.closure = closure

    def var(self) -> str:
        """A variable name no other part of the query uses."""
        self._fresh += 1
        return f"?_v{self._fresh}"

    def checks(self) -> tuple[dict[str, list[URIRef]], list[Check]]:
        """Targets per node shape, and every check; refuses what it cannot compile."""
        found = problems(self.shapes)
        if found:
            raise UnsupportedShapeError(found[0])
        targets: dict[str, list[URIRef]] = {}
        out: list[Check] = []
        for shape in sorted(_targeted(self.shapes), key=str):
            if _deactivated(self.shapes, shape) or not isinstance(shape, URIRef):
                continue  # problems() refused blank-node shapes with targets already
            classes = sorted(str(c) for c in self.shapes.objects(shape, SH.targetClass))
            targets[str(shape)] = [URIRef(c) for c in classes]
            severity = _severity(self.shapes, shape)
            for check in self._node_checks(shape):
                check.severity = severity
                out.append(check)
            for prop in self.shapes.objects(shape, SH.property):
                if _deactivated(self.shapes, prop):
                    continue
                for check in self._property_checks(shape, prop):
                    check.severity = _severity(self.shapes, prop)
                    out.append(check)
        return targets, out

    def _unsupported(self, shape: Node, node: Node) -> None:
        for p in self.shapes.predicates(node, None):
            if p not in SUPPORTED and p not in _IGNORED:
                raise UnsupportedShapeError(f"{shape}: {p} is not compiled; validate with pyshacl")

    def _message(self, node: Node, fallback: str) -> str:
        message = self.shapes.value(node, SH.message)
        return str(message) if message is not None else fallback

    # ---- value tests (an expression that is true when ?value satisfies a constraint) ----

    def _value_test(self, p: Any, o: Any, v: str, holder: Node | None = None) -> str | None:
        """A boolean SPARQL expression, true when the value ``v`` satisfies ``p`` = ``o``.

        ``holder`` is the shape the parameter sits on (for sh:flags beside sh:pattern).
        """
        if p == SH["class"]:
            c = self.var()
            if self.closure is not None and isinstance(o, URIRef):
                values = " ".join(f"<{k}>" for k in self.closure(o))
                return f"EXISTS {{ VALUES {c} {{ {values} }} {v} a {c} }}"
            return f"EXISTS {{ {v} a {c} . {c} {_RDFS_SUBCLASS}* {_n3(o)} }}"
        if p == SH.datatype:
            return _datatype_test(v, str(o))
        if p == SH.nodeKind:
            kinds = {
                SH.IRI: f"isIRI({v})",
                SH.BlankNode: f"isBlank({v})",
                SH.Literal: f"isLiteral({v})",
                SH.BlankNodeOrIRI: f"(isBlank({v}) || isIRI({v}))",
                SH.IRIOrLiteral: f"(isIRI({v}) || isLiteral({v}))",
                SH.BlankNodeOrLiteral: f"(isBlank({v}) || isLiteral({v}))",
            }
            return kinds[URIRef(str(o))]
        if p == SH.pattern:
            flags = self.shapes.value(holder, SH.flags) if holder is not None else None
            extra = f", {Literal(str(flags)).n3()}" if flags is not None else ""
            return f"(!isBlank({v}) && REGEX(STR({v}), {Literal(str(o)).n3()}{extra}))"
        if p == SH.minLength:
            return f"(!isBlank({v}) && STRLEN(STR({v})) >= {int(str(o))})"
        if p == SH.maxLength:
            return f"(!isBlank({v}) && STRLEN(STR({v})) <= {int(str(o))})"
        ops = {
            SH.minExclusive: ">",
            SH.minInclusive: ">=",
            SH.maxExclusive: "<",
            SH.maxInclusive: "<=",
        }
        if p in ops:
            return f"COALESCE({v} {ops[p]} {_n3(o)}, false)"
        if p == SH["in"]:
            members = list(Collection(self.shapes, o))
            alternatives = " || ".join(_same_term(v, m) for m in members)
            return f"({alternatives or 'false'})"
        return None

    def _conforms(self, shape: Node, v: str) -> str:
        """A boolean expression, true when ``v`` conforms to the (nested) ``shape``."""
        self._unsupported(shape, shape)
        parts = []
        path = self.shapes.value(shape, SH.path)
        for p, o in self.shapes.predicate_objects(shape):
            if p in _IGNORED:
                continue
            if path is not None:
                parts.append(self._nested_property(shape, URIRef(str(path)), p, o, v))
                continue
            if p == SH.flags:
                continue
            test = self._value_test(URIRef(str(p)), o, v, shape)
            if test is None:
                test = self._logical(URIRef(str(p)), o, v)
            parts.append(test)
        return "(" + " && ".join(parts or ["true"]) + ")"

    def _nested_property(self, shape: Node, path: URIRef, p: Any, o: Any, v: str) -> str:
        """A property constraint inside a nested shape (sh:xone members, qualified shapes)."""
        x, y = self.var(), self.var()
        if p == SH.minCount:
            if int(str(o)) > 1:
                raise UnsupportedShapeError(f"{shape}: nested sh:minCount above 1")
            return "true" if int(str(o)) == 0 else f"EXISTS {{ {v} <{path}> {x} }}"
        if p == SH.maxCount:
            if int(str(o)) != 1:
                raise UnsupportedShapeError(f"{shape}: nested sh:maxCount other than 1")
            return f"NOT EXISTS {{ {v} <{path}> {x}, {y} . FILTER(!sameTerm({x}, {y})) }}"
        if p == SH.hasValue:
            return f"EXISTS {{ {v} <{path}> {_n3(o)} }}"
        if p == SH.flags:
            return "true"
        test = self._value_test(URIRef(str(p)), o, x, shape)
        if test is None:
            raise UnsupportedShapeError(f"{shape}: nested {p} on a path")
        return f"NOT EXISTS {{ {v} <{path}> {x} . FILTER(!({test})) }}"

    def _logical(self, p: Any, o: Any, v: str) -> str:
        if p == SH["not"]:
            return f"!{self._conforms(o, v)}"
        members = list(Collection(self.shapes, o))
        tests = [self._conforms(m, v) for m in members]
        if p == SH["or"]:
            return "(" + " || ".join(tests) + ")"
        if p == SH.xone:
            # exactly one true, in plain logic: Virtuoso's compiler refuses EXISTS inside IF,
            # which counting the true members (IF(t, 1, 0) + ...) = 1 would need
            ones = [
                " && ".join([t] + [f"!{u}" for j, u in enumerate(tests) if j != i])
                for i, t in enumerate(tests)
            ]
            return "(" + " || ".join(f"({one})" for one in ones) + ")" if ones else "false"
        raise UnsupportedShapeError(f"{p} is not compiled")

    # ---- checks -------------------------------------------------------------------------

    def _node_checks(self, shape: URIRef) -> list[Check]:
        checks = []
        message = self._message(shape, "constraint violated")
        for p, o in self.shapes.predicate_objects(shape):
            if p in _IGNORED:
                continue
            if p not in SUPPORTED:
                raise UnsupportedShapeError(f"{shape}: {p} is not compiled; validate with pyshacl")
            if p == SH.sparql:
                checks.append(self._sparql_check(shape, o))
                continue
            if p == SH.flags:
                continue
            test = self._value_test(URIRef(str(p)), o, "?this", shape)
            if test is None:
                test = self._logical(URIRef(str(p)), o, "?this")
            checks.append(
                Check(
                    str(shape),
                    shape,
                    None,
                    message,
                    f"FILTER(!({test}))",
                    value_is_focus=True,
                    component=component_of(URIRef(str(p))),
                )
            )
        return checks

    def _property_checks(self, shape: URIRef, prop: Any) -> list[Check]:
        self._unsupported(shape, prop)
        path = self.shapes.value(prop, SH.path)
        if not isinstance(path, URIRef):
            raise UnsupportedShapeError(f"{shape}: only IRI paths are compiled")
        message = self._message(prop, "constraint violated")
        p_ = f"<{path}>"
        checks = []

        def add(where: str, parameter: URIRef | None = None, report_value: bool = False) -> None:
            checks.append(
                Check(
                    str(shape),
                    prop,
                    path,
                    message,
                    where,
                    component=component_of(parameter or URIRef(str(p))),
                    report_value=report_value,
                )
            )

        for p, o in self.shapes.predicate_objects(prop):
            if p in _IGNORED or p in (SH.qualifiedMinCount, SH.qualifiedMaxCount, SH.flags):
                continue
            if p == SH.minCount:
                if int(str(o)) == 1:
                    add(f"FILTER NOT EXISTS {{ ?this {p_} ?_any }}")
                elif int(str(o)) > 1:
                    add(
                        f"{{ SELECT ?this WHERE {{ ?this {p_} ?_c }} GROUP BY ?this "
                        f"HAVING(COUNT(DISTINCT ?_c) < {int(str(o))}) }} UNION "
                        f"{{ FILTER NOT EXISTS {{ ?this {p_} ?_any }} }}"
                    )
            elif p == SH.maxCount:
                add(
                    f"{{ SELECT ?this WHERE {{ ?this {p_} ?_c }} GROUP BY ?this "
                    f"HAVING(COUNT(DISTINCT ?_c) > {int(str(o))}) }}"
                )
            elif p == SH.hasValue:
                add(f"FILTER NOT EXISTS {{ ?this {p_} {_n3(o)} }}")
            elif p == SH.uniqueLang:
                if str(o).lower() == "true":
                    add(
                        f'{{ SELECT ?this WHERE {{ ?this {p_} ?_l . FILTER(LANG(?_l) != "") }} '
                        f"GROUP BY ?this LANG(?_l) HAVING(COUNT(DISTINCT ?_l) > 1) }}"
                    )
            elif p == SH.qualifiedValueShape:
                test = self._conforms(o, "?_q")
                low = self.shapes.value(prop, SH.qualifiedMinCount)
                high = self.shapes.value(prop, SH.qualifiedMaxCount)
                if low is not None:
                    add(
                        f"OPTIONAL {{ SELECT ?this (COUNT(DISTINCT ?_q) AS ?_n) WHERE {{ "
                        f"?this {p_} ?_q . FILTER({test}) }} GROUP BY ?this }} "
                        f"FILTER(COALESCE(?_n, 0) < {int(str(low))})",
                        SH.qualifiedMinCount,
                    )
                if high is not None:
                    add(
                        f"{{ SELECT ?this WHERE {{ ?this {p_} ?_q . FILTER({test}) }} "
                        f"GROUP BY ?this HAVING(COUNT(DISTINCT ?_q) > {int(str(high))}) }}",
                        SH.qualifiedMaxCount,
                    )
            elif p == SH.sparql:
                raise UnsupportedShapeError(f"{shape}: sh:sparql on a property shape")
            else:
                found = self._value_test(URIRef(str(p)), o, "?value", prop)
                test = found if found is not None else self._logical(URIRef(str(p)), o, "?value")
                add(f"?this {p_} ?value . FILTER(!({test}))", report_value=True)
        return checks

    def _sparql_check(self, shape: URIRef, constraint: Node) -> Check:
        select = str(self.shapes.value(constraint, SH.select))
        prefixes = ""
        for holder in self.shapes.objects(constraint, SH.prefixes):
            for decl in self.shapes.objects(holder, SH.declare):
                prefix = self.shapes.value(decl, SH.prefix)
                namespace = self.shapes.value(decl, SH.namespace)
                prefixes += f"PREFIX {prefix}: <{namespace}>\n"
        body = re.sub(r"\$this\b", "?this", select)
        projected = re.findall(
            r"\?(\w+)", re.split(r"\bWHERE\b|\{", body, maxsplit=1, flags=re.I)[0]
        )
        message = self._message(constraint, self._message(shape, "SPARQL constraint violated"))
        return Check(
            str(shape),
            shape,  # sh:sourceShape is the shape; the constraint is its sh:sourceConstraint
            None,
            message,
            prefixes + body,  # a whole query, run as is
            value_is_focus=True,
            template="{" in message,
            projected=projected,
            component=SH.SPARQLConstraintComponent,
        )


def select(store: ox.Store | KzStore, query: str) -> list[dict[str, Node]]:
    """Rows of a SELECT as rdflib terms, from pyoxigraph or any kzgraph store (a remote one).

    The checks run on whatever holds the data: the embedded engine directly, a triple store
    that others run through :class:`kzgraph.remote.stores.RemoteStore`.
    """
    if isinstance(store, ox.Store):
        results = store.query(query)
        assert isinstance(results, ox.QuerySolutions)
        names = [v.value for v in results.variables]
        return [{n: _ox_to_rdflib(row[n]) for n in names if row[n] is not None} for row in results]
    return [{k: v for k, v in row.items() if v is not None} for row in store.query(query).dicts()]


def _inline_sparql(query: str, pattern: str) -> str:
    """A SPARQL constraint with the focus-node pattern put first inside its WHERE group.

    Inside one group ``?this`` is bound by the focus pattern before the constraint's FILTERs
    see it, as pre-binding asks; :func:`problems` refuses the forms where that would differ.
    """
    prologue, _, rest = query.partition("SELECT")
    open_at = rest.index("{")
    depth = 0
    for i in range(open_at, len(rest)):
        if rest[i] == "{":
            depth += 1
        elif rest[i] == "}":
            depth -= 1
            if depth == 0:
                close_at = i
                break
    head = re.sub(r"^\s*DISTINCT\b", "", rest[:open_at], flags=re.I)
    body, tail = rest[open_at + 1 : close_at], rest[close_at + 1 :]
    return f"{prologue}SELECT DISTINCT {head} {{ {pattern} {body} }} {tail}"


def _classes(store: ox.Store | KzStore, cls: URIRef) -> list[str]:
    """``cls`` and every class below it by rdfs:subClassOf in the data."""
    rows = select(store, f"SELECT DISTINCT ?c WHERE {{ ?c {_RDFS_SUBCLASS}* <{cls}> }}")
    found = {str(row["c"]) for row in rows if isinstance(row.get("c"), URIRef)}
    return sorted(found | {str(cls)})


def _subclass_closures(store: ox.Store | KzStore) -> Callable[[URIRef], list[str]]:
    """:func:`_classes` for every class from one query: the data's subclass links, walked here.

    For a remote store, where each query is a request (and a property path is written out
    for Virtuoso first); the same classes as the path query gives.
    """
    below: dict[str, set[str]] = {}
    for row in select(store, f"SELECT DISTINCT ?c ?d WHERE {{ ?c {_RDFS_SUBCLASS} ?d }}"):
        c, d = row.get("c"), row.get("d")
        if isinstance(c, URIRef) and isinstance(d, URIRef):
            below.setdefault(str(d), set()).add(str(c))

    def closure(cls: URIRef) -> list[str]:
        found, todo = {str(cls)}, [str(cls)]
        while todo:
            for sub in below.get(todo.pop(), ()):
                if sub not in found:
                    found.add(sub)
                    todo.append(sub)
        return sorted(found)

    return closure


def _local(store: ox.Store | KzStore) -> bool:
    """Whether queries run in this process (no request per query to save)."""
    return isinstance(store, ox.Store) or getattr(store, "engine", "") != "remote"


#: The variable a batched query's rows carry to say which check they belong to.
_CHECK_VAR = "_kzcheck"
#: Checks per request on a remote store. Measured on the seeded graph (a validation, first
#: run then second): one check a request 232 requests, 0.38 / 0.34 s on an Oxigraph server and
#: 1.12 / 0.47 s on Virtuoso; 25 a request 11 requests, 0.13 / 0.10 s and 0.48 / 0.15 s; all in
#: one 0.30 / 0.30 s and 2.06 / 0.27 s (Virtuoso compiles a long UNION slowly).
BATCH = 25


def _batches(checks: list[Check]) -> list[list[Check]]:
    """The checks in groups of :data:`BATCH`, in order."""
    return [checks[i : i + BATCH] for i in range(0, len(checks), BATCH)]


def _batched(queries: list[str]) -> str:
    """One SELECT whose rows are those of ``queries``, each tagged with its index.

    Each query is a sub-SELECT in a UNION branch; their PREFIX lines are declared once
    (kzgraph's compiled checks use the shapes' own prefixes, never two meanings of one name).
    """
    prefixes: dict[str, str] = {}
    branches = []
    for n, query in enumerate(queries):
        prologue, select_at, rest = query.partition("SELECT")
        for name, iri in re.findall(r"PREFIX\s+([\w.-]*):\s*<([^>]*)>", prologue, re.I):
            if prefixes.setdefault(name, iri) != iri:
                raise ValueError(f"prefix {name}: declared twice with two IRIs")
        branches.append(f'{{ {{ {select_at}{rest} }} BIND("{n}" AS ?{_CHECK_VAR}) }}')
    head = "".join(f"PREFIX {n}: <{i}>\n" for n, i in sorted(prefixes.items()))
    return f"{head}SELECT * WHERE {{\n" + "\nUNION\n".join(branches) + "\n}"


def _focus_pattern(classes: list[str], focus: Iterable[str] | None) -> str:
    values = " ".join(f"<{c}>" for c in classes)
    pattern = f"VALUES ?_cls {{ {values} }} ?this a ?_cls ."
    if focus is None:
        return pattern
    nodes = " ".join(f"<{f}>" for f in sorted(focus)) or "<urn:kzgraph:nothing>"
    # the focus IRIs themselves, and blank nodes hanging off them (amounts, statements)
    return (
        f"{{ VALUES ?this {{ {nodes} }} }} UNION "
        f"{{ VALUES ?_owner {{ {nodes} }} ?_owner ?_link ?this . FILTER(isBlank(?this)) }} "
        + pattern
    )


def offloadable(shapes: Graph) -> list[tuple[URIRef, Node]]:
    """The SPARQL constraints this engine runs faithfully, as (node shape, constraint).

    Those of active IRI node shapes whose only targets are classes, in a form pre-binding
    allows. The default engine hands these to Oxigraph (one pass each) instead of evaluating
    them once per focus node.
    """
    found = []
    for shape, constraint in shapes.subject_objects(SH.sparql):
        if not isinstance(shape, URIRef) or _deactivated(shapes, shape):
            continue
        if (shape, SH.path, None) in shapes or not any(shapes.objects(shape, SH.targetClass)):
            continue
        if any((shape, t, None) in shapes for t in _OTHER_TARGETS):
            continue
        if (shape, RDF.type, SH.NodeShape) in shapes and any(
            (shape, RDF.type, c) in shapes
            for c in (RDFS.Class, URIRef("http://www.w3.org/2002/07/owl#Class"))
        ):
            continue
        if _deactivated(shapes, constraint) or _sparql_problems(shapes, constraint):
            continue
        found.append((shape, constraint))
    return sorted(found, key=lambda sc: (str(sc[0]), str(sc[1])))


def validate_store(
    store: ox.Store | KzStore,
    shapes: Graph,
    focus: Iterable[str] | None = None,
    threads: int = 1,
    only: list[tuple[URIRef, Node]] | None = None,
) -> list[Violation]:
    """Every violation in ``store`` (its default graph), or only those of ``focus`` nodes.

    With ``threads`` above 1 the checks run side by side: Oxigraph releases the GIL while it
    evaluates a query, so on a big graph the checks use every core (1.5x faster on two).
    With ``only``, just those SPARQL constraints run (see :func:`offloadable`).
    """
    closures: dict[URIRef, list[str]] = {}
    walked = None if _local(store) else _subclass_closures(store)

    def closure(cls: URIRef) -> list[str]:
        if cls not in closures:
            closures[cls] = walked(cls) if walked is not None else _classes(store, cls)
        return closures[cls]

    if only is None:
        targets, checks = Compiler(shapes, closure).checks()
    else:
        compiler = Compiler(shapes, closure)
        targets = {
            str(s): [URIRef(str(c)) for c in shapes.objects(s, SH.targetClass)] for s, _ in only
        }
        checks = []
        for shape, constraint in only:
            check = compiler._sparql_check(shape, constraint)
            check.severity = _severity(shapes, shape)
            checks.append(check)
    focus_set = None if focus is None else set(focus)
    kept: set[str] = set()
    wide = focus_set is not None and len(focus_set) > FOCUS_LIMIT
    if focus_set is not None and wide:  # one pass over everything, then the focus nodes' findings
        kept, focus_set = focus_set, None
    classes = {shape: sorted({c for t in ts for c in closure(t)}) for shape, ts in targets.items()}

    def query_of(check: Check) -> str:
        pattern = _focus_pattern(classes[check.shape], focus_set)
        if check.projected:  # a SPARQL constraint: its body inlined after the focus nodes
            return _inline_sparql(check.where, pattern)
        return f"SELECT DISTINCT ?this ?value WHERE {{ {pattern} {check.where} }}"

    def run(check: Check) -> set[Violation]:
        return violations_of(check, select(store, query_of(check)))

    def run_batch(batch: list[Check]) -> set[Violation]:
        try:
            if len(batch) == 1:
                raise ValueError("one check")
            query = _batched([query_of(c) for c in batch])
        except ValueError:  # one check, or prefixes that cannot share a prologue: one by one
            return set().union(*(run(c) for c in batch))
        rows = select(store, query)
        found: set[Violation] = set()
        for n, check in enumerate(batch):
            mine = [r for r in rows if str(r.get(_CHECK_VAR, "")) == str(n)]
            found |= violations_of(check, mine)
        return found

    def violations_of(check: Check, rows: list[dict[str, Node]]) -> set[Violation]:
        found: set[Violation] = set()
        for row in rows:
            this = row["this"]
            value = row.get("value") if check.report_value else None
            if check.value_is_focus and value is None:
                value = this
            path = check.path
            if check.projected and isinstance(row.get("path"), URIRef):
                path = URIRef(str(row["path"]))
            message = check.message
            if check.template:
                for name in check.projected:
                    bound = row.get(name)
                    if bound is not None:
                        message = re.sub(r"\{[?$]" + name + r"\}", str(bound), message)
            found.add(
                Violation(
                    this,
                    path,
                    value,
                    message,
                    check.shape,
                    check.severity,
                    check.source,
                    check.component,
                )
            )
        return found

    found: set[Violation] = set()
    # a remote store gets the checks a batch to a request (a UNION of them): one query per
    # check was 279 requests per write, and an Oxigraph server started with --timeout-s keeps
    # a thread per query for that long (16,365 threads after 57 writes, then it died)
    if _local(store):
        batches = [[c] for c in checks]
    elif focus_set is not None and getattr(store, "kind", "") != "virtuoso":
        # a few nodes: one request per thread (seeded graph on an Oxigraph server, two nodes,
        # two threads: all in one request 0.36 s, 25 checks a request 0.15 s in 11 requests,
        # one per thread 0.16 s in 2; Virtuoso compiles a long UNION slowly and keeps the 25)
        size = -(-len(checks) // max(1, threads))
        batches = [checks[i : i + size] for i in range(0, len(checks), size)] if checks else []
    else:
        batches = _batches(checks)
    if threads > 1:
        from concurrent.futures import ThreadPoolExecutor

        with ThreadPoolExecutor(threads) as pool:
            for part in pool.map(run_batch, batches):
                found |= part
    else:
        for batch in batches:
            found |= run_batch(batch)
    if wide:
        found = {v for v in found if _in_focus(store, v.focus, kept)}
    return sorted(found, key=lambda v: (str(v.focus), str(v.path), str(v.value), v.message))


#: Above this many focus nodes a full pass is faster than constraining every check to them
#: (measured: 2,922 focus nodes took 29 s with a VALUES block per check, a full pass 0.2 s).
FOCUS_LIMIT = 200


def _in_focus(store: ox.Store | KzStore, node: Node, focus: set[str]) -> bool:
    """Whether ``node`` is a focus node, or a blank node one of them holds."""
    if isinstance(node, URIRef):
        return str(node) in focus
    if isinstance(node, BNode):
        if not isinstance(store, ox.Store):
            return True  # a remote store cannot name one blank node: report it rather than lose it
        owners = store.quads_for_pattern(None, None, ox.BlankNode(str(node)))
        return any(getattr(q.subject, "value", None) in focus for q in owners)
    return False
