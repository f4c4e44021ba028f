"""Lint checks that tie the graph to the words of its registered sources.

Four promises a knowledge graph built from documents has to keep, checked for every source and not
only the seeds: each registered text is still the text that was registered (its SHA-256), each
``kz:quotation`` occurs in the text it names, each verbatim figure or status (``kz:statedAs``
and its kin) occurs in a quotation of the entity it belongs to, and each figure's ``kz:value`` is
the number its ``kz:statedAs`` words give ("$190 million" is 190000000, not 19000000). Only
whitespace, quote marks and dashes are normalised
(:func:`kzgraph.sources.registry.normalise_quote`); anything else is a finding, placed at the line
of the graph file that holds the words. ``kzgraph lint`` and ``kzgraph validate`` both run these
checks.

A source cited by reference keeps no text, so its facts are checked for what they may hold
instead: a locator (the curator's words on where the fact stands) and, for a figure, only its
short phrase ("$190 million", at most eight words, whose number is the figure's value); a
status's words are the curator's reading (``kz:statusReading``), never the article's.
"""

from __future__ import annotations

from collections.abc import Iterable

from rdflib import BNode, Graph, Literal, URIRef
from rdflib.namespace import PROV, RDFS
from rdflib.term import Node

from kzgraph.core.errors import KzgraphError
from kzgraph.core.findings import ERROR, Finding
from kzgraph.core.namespaces import KZ
from kzgraph.core.settings import Settings
from kzgraph.sources.registry import SourceRecord, normalise_quote, records, sha256_of, table_rows

#: Properties whose values are a source's own words.
VERBATIM = (KZ.statedAs, KZ.statusStatedAs, KZ.dateStatedAs)


def _citers(data: Graph, source: URIRef, text: str | None = None) -> list[str]:
    """The entities whose quotations come from ``source``, labelled when they have a label.

    With ``text``, only those whose quotation no longer occurs in it: the facts to re-read.
    """
    found = set()
    for derivation in data.subjects(PROV.entity, source):
        quotation = data.value(derivation, KZ.quotation)
        if text is not None and (quotation is None or normalise_quote(str(quotation)) in text):
            continue
        for subject in data.subjects(PROV.qualifiedDerivation, derivation):
            if isinstance(subject, URIRef):
                label = data.value(subject, RDFS.label)
                found.add(f"{label} <{subject}>" if label is not None else f"<{subject}>")
    return sorted(found)


def _texts(
    recs: Iterable[SourceRecord], data: Graph, rel: str
) -> tuple[dict[URIRef, str | dict[int, str]], list[Finding]]:
    """Each readable source's normalised text (or rows), and findings for changed or lost ones."""
    texts: dict[URIRef, str | dict[int, str]] = {}
    found = []
    for rec in recs:
        if rec.file is None:
            continue  # cited by reference: no text kept, nothing to hash or read
        where = f"sources/{rec.file.name}"
        if not rec.file.exists():
            found.append(
                Finding(
                    ERROR,
                    "source-missing",
                    where,
                    str(rec.iri),
                    "the registered file is gone; restore it from version control",
                )
            )
            continue
        try:
            if rec.is_table:
                texts[rec.iri] = {n: record for n, _cells, record in table_rows(rec.file)}
            else:
                texts[rec.iri] = normalise_quote(rec.file.read_text(encoding="utf-8"))
        except (KzgraphError, UnicodeDecodeError) as exc:
            found.append(Finding(ERROR, "source-unreadable", where, str(rec.iri), str(exc)))
        actual = sha256_of(rec.file)
        if rec.sha256 is not None and actual != rec.sha256:
            citers = _citers(data, rec.iri)
            text = texts.get(rec.iri)
            broken = _citers(data, rec.iri, text) if isinstance(text, str) else citers
            shown = "; ".join(broken[:8]) + (
                f"; and {len(broken) - 8} more" if len(broken) > 8 else ""
            )
            found.append(
                Finding(
                    ERROR,
                    "source-changed",
                    where,
                    str(rec.iri),
                    f"text changed since it was registered (sha256 {rec.sha256[:12]}… in {rel},"
                    f" now {actual[:12]}…); {len(citers)} fact(s) cite it, and these cite"
                    f" words it no longer has: {shown or 'none'}",
                )
            )
    return texts, found


def _owners(data: Graph, node: Node, depth: int = 3) -> list[Node]:
    """``node`` and what holds it (a figure's project, a status statement's project)."""
    chain = [node]
    frontier = [node]
    for _ in range(depth):
        frontier = [s for n in frontier for s in data.subjects(None, n) if s not in chain]
        chain.extend(frontier)
        if not frontier:
            break
    return chain


def check_sources(settings: Settings, data: Graph, file_of: dict[object, str]) -> list[Finding]:
    """Hash, quotation and stated-words findings for every registered source."""
    rel = "graph/sources.trig"
    recs = records(settings)
    texts, found = _texts(recs, data, rel)
    registered = {r.iri for r in recs}
    quotation_of: dict[Node, str] = {}
    for derivation, quotation in data.subject_objects(KZ.quotation):
        quotation_of[derivation] = normalise_quote(str(quotation))
        where = file_of.get(derivation, "graph/")
        sources = list(data.objects(derivation, PROV.entity))
        for source in sources:
            if source not in registered:
                found.append(
                    Finding(
                        ERROR,
                        "unregistered-source",
                        where,
                        str(derivation),
                        f"cites {source}, which is not in the registry; run `kzgraph source add`",
                    )
                )
                continue
            text = texts.get(source)  # type: ignore[call-overload]
            if text is None:
                continue
            problem = None
            if isinstance(text, dict):
                row = data.value(derivation, KZ.rowNumber)
                record = text.get(int(row)) if isinstance(row, Literal) else None
                if record is None or normalise_quote(record) != quotation_of[derivation]:
                    problem = f"row {row} of {source} is not {str(quotation)[:80]!r}"
            elif quotation_of[derivation] not in text:
                problem = (
                    f"not found in {source}'s text (whitespace, quotes and dashes aside): "
                    f"{str(quotation)[:80]!r}"
                )
            if problem is not None:
                found.append(
                    Finding(ERROR, "quotation-not-in-source", where, str(derivation), problem)
                )
    for derivation, _locator in data.subject_objects(KZ.locator):
        for source in data.objects(derivation, PROV.entity):
            if source not in registered:
                found.append(
                    Finding(
                        ERROR, "unregistered-source", file_of.get(derivation, "graph/"),
                        str(derivation),
                        f"cites {source}, which is not in the registry; run `kzgraph source cite`",
                    )
                )  # fmt: skip
    located = set(data.subjects(KZ.locator, None))
    found.extend(_check_stated(data, quotation_of, file_of, located))
    found.extend(_check_values(data, file_of))
    return [_with_line(settings, f) for f in found]


def _check_values(data: Graph, file_of: dict[object, str]) -> list[Finding]:
    """Every ``kz:value`` against the number its own ``kz:statedAs`` words give."""
    from decimal import Decimal, InvalidOperation

    from kzgraph.core.figures import NoFigureError, parse_stated

    found = []
    for node, value in data.subject_objects(KZ.value):
        words = data.value(node, KZ.statedAs)
        if words is None:
            continue
        try:
            stated = parse_stated(str(words))
            actual = Decimal(str(value))
        except (NoFigureError, InvalidOperation):
            continue  # words without a figure this parser reads: nothing to compare
        if stated != actual:
            term = node if isinstance(node, URIRef) else _named_owner(data, node)
            found.append(
                Finding(
                    ERROR,
                    "value-not-stated",
                    file_of.get(term, "graph/"),
                    str(term),
                    f"kz:value {value} but its words {str(words)!r} say {stated}",
                )
            )
    return found


def _with_line(settings: Settings, finding: Finding) -> Finding:
    """The finding placed at the first line of its file that holds the words it is about."""
    import re
    from dataclasses import replace

    path = settings.root / finding.file
    if not path.is_file() or not finding.file.startswith("graph/"):
        return finding
    quoted = re.search(r"'([^']{6,})'|\"([^\"]{6,})\"", finding.message)
    needle = (quoted.group(1) or quoted.group(2))[:40] if quoted else None
    term = finding.term
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError):
        return finding
    local = term.rsplit("/", 1)[-1].rsplit("#", 1)[-1]
    for needles in ([needle] if needle else [], [local] if local else []):
        for n, line in enumerate(lines, start=1):
            if needles and needles[0] in line:
                return replace(finding, file=f"{finding.file}:{n}")
    return finding


def _check_stated(
    data: Graph,
    quotation_of: dict[Node, str],
    file_of: dict[object, str],
    located: set[Node] | None = None,
) -> list[Finding]:
    """Each source's words found in a quotation of their node, or kept short if cited."""
    found = []
    located = located or set()
    for prop in VERBATIM:
        for node, value in data.subject_objects(prop):
            words = normalise_quote(str(value))
            cited = _cited_only(data, node, quotation_of, located)
            if cited is not None:
                found.extend(_check_phrase(data, node, prop, str(value), cited, file_of))
                continue
            quotes: list[str] = []
            anchor: Node = node
            for owner in _owners(data, node):
                mine = [
                    q
                    for d in data.objects(owner, PROV.qualifiedDerivation)
                    if (q := quotation_of.get(d)) is not None
                ]
                if mine and not quotes:
                    anchor = owner
                quotes.extend(mine)
                if any(words in q for q in mine):
                    break
            else:
                term = anchor if isinstance(anchor, URIRef) else _named_owner(data, node)
                where = file_of.get(term, "graph/")
                name = prop.n3(data.namespace_manager)
                found.append(
                    Finding(
                        ERROR,
                        "stated-not-in-quotation",
                        where,
                        str(term),
                        f"{name} {str(value)!r} is in none of its quotations"
                        + ("" if quotes else " (it cites none)"),
                    )
                )
    return found


#: A phrase kept from a source cited by reference: a figure's own few words, never a sentence.
PHRASE_WORDS = 8


def _cited_only(
    data: Graph, node: Node, quotation_of: dict[Node, str], located: set[Node]
) -> Node | None:
    """The owner whose derivations are all locators (a fact cited by reference), if any.

    Read from the node up to what holds it (a figure's project): the first owner with
    derivations decides, as it does for quotations.
    """
    for owner in _owners(data, node):
        derivations = list(data.objects(owner, PROV.qualifiedDerivation))
        if not derivations:
            continue
        if any(d in quotation_of for d in derivations):
            return None
        if all(d in located for d in derivations):
            return owner
        return None
    return None


def _check_phrase(
    data: Graph, node: Node, prop: URIRef, value: str, owner: Node, file_of: dict[object, str]
) -> list[Finding]:
    """A cited fact's kept words: a figure phrase only, short; a status is the curator's."""
    term = owner if isinstance(owner, URIRef) else _named_owner(data, node)
    where = file_of.get(term, "graph/")
    name = prop.n3(data.namespace_manager)
    if prop != KZ.statedAs:
        return [
            Finding(
                ERROR, "cited-words-kept", where, str(term),
                f"{name} {value!r} keeps an article's words, but the fact is cited by reference: "
                "give your reading (kz:statusReading), never the article's sentence",
            )
        ]  # fmt: skip
    if len(value.split()) > PHRASE_WORDS:
        return [
            Finding(
                ERROR, "cited-words-kept", where, str(term),
                f"{name} {value[:60]!r} is longer than a figure's phrase ({PHRASE_WORDS} words) "
                "for a fact cited by reference: keep the figure's own few words, never a sentence",
            )
        ]  # fmt: skip
    return []


def _named_owner(data: Graph, node: Node) -> Node:
    for owner in _owners(data, node):
        if not isinstance(owner, BNode):
            return owner
    return node


#: The checks of this module, as ``kzgraph lint`` names them (``kzgraph validate`` runs them too).
SOURCE_CHECKS = (
    "source-missing", "source-unreadable", "source-changed", "unregistered-source",
    "quotation-not-in-source", "stated-not-in-quotation", "value-not-stated", "cited-words-kept",
)  # fmt: skip

__all__ = ["SOURCE_CHECKS", "VERBATIM", "check_sources"]
