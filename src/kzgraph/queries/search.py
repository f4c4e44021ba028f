"""Full-text search over names and quoted sentences, in an SQLite FTS5 index built from a store.

Analysts look for a firm, a place or a sentence by its words, not by IRI, and the saved queries
only answer the questions someone foresaw. So every name (``rdfs:label``, ``skos:prefLabel``,
``skos:altLabel``, ``skos:hiddenLabel``, ``dcterms:title``, in any language) and every quoted
sentence (``kz:quotation`` of a ``prov:Derivation``) goes into one FTS5 table, each row tied to
the entity it belongs to (for a sentence: every entity that cites it), that entity's most
specific class, and the source documents that state it.

The index is derived data: it is built from whatever store is being read (embedded, on disk or
remote), with one SPARQL query for the rows and one for the classes, and it records the content
id it was built from, so a stale one is never read. Beside an on-disk store it is a file in the
store's folder, written whole to a temporary name and renamed, so a killed build leaves either
the old index or none.

Words are matched as prefixes ("invest" finds "investment"), all of them; a phrase in double
quotes must appear as written. Letters are folded (case, diacritics), so "Almaty" finds
"ALMATY" and "Zhaik" finds "Zhaïk".

>>> expression('Sinopec "gas chemical"')
'"sinopec"* "gas chemical"'
>>> expression("  ")
Traceback (most recent call last):
...
kzgraph.queries.search.SearchError: nothing to search for in '  ': give at least one word

Past 500 lines on purpose: the index's schema is shared by the build (what goes in) and the
search (what comes out), and a column renamed on one side only would break it silently.
"""

from __future__ import annotations

import html
import os
import re
import sqlite3
import tempfile
import threading
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kzgraph.core.errors import KzgraphError
from kzgraph.queries.running import Store

#: Bumped whenever the rows or the table layout change, so an older index is rebuilt.
SCHEMA = "4"
#: The file an on-disk store keeps its index in (inside the store's folder).
INDEX_FILE = "kzgraph-search.sqlite"
#: Most hits one search returns; more would not be read, and a page of them is slow to draw.
MOST_HITS = 500

# sentinels FTS5 puts around matched words, turned into <mark> only after HTML escaping
_OPEN, _CLOSE = "\x02", "\x03"

_PREFIXES = """
PREFIX kz: <https://w3id.org/kzgraph/ontology#>
PREFIX rdfs: <http://www.w3.org/2000/01/rdf-schema#>
PREFIX skos: <http://www.w3.org/2004/02/skos/core#>
PREFIX dcterms: <http://purl.org/dc/terms/>
PREFIX prov: <http://www.w3.org/ns/prov#>
"""

#: Every name and quoted sentence, with the entity it belongs to and the sources stating it.
#: A name's source is the document its named graph derives from; a sentence's is its entity.
ROWS_QUERY = (
    _PREFIXES
    + """
SELECT ?entity ?kind ?text ?source WHERE {
  {
    GRAPH ?g {
      ?entity rdfs:label|skos:prefLabel|skos:altLabel|skos:hiddenLabel|dcterms:title ?text
    }
    FILTER(isLITERAL(?text) && isIRI(?entity))
    BIND("name" AS ?kind)
    OPTIONAL { ?g prov:wasDerivedFrom ?source }
  } UNION {
    ?entity prov:qualifiedDerivation ?d .
    ?d kz:quotation ?text .
    OPTIONAL { ?d prov:entity ?source }
    FILTER(isIRI(?entity))
    BIND("quotation" AS ?kind)
  } UNION {
    ?d kz:quotation ?text ; prov:entity ?entity .
    FILTER NOT EXISTS { ?cited prov:qualifiedDerivation ?d }
    BIND(?entity AS ?source)
    BIND("quotation" AS ?kind)
  }
}
"""
)

#: Every typed IRI's classes, and the class hierarchy, to name each hit's most specific class.
TYPES_QUERY = (
    _PREFIXES
    + """
SELECT ?entity ?class WHERE { ?entity a ?class FILTER(isIRI(?entity) && isIRI(?class)) }
"""
)
HIERARCHY_QUERY = (
    _PREFIXES
    + """
SELECT DISTINCT ?sub ?super WHERE { ?sub rdfs:subClassOf+ ?super FILTER(isIRI(?super)) }
"""
)

# classes every individual of the ontology also has; naming them would say nothing
_GENERIC = {
    "http://www.w3.org/2002/07/owl#NamedIndividual",
    "http://www.w3.org/2002/07/owl#Thing",
    "http://www.w3.org/2000/01/rdf-schema#Resource",
}


class SearchError(KzgraphError):
    """A search that cannot be run: no words, or an index that cannot be read."""


@dataclass(frozen=True)
class Entity:
    """An entity a hit belongs to: IRI, label, and its most specific class."""

    iri: str
    label: str
    cls: str | None
    class_label: str | None

    def as_json(self) -> dict[str, Any]:
        """The entity as the API gives it."""
        return {"iri": self.iri, "label": self.label, "class": self.cls,
                "classLabel": self.class_label}  # fmt: skip


@dataclass
class Hit:
    """One matching name or sentence, with the entities it belongs to and where it is stated.

    A name belongs to one entity (its other matching names are not repeated); a sentence to
    every entity that cites it, so one quoted sentence is one hit.
    """

    kind: str
    text: str
    language: str | None
    #: The text with matched words between the sentinels (see :meth:`marked_html`).
    marked: str
    entities: list[Entity]
    sources: list[tuple[str, str]] = field(default_factory=list)

    @property
    def entity(self) -> Entity:
        """The first entity (for a name, the only one)."""
        return self.entities[0]

    def marked_html(self) -> str:
        """The text, HTML-escaped, with each matched word in ``<mark>``."""
        return html.escape(self.marked).replace(_OPEN, "<mark>").replace(_CLOSE, "</mark>")

    def marked_text(self) -> str:
        """The text with each matched word in ``[brackets]``, for a terminal."""
        return self.marked.replace(_OPEN, "[").replace(_CLOSE, "]")

    def as_json(self) -> dict[str, Any]:
        """The hit as the API gives it; its first entity's fields also at the top, for ease."""
        return {
            "kind": self.kind,
            "text": self.text,
            "language": self.language,
            "highlighted": self.marked_html(),
            **{k: v for k, v in self.entity.as_json().items() if k != "iri"},
            "entity": self.entity.iri,
            "entities": [e.as_json() for e in self.entities],
            "sources": [{"iri": iri, "label": label} for iri, label in self.sources],
        }


def expression(words: str) -> str:
    """An FTS5 query for what a person typed: every word as a prefix, "phrases" as written.

    Nothing typed reaches FTS5's own syntax (``AND``, ``NEAR``, ``*``, ``:``): each word is
    quoted, so no input can raise an FTS5 syntax error.
    """
    parts: list[str] = []
    for phrase, word in re.findall(r'"([^"]*)"|([^\s"]+)', words):
        tokens = re.findall(r"\w+", (phrase or word).lower())
        if not tokens:
            continue
        if phrase:
            parts.append('"' + " ".join(tokens) + '"')
        else:
            parts.extend(f'"{t}"*' for t in tokens)
    if not parts:
        raise SearchError(f"nothing to search for in {words!r}: give at least one word")
    return " ".join(parts)


#: Every rdfs:label, to name each entity (English first) without holding them all in memory.
LABELS_QUERY = (
    _PREFIXES
    + """
SELECT ?entity ?label WHERE {
  ?entity rdfs:label ?label FILTER(isIRI(?entity) && isLITERAL(?label))
}
"""
)
_BATCH = 20_000


def _most_specific(classes: set[str], supers: dict[str, set[str]]) -> str | None:
    """The class of ``classes`` no other one of them is a subclass of (ties: the first by IRI)."""
    candidates = sorted(c for c in classes if c not in _GENERIC)
    for c in candidates:
        if not any(c in supers.get(other, set()) for other in candidates if other != c):
            return c
    return candidates[0] if candidates else None


def _solutions(store: Store, sparql: str) -> Iterator[tuple[str | None, ...]]:
    """A SELECT's rows as (value, language) pairs flattened, streamed where the store can.

    Each term gives two cells: its lexical value (or None) and its language (or None). An
    embedded Oxigraph store yields solutions one by one, so a build at ten million quads never
    holds the whole answer as Python objects.
    """
    from kzgraph.store.engines import OxigraphStore

    if isinstance(store, OxigraphStore):
        import pyoxigraph as ox

        from kzgraph.core.namespaces import PREFIXES

        result = store.store.query(sparql, prefixes=PREFIXES)
        assert isinstance(result, ox.QuerySolutions)
        names = list(result.variables)
        for solution in result:
            row: list[str | None] = []
            for v in names:
                term = solution[v]
                row.append(None if term is None else term.value)
                row.append(getattr(term, "language", None) or None)
            yield tuple(row)
        return
    for values in store.query(sparql).rows:
        out: list[str | None] = []
        for term in values:
            out.append(None if term is None else str(term))
            out.append(getattr(term, "language", None) or None)
        yield tuple(out)


def _batches(
    rows: Iterable[tuple[Any, ...]], size: int = _BATCH
) -> Iterator[list[tuple[Any, ...]]]:
    batch: list[tuple[Any, ...]] = []
    for row in rows:
        batch.append(row)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch


def _create(conn: sqlite3.Connection) -> None:
    conn.executescript(
        """
        CREATE TABLE meta(key TEXT PRIMARY KEY, value TEXT NOT NULL);
        CREATE TABLE entities(iri TEXT PRIMARY KEY, label TEXT NOT NULL, class TEXT);
        CREATE TABLE subclasses(sub TEXT NOT NULL, super TEXT NOT NULL);
        CREATE INDEX subclasses_super ON subclasses(super);
        CREATE VIRTUAL TABLE hits USING fts5(
            text, entity UNINDEXED, kind UNINDEXED, lang UNINDEXED, sources UNINDEXED,
            tokenize = "unicode61 remove_diacritics 2"
        );
        CREATE TEMP TABLE raw(entity TEXT, kind TEXT, text TEXT, lang TEXT, source TEXT);
        CREATE TEMP TABLE labels(entity TEXT, label TEXT, lang TEXT);
        CREATE TEMP TABLE types(entity TEXT, class TEXT);
        """
    )


def _fill(conn: sqlite3.Connection, store: Store, content: str, say: Callable[[str], None]) -> None:
    """Read the store into the index, streaming through SQLite's own tables, not Python's."""
    say("reading names and quoted sentences from the store")
    rows = ((e, k, t, lang, src) for e, _, k, _, t, lang, src, _ in _solutions(store, ROWS_QUERY))
    for batch in _batches(rows):
        conn.executemany("INSERT INTO raw VALUES (?, ?, ?, ?, ?)", batch)
    conn.execute("CREATE INDEX temp.raw_entity ON raw(entity)")
    for batch in _batches((e, lb, lang) for e, _, lb, lang in _solutions(store, LABELS_QUERY)):
        conn.executemany("INSERT INTO labels VALUES (?, ?, ?)", batch)
    conn.execute("CREATE INDEX temp.labels_entity ON labels(entity)")
    for batch in _batches((e, c) for e, _, c, _ in _solutions(store, TYPES_QUERY)):
        conn.executemany("INSERT INTO types VALUES (?, ?)", batch)
    conn.execute("CREATE INDEX temp.types_entity ON types(entity)")
    supers: dict[str, set[str]] = {}
    for sub, _, sup, _ in _solutions(store, HIERARCHY_QUERY):
        if sub is not None and sup is not None:
            supers.setdefault(sub, set()).add(sup)
    conn.executemany(
        "INSERT INTO subclasses VALUES (?, ?)",
        [(sub, sup) for sub, sups in supers.items() for sup in sups],
    )
    # each entity: its label (English first, else untagged, else any) and most specific class
    named = conn.execute(
        """SELECT r.entity,
                  (SELECT label FROM labels l WHERE l.entity = r.entity
                   ORDER BY l.lang = 'en' DESC, l.lang IS NULL DESC, l.label LIMIT 1),
                  (SELECT group_concat(class, ' ') FROM types t WHERE t.entity = r.entity)
           FROM (SELECT DISTINCT entity FROM raw WHERE entity IS NOT NULL) r"""
    )
    out = conn.cursor()
    count = 0
    while chunk := named.fetchmany(_BATCH):
        out.executemany(
            "INSERT INTO entities VALUES (?, ?, ?)",
            [
                (iri, label or iri, _most_specific(set((classes or "").split()), supers))
                for iri, label, classes in chunk
            ],
        )
        count += len(chunk)
    say(f"indexing the texts of {count:,} entities")
    conn.execute(
        """INSERT INTO hits(text, entity, kind, lang, sources)
           SELECT text, entity, kind, lang, COALESCE(group_concat(source, ' '), '') FROM (
             SELECT DISTINCT entity, kind, text, lang, source FROM raw
             WHERE entity IS NOT NULL AND text IS NOT NULL AND kind IS NOT NULL
             ORDER BY entity, kind, text, source)
           GROUP BY entity, kind, text, lang"""
    )
    conn.executemany("INSERT INTO meta VALUES (?, ?)", [("schema", SCHEMA), ("content", content)])
    conn.executescript("DROP TABLE temp.raw; DROP TABLE temp.labels; DROP TABLE temp.types;")
    conn.commit()


class SearchIndex:
    """An FTS5 index of one store's names and sentences, safe to search from several threads."""

    def __init__(self, conn: sqlite3.Connection, path: Path | None = None) -> None:
        self._conn = conn
        self._lock = threading.Lock()
        self.path = path

    @classmethod
    def build(
        cls,
        store: Store,
        content: str = "",
        path: Path | None = None,
        progress: Callable[[str], None] | None = None,
    ) -> SearchIndex:
        """Read ``store`` and index it, in memory or (atomically) in the file ``path``."""
        say = progress or (lambda _m: None)
        if path is None:
            conn = sqlite3.connect(":memory:", check_same_thread=False)
            _create(conn)
            _fill(conn, store, content, say)
            return cls(conn)
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=".search-", suffix=".sqlite", dir=path.parent)
        os.close(fd)
        try:
            conn = sqlite3.connect(tmp)
            conn.execute("PRAGMA temp_store = FILE")  # the staging tables on disk, not in RAM
            _create(conn)
            _fill(conn, store, content, say)
            conn.close()
            os.replace(tmp, path)
        finally:
            if os.path.exists(tmp):
                os.unlink(tmp)
        return cls.open(path)

    @classmethod
    def open(cls, path: Path) -> SearchIndex:
        """An index file, read-only."""
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, check_same_thread=False)
        return cls(conn, path)

    def meta(self, key: str) -> str | None:
        """What the index records about itself: its ``schema`` and the ``content`` it indexes."""
        with self._lock:
            row = self._conn.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return None if row is None else str(row[0])

    def __len__(self) -> int:
        with self._lock:
            return int(self._conn.execute("SELECT count(*) FROM hits").fetchone()[0])

    def search(
        self,
        words: str,
        limit: int = 20,
        kind: str | None = None,
        classes: Iterable[str] | None = None,
    ) -> list[Hit]:
        """The best ``limit`` hits for ``words`` (FTS5's bm25 rank, names before sentences).

        ``kind``: "name" or "quotation" only; ``classes``: only entities of these classes
        (IRIs) or of their subclasses.
        """
        # Long on purpose (61 lines): the query, its ranking and the hits' entities and sources read
        # in one transaction of the index.
        if kind not in (None, "name", "quotation"):
            raise SearchError(f"kind must be 'name' or 'quotation', not {kind!r}")
        if not 1 <= limit <= MOST_HITS:
            raise SearchError(f"limit must be between 1 and {MOST_HITS}, got {limit}")
        sql = (
            "SELECT hits.entity, entities.label, entities.class, hits.kind, hits.text, hits.lang,"
            f" highlight(hits, 0, '{_OPEN}', '{_CLOSE}'), hits.sources"
            " FROM hits JOIN entities ON entities.iri = hits.entity"
            " WHERE hits MATCH ?"
        )
        args: list[Any] = [expression(words)]
        if kind:
            sql += " AND hits.kind = ?"
            args.append(kind)
        wanted = sorted(set(classes or ()))
        if wanted:
            marks = ", ".join("?" * len(wanted))
            sql += (
                f" AND (entities.class IN ({marks})"
                f" OR entities.class IN (SELECT sub FROM subclasses WHERE super IN ({marks})))"
            )
            args.extend(wanted + wanted)
        # rows, not hits: one sentence cited by many entities is many rows, grouped below
        sql += " ORDER BY bm25(hits), hits.kind = 'quotation', entities.label LIMIT ?"
        args.append(limit * 20)
        with self._lock:
            rows = self._conn.execute(sql, args).fetchall()
            names = self._labels(
                {s for row in rows for s in row[7].split()} | {row[2] for row in rows if row[2]}
            )
        hits: dict[tuple[str, ...], Hit] = {}
        for iri, label, cls, kind_, text, lang, marked, sources in rows:
            who = Entity(iri, label, cls, names.get(cls) if cls else None)
            key = (kind_, iri) if kind_ == "name" else (kind_, text, lang or "", sources)
            if key in hits:
                if who not in hits[key].entities:
                    hits[key].entities.append(who)
                continue
            if len(hits) == limit:
                continue  # still gathering entities of the hits already taken
            hits[key] = Hit(
                kind=kind_,
                text=text,
                language=lang,
                marked=marked,
                entities=[who],
                sources=[(s, names.get(s, s)) for s in sources.split()],
            )
        return list(hits.values())

    def classes(self) -> dict[str, str]:
        """Every class an indexed entity has, or a superclass of one: IRI → label."""
        with self._lock:
            found = self._conn.execute(
                "SELECT DISTINCT c.iri, COALESCE(e.label, c.iri) FROM ("
                " SELECT class AS iri FROM entities WHERE class IS NOT NULL"
                " UNION SELECT super FROM subclasses) c LEFT JOIN entities e ON e.iri = c.iri"
            ).fetchall()
        return {iri: label for iri, label in found}

    def resolve_class(self, name: str) -> str:
        """A class IRI for what a person typed: an IRI, ``kz:Company``, ``Company`` or its label.

        An unknown name is refused with the closest known ones, never searched as nothing.
        """
        from kzgraph.core.namespaces import PREFIXES, class_by_name

        known = self.classes()
        prefix, sep, local = name.partition(":")
        if sep and prefix in PREFIXES and not local.startswith("//"):
            name = PREFIXES[prefix] + local
        if name in known:
            return name
        found, near = class_by_name(name, known)
        if found is not None:
            return found
        hint = f"; did you mean {', '.join(repr(n) for n in near)}?" if near else ""
        raise SearchError(f"no class named {name!r} among the indexed entities{hint}")

    def _labels(self, iris: set[str]) -> dict[str, str]:
        if not iris:
            return {}
        ordered = sorted(iris)
        found = self._conn.execute(
            f"SELECT iri, label FROM entities WHERE iri IN ({', '.join('?' * len(ordered))})",
            ordered,
        ).fetchall()
        return {iri: label for iri, label in found}

    def close(self) -> None:
        """Let go of the SQLite connection (the file stays)."""
        with self._lock:
            self._conn.close()


def beside(store_dir: Path) -> Path:
    """Where an on-disk store's index lives."""
    return store_dir / INDEX_FILE


def fresh(path: Path, content: str) -> SearchIndex | None:
    """The index at ``path`` when it was built from ``content`` with this schema, else None."""
    if not path.exists():
        return None
    try:
        index = SearchIndex.open(path)
        if index.meta("schema") == SCHEMA and index.meta("content") == content:
            return index
        index.close()
    except sqlite3.DatabaseError:
        return None  # unreadable (a failing disk, a file put there by hand): the caller rebuilds
    return None


def index_for(
    store: Store,
    content: str | None,
    path: Path | None,
    progress: Callable[[str], None] | None = None,
) -> SearchIndex:
    """The index of ``store``: reused from ``path`` when built from ``content``, else built.

    With no ``content`` (data whose id is unknown, such as a remote store) or no ``path``, the
    index is built in memory and not kept.
    """
    if path is not None and content:
        found = fresh(path, content)
        if found is not None:
            return found
        return SearchIndex.build(store, content, path, progress)
    return SearchIndex.build(store, content or "", None, progress)
