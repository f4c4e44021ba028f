"""Each constraint of each shape as one SPARQL SELECT that returns its violations.

Only what :func:`.shacl_scope.problems` accepts reaches the compiler; the queries it writes
are run, batched, by :mod:`.shacl_sparql`.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from rdflib import Graph, Literal, Node, URIRef
from rdflib.collection import Collection
from rdflib.namespace import SH

from kzgraph.validation.shacl_scope import (
    IGNORED,
    RDFS_SUBCLASS,
    SUPPORTED,
    Check,
    UnsupportedShapeError,
    component_of,
    datatype_test,
    deactivated,
    n3,
    problems,
    same_term,
    severity_of,
    targeted,
)

if TYPE_CHECKING:
    pass


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
        for shape in sorted(targeted(self.shapes), key=str):
            if deactivated(self.shapes, shape) or not isinstance(shape, URIRef):
                continue  # problems() refused blank-node shapes with targets already
            classes = sorted(str(c) for c in self.shapes.objects(shape, SH.targetClass))
            targets[str(shape)] = [URIRef(c) for c in classes]
            severity = severity_of(self.shapes, shape)
            for check in self._node_checks(shape):
                check.severity = severity
                out.append(check)
            for prop in self.shapes.objects(shape, SH.property):
                if deactivated(self.shapes, prop):
                    continue
                for check in self._property_checks(shape, prop):
                    check.severity = severity_of(self.shapes, prop)
                    out.append(check)
        return targets, out

    def _unsupported(self, shape: Node, node: Node) -> None:
        for p in self.shapes.predicates(node, None):
            if p not in SUPPORTED and p not in IGNORED:
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
            return f"EXISTS {{ {v} a {c} . {c} {RDFS_SUBCLASS}* {n3(o)} }}"
        if p == SH.datatype:
            return datatype_test(v, str(o))
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
            return f"COALESCE({v} {ops[p]} {n3(o)}, false)"
        if p == SH["in"]:
            members = list(Collection(self.shapes, o))
            alternatives = " || ".join(same_term(v, m) for m in members)
            return f"({alternatives or 'false'})"
        return None

    def _conforms(self, shape: Node, v: str) -> str:
        """A boolean expression, true when ``v`` conforms to the (nested) ``shape``."""
        self._unsupported(shape, shape)
        parts = []
        path = self.shapes.value(shape, SH.path)
        for p, o in self.shapes.predicate_objects(shape):
            if p in IGNORED:
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
            return f"EXISTS {{ {v} <{path}> {n3(o)} }}"
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
            if p in IGNORED:
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
        # Long on purpose (71 lines): one branch per SHACL parameter the compiler translates, side
        # by side so each can be checked against the spec.
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
            if p in IGNORED or p in (SH.qualifiedMinCount, SH.qualifiedMaxCount, SH.flags):
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
                add(f"FILTER NOT EXISTS {{ ?this {p_} {n3(o)} }}")
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
