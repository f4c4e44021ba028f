"""Match the entities a table names to the graph's IRIs, and never merge on a guess.

The mapping mints provisional IRIs (``urn:kzgraph:import:<kind>:<name>``). Each is resolved once:

* **matched**: exactly one existing entity of that kind has the name as a label, alternative label,
  official name, code or notation (compared after Unicode NFKC, case folding and the quotation
  normalisation), and nothing the row says contradicts it (a firm's country, a project's region);
* **new**: no entity has the name or one close to it, and the kind may grow (firms, projects); it
  gets an IRI minted from the name under ``/id/<kind>/``;
* **ambiguous**: two or more entities have the name, the one that has it contradicts the row, or
  (as OpenRefine's reconciliation does) no entity has it exactly but some have a *close* name:
  the same once company suffixes, punctuation, case and accents are set aside ("Fufeng Group Co.,
  Ltd." ~ "Fufeng Group", "Huawei Technologies" ~ "Huawei", score 0.95), or a name within a small
  edit of it (score = the similarity of the two, from 0.85). The rows naming it are held back
  with the candidates and scores until a reviewer decides in the decisions file; a decision is
  remembered there, so the next run of the same table matches (or mints) without asking;
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

from kzgraph.core.errors import KzgraphError
from kzgraph.core.namespaces import BASE, PREFIXES
from kzgraph.core.tables import neutralise
from kzgraph.sources.registry import normalise_quote

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


#: Words that name a company's legal form or a generic part of its name, not the company: set
#: aside when looking for a close name ("Sinopec Corp." ~ "Sinopec").
_SUFFIXES = {
    "co", "company", "corp", "corporation", "inc", "incorporated", "ltd", "limited", "llc",
    "llp", "plc", "group", "holding", "holdings", "technologies", "technology", "jsc", "ojsc",
    "pjsc", "cjsc", "ao", "too", "tov", "gmbh", "ag", "sa", "nv", "bv", "the", "and",
    "тоо", "ао", "ооо", "пао", "оао",
}  # fmt: skip
#: The least similarity (difflib's ratio) for a name to be held as close to another.
CLOSE = 0.85
#: The score of a name equal to another once suffixes, punctuation and accents are set aside.
SAME_CORE = 0.95


def core(name: str) -> str:
    """A name without case, accents, punctuation and company suffixes: what makes it close.

    >>> core("Fufeng Group Co., Ltd.") == core("FUFENG group") == "fufeng"
    True
    >>> core("Huawei Technologies"), core("CITIC Construction")
    ('huawei', 'citic construction')
    """
    folded = unicodedata.normalize("NFKD", key(name))
    plain = "".join(c for c in folded if not unicodedata.combining(c))
    words = re.findall(r"\w+", plain)
    kept = [w for w in words if w not in _SUFFIXES]
    return " ".join(kept or words)


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
    scores: list[float] = field(default_factory=list)  # one per candidate, for close names


class Index:
    """The existing entities of each kind by name, read once from the graph."""

    def __init__(self, store: ox.Store) -> None:
        self.store = store
        self.by_key: dict[str, dict[str, set[str]]] = {}
        self.iris: dict[str, set[str]] = {}
        #: open kinds only: core name -> entities, and first word of the core -> core names
        self.by_core: dict[str, dict[str, set[str]]] = defaultdict(lambda: defaultdict(set))
        self.by_word: dict[str, dict[str, set[str]]] = defaultdict(lambda: defaultdict(set))
        self.labels: dict[str, str] = {}
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
                    if kind.open:
                        c = core(row["n"].value)
                        self.by_core[kind.name][c].add(e.value)
                        self.by_word[kind.name][c.split(" ", 1)[0]].add(c)
                        self.labels.setdefault(e.value, row["n"].value)
                if kind.name in ("sector", "status"):
                    names[key(e.value.rsplit("/", 1)[-1])].add(e.value)
            self.by_key[kind.name] = names
            self.iris[kind.name] = members
        self.minted: set[str] = set()

    def close(self, kind: str, name: str) -> list[tuple[str, float]]:
        """Entities of an open kind whose name is close to ``name``, best first, with scores.

        Only names sharing the first word of the core are compared (a blocking key, as
        reconciliation services use), so the cost does not grow with the graph.
        """
        from difflib import SequenceMatcher

        c = core(name)
        scores: dict[str, float] = {}
        for iri in self.by_core[kind].get(c, set()):
            scores[iri] = SAME_CORE
        first = c.split(" ", 1)[0]
        for other in self.by_word[kind].get(first, set()):
            if other == c:
                continue
            matcher = SequenceMatcher(None, c, other)
            # the cheap upper bounds first: most names of a block are far from this one
            if matcher.real_quick_ratio() < CLOSE or matcher.quick_ratio() < CLOSE:
                continue
            ratio = matcher.ratio()
            if ratio >= CLOSE:
                for iri in self.by_core[kind][other]:
                    scores[iri] = max(scores.get(iri, 0.0), round(ratio, 2))
        return sorted(scores.items(), key=lambda kv: (-kv[1], kv[0]))

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
                "candidates": " ".join(
                    f"{c} ({score:.2f})" if score else c
                    for c, score in zip(
                        res.candidates,
                        res.scores or [0.0] * len(res.candidates),
                        strict=False,
                    )
                ),
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
    made_here: set[str] | None = None,
) -> dict[str, Resolution]:
    """Resolve every provisional IRI; ``claims`` gives what rows state about each (by property).

    Closed kinds are resolved first, so that a project's region claim is compared as an IRI.
    ``made_here``: the entities this table's earlier runs added, so that a name decided ``new``
    matches the entity the first run minted instead of minting another.
    """
    # Long on purpose (74 lines): the four outcomes (matched, new, ambiguous, unknown) are decided
    # per name in one place, where their order can be seen and checked.
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
            # a table run again after the decision: the entity the first run minted is the one
            made = sorted(index.by_key[kind_name].get(key(name), set()) & (made_here or set()))
            if len(made) == 1:
                out[iri] = Resolution(kind_name, name, MATCHED, made[0], made, "decided new before")
                continue
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
        elif kind.open and (close := index.close(kind_name, name)):
            shown = "; ".join(f"{index.labels.get(i, i)!r} {score:.2f}" for i, score in close[:5])
            out[iri] = Resolution(
                kind_name,
                name,
                AMBIGUOUS,
                None,
                [i for i, _ in close],
                f"no {kind_name} has this name, but close ones exist ({shown}): match one or "
                "decide 'new'",
                scores=[score for _, score in close],
            )
        elif kind.open:
            out[iri] = Resolution(kind_name, name, NEW, index.mint(kind_name, name))
        else:
            out[iri] = Resolution(
                kind_name, name, UNKNOWN, None, [], f"no {kind_name} has this name"
            )
    _hold_close_new_names(out, index)
    return out


def _hold_close_new_names(out: dict[str, Resolution], index: Index) -> None:
    """Two names a table gives that are close to each other are never minted as two entities.

    "Acme Ltd" and "ACME Limited" in one table, both new to the graph: minting both would make
    two firms of one, minting one would merge on a guess. Both are held, each naming the other.
    """
    groups: dict[tuple[str, str], list[str]] = defaultdict(list)
    for iri, res in out.items():
        if res.outcome == NEW and not res.decided:
            groups[(res.kind, core(res.name))].append(iri)
    for (kind, _core), iris in groups.items():
        names = {out[i].name for i in iris}
        if len(names) < 2:
            continue
        for i in iris:
            res = out[i]
            if res.iri is not None:
                index.minted.discard(res.iri)
            others = sorted(names - {res.name})
            out[i] = Resolution(
                kind,
                res.name,
                AMBIGUOUS,
                None,
                [],
                f"the table also names {', '.join(map(repr, others))}, close to this name: "
                "decide 'new' for one and write the other the same way, or point both at one",
            )


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
