"""The saved-query catalogue: one ``.rq`` file per question, grlc-style.

Each file starts with ``#+`` decorator lines holding YAML (summary, description, tags, defaults,
enumerate, method), so grlc can serve the same folder. Parameters come from variable names, as in
grlc and BASIL: ``?_name`` is required, ``?__name`` optional; a suffix gives the type: ``_iri``,
a language tag (``_en``), an XSD type (``_integer``, ``_decimal``, ``_date``, ``_gYear``) or
``_prefix_datatype`` (``_xsd_gYear``). Values are turned into RDF terms and bound by the engine
(rdflib ``initBindings``, Oxigraph ``substitutions``), never pasted into the query text, so no
value can change the query. Parameters must appear in the SELECT projection, which Oxigraph's
substitution requires.

>>> catalogue = load_catalogue()
>>> q = catalogue["investments-in-region"]
>>> [(p.name, p.kind, p.required) for p in q.parameters]
[('region', 'iri', True)]
>>> q.bind({"region": "region:zhambyl"})["_region_iri"]
rdflib.term.URIRef('https://w3id.org/kzgraph/id/region/zhambyl')
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

import yaml
from rdflib import Literal, Node, URIRef
from rdflib.namespace import XSD

from kzgraph.core.errors import KzgraphError
from kzgraph.core.namespaces import PREFIXES
from kzgraph.core.settings import Settings

_PARAM = re.compile(r"\?(__?)([A-Za-z][A-Za-z0-9]*)((?:_[A-Za-z0-9]+){0,2})\b")
_LANG = re.compile(r"^[a-z]{2,3}$")
_XSD_TYPES = {
    "integer",
    "decimal",
    "double",
    "float",
    "boolean",
    "date",
    "dateTime",
    "gYear",
    "gYearMonth",
    "string",
    "anyURI",
}
_IRI_FORBIDDEN = re.compile(r'[\s<>"{}|\\^`]')


class QueryNotFoundError(KzgraphError):
    """No saved query has that name."""


class ParameterError(KzgraphError):
    """A parameter is missing, unknown, or its value does not fit its type."""


@dataclass(frozen=True)
class Parameter:
    """One parameter of a saved query, read from a variable name."""

    name: str
    variable: str
    kind: str  # "literal", "iri", "lang", or "datatype"
    required: bool
    language: str | None = None
    datatype: URIRef | None = None

    def describe(self) -> str:
        """A short form for listings: ``region (iri)`` or ``year? (xsd:gYear)``."""
        if self.kind == "lang":
            kind = f"@{self.language}"
        elif self.kind == "datatype" and self.datatype is not None:
            kind = "xsd:" + str(self.datatype).rsplit("#", 1)[-1]
        else:
            kind = self.kind
        return f"{self.name}{'' if self.required else '?'} ({kind})"

    def to_term(self, value: str) -> Node:
        """Turn a user's string into the RDF term this parameter stands for."""
        if self.kind == "iri":
            return expand_iri(value, self.name)
        if self.kind == "lang":
            return Literal(value, lang=self.language)
        if self.kind == "datatype" and self.datatype is not None:
            term = Literal(value, datatype=self.datatype)
            if term.ill_typed or (self.datatype == XSD.decimal and not _is_decimal(value)):
                local = str(self.datatype).rsplit("#", 1)[-1]
                raise ParameterError(f"parameter {self.name!r} expects xsd:{local}, got {value!r}")
            return term
        return Literal(value)


def _is_decimal(value: str) -> bool:
    try:
        Decimal(value)
    except InvalidOperation:
        return False
    return True


def expand_iri(value: str, name: str = "value") -> URIRef:
    """An absolute IRI from ``value``, which may be a CURIE with one of kzgraph's prefixes.

    >>> expand_iri("company:tbea")
    rdflib.term.URIRef('https://w3id.org/kzgraph/id/company/tbea')
    """
    value = value.strip()
    if value.startswith("<") and value.endswith(">"):
        value = value[1:-1]
    prefix, sep, local = value.partition(":")
    if sep and prefix in PREFIXES and not local.startswith("//"):
        value = PREFIXES[prefix] + local
    if not re.match(r"^[A-Za-z][A-Za-z0-9+.-]*:", value) or _IRI_FORBIDDEN.search(value):
        raise ParameterError(f"parameter {name!r} expects an IRI or a known CURIE, got {value!r}")
    return URIRef(value)


def _parameter(underscores: str, name: str, suffix: str) -> Parameter:
    parts = [p for p in suffix.split("_") if p]
    variable = f"{underscores}{name}{suffix}"
    required = underscores == "_"
    if not parts:
        return Parameter(name, variable, "literal", required)
    if parts == ["iri"]:
        return Parameter(name, variable, "iri", required)
    if len(parts) == 1 and parts[0] in _XSD_TYPES:
        return Parameter(name, variable, "datatype", required, datatype=XSD[parts[0]])
    if len(parts) == 2 and parts[0] == "xsd" and parts[1] in _XSD_TYPES:
        return Parameter(name, variable, "datatype", required, datatype=XSD[parts[1]])
    if len(parts) == 1 and _LANG.match(parts[0]):
        return Parameter(name, variable, "lang", required, language=parts[0])
    raise KzgraphError(f"?{variable}: unknown parameter type {suffix!r}")


@dataclass
class SavedQuery:
    """One ``.rq`` file: its text, its decorators and the parameters its variables declare."""

    name: str
    path: Path
    text: str
    meta: dict[str, Any] = field(default_factory=dict)
    parameters: list[Parameter] = field(default_factory=list)

    @property
    def summary(self) -> str:
        """The one-line summary from ``#+ summary:``."""
        return str(self.meta.get("summary", ""))

    @property
    def description(self) -> str:
        """The longer description from ``#+ description:``."""
        return str(self.meta.get("description", ""))

    @property
    def tags(self) -> list[str]:
        """The tags from ``#+ tags:``."""
        return [str(t) for t in self.meta.get("tags", [])]

    @property
    def defaults(self) -> dict[str, str]:
        """Default values from ``#+ defaults:`` (a list of one-key maps, as grlc writes them)."""
        out: dict[str, str] = {}
        for item in self.meta.get("defaults", []) or []:
            out.update({str(k): str(v) for k, v in dict(item).items()})
        return out

    @property
    def hidden(self) -> list[str]:
        """Parameter variables: projected only because Oxigraph's substitution needs them."""
        return [p.variable for p in self.parameters]

    def bind(self, values: dict[str, str]) -> dict[str, Node]:
        """Variables and RDF terms for the engine; raises :class:`ParameterError` on bad input."""
        known = {p.name: p for p in self.parameters}
        unknown = sorted(set(values) - set(known))
        if unknown:
            choices = ", ".join(known) or "none"
            raise ParameterError(
                f"{self.name}: unknown parameter {unknown[0]!r} (parameters: {choices})"
            )
        bindings: dict[str, Node] = {}
        for param in self.parameters:
            # a required parameter has no silent default: #+ defaults are examples for forms
            fallback = None if param.required else self.defaults.get(param.name)
            value = values.get(param.name, fallback)
            if value is None or (param.required and not str(value).strip()):
                if param.required:
                    raise ParameterError(
                        f"{self.name}: missing required parameter {param.describe()}"
                    )
                continue
            bindings[param.variable] = param.to_term(value)
        return bindings


def parse_query_file(path: Path) -> SavedQuery:
    """Read one ``.rq`` file: the ``#+`` header as YAML, and parameters from variable names."""
    text = path.read_text(encoding="utf-8")
    header = "\n".join(
        line[2:].removeprefix(" ") for line in text.splitlines() if line.startswith("#+")
    )
    try:
        meta = yaml.safe_load(header) or {}
    except yaml.YAMLError as exc:
        raise KzgraphError(f"{path}: bad #+ header: {exc}") from None
    if not isinstance(meta, dict):
        raise KzgraphError(f"{path}: the #+ header must be a YAML mapping")
    body = "\n".join(line for line in text.splitlines() if not line.lstrip().startswith("#"))
    params: dict[str, Parameter] = {}
    for match in _PARAM.finditer(body):
        param = _parameter(match.group(1), match.group(2), match.group(3))
        params.setdefault(param.name, param)
    return SavedQuery(path.stem, path, text, meta, list(params.values()))


def load_catalogue(settings: Settings | None = None) -> dict[str, SavedQuery]:
    """Every saved query in ``queries/``, by name (the file name without ``.rq``)."""
    settings = settings or Settings.discover()
    return {path.stem: parse_query_file(path) for path in sorted(settings.queries_dir.glob("*.rq"))}


def get_query(name: str, settings: Settings | None = None) -> SavedQuery:
    """The saved query ``name``, or a :class:`QueryNotFoundError` that lists close names.

    Only that query's file is read (the whole catalogue only to suggest names for a typo), so a
    command running one saved query does not parse fifty.
    """
    settings = settings or Settings.discover()
    path = settings.queries_dir / f"{name}.rq"
    if "/" not in name and path.is_file():
        return parse_query_file(path)
    catalogue = load_catalogue(settings)
    if name in catalogue:
        return catalogue[name]
    import difflib

    close = difflib.get_close_matches(name, list(catalogue), n=3)
    hint = (
        f"; did you mean {', '.join(close)}?" if close else "; run 'kzgraph queries' for the list"
    )
    raise QueryNotFoundError(f"no saved query named {name!r}{hint}")


def resolve_entities(
    saved: SavedQuery,
    values: dict[str, str],
    labels: Callable[[], Mapping[str, str]],
    exists: Callable[[str], bool],
) -> dict[str, str]:
    """``values`` with every IRI parameter naming an entity the data holds, or a clear refusal.

    A mistyped IRI would otherwise answer 0 rows as if the entity had none. A name ("TBEA",
    "Atyrau Region") is accepted where an IRI is expected when exactly one entity has it as
    its label; an unknown one is refused with the closest names. ``exists(iri)`` says whether
    the data mentions an IRI; ``labels()`` maps IRIs to names, and is only asked for when a
    value is a name or an IRI the data does not mention (every label of a big store is a
    query of its own).
    """
    from difflib import get_close_matches

    out = dict(values)
    kinds = {p.name: p.kind for p in saved.parameters}
    names: Mapping[str, str] = {}
    by_name: dict[str, set[str]] = {}
    by_local: dict[str, set[str]] = {}
    for name, value in values.items():
        if kinds.get(name) != "iri" or not value.strip():
            continue
        looks_like_iri = ":" in value and " " not in value.strip()
        if looks_like_iri:
            param = next(p for p in saved.parameters if p.name == name)
            if exists(str(param.to_term(value))):
                continue
        if not names:
            names = labels()
            for iri, label in names.items():
                by_name.setdefault(label.lower(), set()).add(iri)
                local = re.split(r"[#/]", iri)[-1].replace("-", " ").lower()
                by_local.setdefault(local, set()).add(iri)
        if not looks_like_iri:
            spoken = value.strip().lower()
            found = by_name.get(spoken) or by_local.get(spoken.replace("-", " ")) or {
                iri for label, iris in by_name.items() if label.startswith(spoken + " ")
                for iri in iris
            }  # fmt: skip
            if len(found) == 1:
                out[name] = next(iter(found))
                continue
            if len(found) > 1:
                raise ParameterError(
                    f"{saved.name}: {name}={value!r} names {len(found)} entities "
                    f"({', '.join(sorted(found))}); give one IRI"
                )
        tail = value.rsplit("/", 1)[-1].rsplit(":", 1)[-1].replace("-", " ").lower()
        pool = {**{k: v for k, v in by_local.items()}, **by_name}
        near = get_close_matches(tail, list(pool), n=3, cutoff=0.6)
        from kzgraph.core.namespaces import curie

        options = [f"{names.get(i, n)!r} ({curie(i)})" for n in near for i in sorted(pool[n])][:3]
        hint = f"; did you mean {', '.join(options)}?" if options else ""
        raise ParameterError(f"{saved.name}: no such entity {value!r} for {name}{hint}")
    return out


def mentioned(store: Any) -> Callable[[str], bool]:
    """Whether ``store``'s data names an IRI as subject or object (see :func:`resolve_entities`)."""

    def check(iri: str) -> bool:
        if any(c in iri for c in '<>"{}|^`\\ '):
            return False
        return bool(store.query(f"ASK {{ {{ <{iri}> ?p ?o }} UNION {{ ?s ?p <{iri}> }} }}").boolean)

    return check
