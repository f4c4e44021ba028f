"""Match the entities a table names to the graph's IRIs, and never merge on a guess.

The mapping mints provisional IRIs (``urn:kzgraph:import:<kind>:<name>``). Each is resolved once:

* **matched**: exactly one existing entity of that kind has the name as a label, alternative label,
  official name, code or notation (compared after Unicode NFKC, case folding and the quotation
  normalisation), and nothing the row says contradicts it (a firm's country, a project's region);
* **new**: no entity has the name, and the kind may grow (firms, projects); it gets an IRI minted
  from the name under ``/id/<kind>/``;
* **ambiguous**: two or more entities have the name, or the one that has it contradicts the row;
  the rows naming it are held back until a reviewer decides in the decisions file;
* **unknown**: a closed list (regions, sectors, statuses) has no entry of that name; the decisions
  file can point it at one.

The decisions file is a CSV (``kind,name,decision,candidates,rows``) where ``decision`` is an IRI or
CURIE to match, or ``new``; an import adds its open questions there with ``decision`` empty.
"""

from __future__ import annotations

import csv
import re
import unicodedata
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from urllib.parse import unquote

import pyoxigraph as ox

from kzgraph.loading import KzgraphError
from kzgraph.namespaces import BASE, PREFIXES
from kzgraph.sources import normalise_quote
from kzgraph.tables import neutralise

PROVISIONAL = "urn:kzgraph:import:"
MATCHED, NEW, AMBIGUOUS, UNKNOWN = "matched", "new", "ambiguous", "unknown"


@dataclass(frozen=True)
class Kind:
    """How entities of one kind are found, and whether the table may add new ones."""

    name: str
    members: str  # a SPARQL pattern binding ?e
    open: bool
    check: str | None = None  # the property whose values must agree, when both sides state it


_KZ = "https://w3id.org/kzgraph/ontology#"
KINDS: dict[str, Kind] = {
    "company": Kind(
        "company",
        f"?e a ?c . ?c <http://www.w3.org/2000/01/rdf-schema#subClassOf>* <{_KZ}Organization> .",
        open=True,
        check=f"{_KZ}headquartersCountry",
    ),
    "project": Kind(
        "project",
        f"?e a ?c . ?c <http://www.w3.org/2000/01/rdf-schema#subClassOf>* <{_KZ}Project> .",
        open=True,
        check=f"{_KZ}region",
    ),
    "region": Kind("region", f"?e a <{_KZ}Region> .", open=False),
    "sector": Kind(
        "sector",
        "?e a <http://www.w3.org/2004/02/skos/core#Concept> . "
        f'FILTER(STRSTARTS(STR(?e), "{BASE}vocab/sector/"))',
        open=False,
    ),
    "status": Kind(
        "status",
        "?e a <http://www.w3.org/2004/02/skos/core#Concept> . "
        f'FILTER(STRSTARTS(STR(?e), "{BASE}vocab/status/"))',
        open=False,
    ),
}
_NAMES = (
    "<http://www.w3.org/2000/01/rdf-schema#label>|<http://www.w3.org/2004/02/skos/core#altLabel>|"
    "<http://www.w3.org/2004/02/skos/core#prefLabel>|<http://www.w3.org/2004/02/skos/core#notation>|"
    f"<{_KZ}officialName>|<{_KZ}iso3166_2Code>|<{_KZ}isicRev4>"
)


def key(name: str) -> str:
    """The form names are compared in.

    >>> key("Zhambyl  Region") == key("zhambyl region")
    True
    """
    return normalise_quote(unicodedata.normalize("NFKC", name)).casefold()


@lru_cache(maxsize=1 << 20)  # an import asks about every row's entities several times
def split(iri: str) -> tuple[str, str]:
    """The kind and the name of a provisional IRI.

    >>> split("urn:kzgraph:import:company:Fufeng%20Group")
    ('company', 'Fufeng Group')
    """
    kind, _, name = iri[len(PROVISIONAL) :].partition(":")
    return kind, unquote(name) if "%" in name else name


def slug(name: str) -> str:
    """A readable IRI segment for a new entity.

    >>> slug("Xinjiang Lihua Group Co., Ltd.")
    'xinjiang-lihua-group-co-ltd'
    """
    ascii_name = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
    return re.sub(r"[^a-z0-9]+", "-", ascii_name.lower()).strip("-") or "unnamed"


@dataclass
class Resolution:
    """What one provisional entity became, and why."""

    kind: str
    name: str
    outcome: str
    iri: str | None = None
    candidates: list[str] = field(default_factory=list)
    reason: str = ""
    decided: bool = False


class Index:
    """The existing entities of each kind by name, read once from the graph."""

    def __init__(self, store: ox.Store) -> None:
        self.store = store
        self.by_key: dict[str, dict[str, set[str]]] = {}
        self.iris: dict[str, set[str]] = {}
        for kind in KINDS.values():
            names: dict[str, set[str]] = defaultdict(set)
            members: set[str] = set()
            query = f"SELECT ?e ?n WHERE {{ {kind.members} OPTIONAL {{ ?e {_NAMES} ?n }} }}"
            for row in store.query(query, use_default_graph_as_union=True):  # type: ignore[union-attr]
                e = row["e"]
                if not isinstance(e, ox.NamedNode):
                    continue
                members.add(e.value)
                if row["n"] is not None:
                    names[key(row["n"].value)].add(e.value)
                if kind.name in ("sector", "status"):
                    names[key(e.value.rsplit("/", 1)[-1])].add(e.value)
            self.by_key[kind.name] = names
            self.iris[kind.name] = members
        self.minted: set[str] = set()

    def values(self, iri: str, prop: str) -> set[str]:
        """The IRIs the graph gives as ``prop`` of ``iri``."""
        return {
            q.object.value
            for q in self.store.quads_for_pattern(ox.NamedNode(iri), ox.NamedNode(prop), None)
            if isinstance(q.object, ox.NamedNode)
        }

    def mint(self, kind: str, name: str) -> str:
        """A new IRI under /id/<kind>/ that no entity has yet."""
        base = f"{BASE}id/{kind}/{slug(name)}"
        iri, n = base, 2
        while iri in self.minted or any(
            True for _ in self.store.quads_for_pattern(ox.NamedNode(iri), None, None)
        ):
            iri, n = f"{base}-{n}", n + 1
        self.minted.add(iri)
        return iri


def expand(value: str) -> str:
    """An IRI from an IRI or a CURIE with kzgraph's prefixes."""
    value = value.strip().strip("<>")
    prefix, sep, local = value.partition(":")
    if sep and prefix in PREFIXES and not local.startswith("//"):
        return PREFIXES[prefix] + local
    return value


def read_decisions(path: Path | None) -> dict[tuple[str, str], str]:
    """A reviewer's decisions: (kind, name key) → IRI or "new"."""
    if path is None or not path.exists():
        return {}
    decided: dict[tuple[str, str], str] = {}
    with path.open(encoding="utf-8", newline="") as f:
        reader = csv.DictReader(f)
        missing = {"kind", "name", "decision"} - set(reader.fieldnames or [])
        if missing:
            raise KzgraphError(f"{path}: missing column(s) {', '.join(sorted(missing))}")
        for n, row in enumerate(reader, start=2):
            decision = (row.get("decision") or "").strip()
            if not decision:
                continue
            kind = (row["kind"] or "").strip()
            if kind not in KINDS:
                raise KzgraphError(f"{path}:{n}: kind {kind!r} is not one of {', '.join(KINDS)}")
            value = decision if decision == NEW else expand(decision)
            if value != NEW and not re.match(r"^https?://\S+$", value):
                raise KzgraphError(f"{path}:{n}: decision {decision!r} is neither an IRI nor 'new'")
            decided[(kind, key(row["name"] or ""))] = value
    return decided


def write_decisions(path: Path, pending: Iterable[Resolution], rows: dict[str, list[int]]) -> int:
    """Add the open questions to the decisions file (keeping what is there); how many were added."""
    existing: list[dict[str, str]] = []
    if path.exists():
        with path.open(encoding="utf-8", newline="") as f:
            existing = list(csv.DictReader(f))
    seen = {(r.get("kind", ""), key(r.get("name", ""))) for r in existing}
    added = 0
    for res in pending:
        if (res.kind, key(res.name)) in seen:
            continue
        existing.append(
            {
                "kind": res.kind,
                "name": res.name,
                "decision": "",
                "candidates": " ".join(res.candidates),
                "rows": " ".join(map(str, rows.get(f"{res.kind}:{res.name}", []))),
            }
        )
        added += 1
    if added:
        tmp = path.with_name(f".{path.name}.tmp")
        with tmp.open("w", encoding="utf-8", newline="") as f:
            writer = csv.DictWriter(
                f, fieldnames=["kind", "name", "decision", "candidates", "rows"]
            )
            writer.writeheader()
            for r in existing:  # names come from the user's table: never a live formula
                writer.writerow({k: neutralise(r.get(k, "")) for k in writer.fieldnames})
        tmp.replace(path)
    return added


def resolve(
    provisional: Iterable[str],
    index: Index,
    decisions: dict[tuple[str, str], str],
    claims: dict[str, dict[str, set[str]]],
) -> dict[str, Resolution]:
    """Resolve every provisional IRI; ``claims`` gives what rows state about each (by property).

    Closed kinds are resolved first, so that a project's region claim is compared as an IRI.
    """
    order = sorted(set(provisional), key=lambda i: (KINDS[split(i)[0]].open, i))
    out: dict[str, Resolution] = {}
    for iri in order:
        kind_name, name = split(iri)
        kind = KINDS.get(kind_name)
        if kind is None:
            raise KzgraphError(
                f"the mapping mints {iri}: kind {kind_name!r} is not one of {', '.join(KINDS)}"
            )
        decided = decisions.get((kind_name, key(name)))
        if decided == NEW:
            out[iri] = Resolution(kind_name, name, NEW, index.mint(kind_name, name), decided=True)
            continue
        if decided is not None:
            if decided not in index.iris[kind_name]:
                raise KzgraphError(
                    f"decision for {kind_name} {name!r}: {decided} is no {kind_name} in the graph"
                )
            out[iri] = Resolution(kind_name, name, MATCHED, decided, [decided], "decided", True)
            continue
        candidates = sorted(index.by_key[kind_name].get(key(name), set()))
        if len(candidates) > 1:
            out[iri] = Resolution(
                kind_name,
                name,
                AMBIGUOUS,
                None,
                candidates,
                f"{len(candidates)} {kind_name} entities have this name",
            )
        elif len(candidates) == 1:
            conflict = _conflict(kind, iri, candidates[0], index, claims, out)
            if conflict:
                out[iri] = Resolution(kind_name, name, AMBIGUOUS, None, candidates, conflict)
            else:
                out[iri] = Resolution(kind_name, name, MATCHED, candidates[0], candidates)
        elif kind.open:
            out[iri] = Resolution(kind_name, name, NEW, index.mint(kind_name, name))
        else:
            out[iri] = Resolution(
                kind_name, name, UNKNOWN, None, [], f"no {kind_name} has this name"
            )
    return out


def _conflict(
    kind: Kind,
    iri: str,
    candidate: str,
    index: Index,
    claims: dict[str, dict[str, set[str]]],
    resolved: dict[str, Resolution],
) -> str:
    """Why the one entity with this name cannot be the one the rows mean, or ''."""
    if kind.check is None:
        return ""
    said = {
        resolved[v].iri or v if v in resolved else v
        for v in claims.get(iri, {}).get(kind.check, set())
    }
    known = index.values(candidate, kind.check)
    if said and known and not said <= known:
        prop = kind.check.rsplit("#", 1)[-1]
        return (
            f"the rows give {prop} {', '.join(sorted(said))}; "
            f"the graph has {', '.join(sorted(known))}"
        )
    return ""
