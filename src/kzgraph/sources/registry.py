"""Source documents as records: a copy of each text under ``sources/``, its SHA-256 and metadata.

Every fact cites a source; the registry is what makes that checkable. A registered document
keeps its exact bytes in ``sources/<id><suffix>`` and a record in the ``kzg:sources`` named
graph (``graph/sources.trig``): title, publisher, date, address, language, file name and hash.
A public article whose text may not be copied is registered by reference instead (:func:`cite`,
a ``kz:CitedSource``): its address, publisher, title and dates, and no text; its facts cite it
with the curator's own description of where they stand. Registration also creates
``graph/documents/<id>.trig``, the empty named graph its facts go into, so adding an article
never starts from a blank page.

Ids follow the seeds' pattern ``NNN_<16 hex>``: the next free number and the start of the text's
SHA-256, so the same bytes always get the same hash part and two documents never share an id.

>>> print(normalise_quote("China’s  “big” plan — now"))
China's "big" plan - now
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from rdflib import Graph, Literal, URIRef
from rdflib.namespace import DCTERMS, PROV, RDF, RDFS, XSD

from kzgraph.core.errors import KzgraphError
from kzgraph.core.namespaces import GRAPH, ID, KZ, SCHEMA
from kzgraph.core.settings import Settings
from kzgraph.core.tables import read_table
from kzgraph.graph.loading import new_dataset

#: The named graph holding the registry.
SOURCES_GRAPH = GRAPH["sources"]
#: Kinds of file a source may be, and the media type recorded for each.
MEDIA_TYPES = {
    ".txt": "text/plain",
    ".csv": "text/csv",
    ".xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}
_ID = re.compile(r"^(\d{3})_[0-9a-f]{16}$")
_QUOTES = str.maketrans(
    {
        "\u2018": "'",
        "\u2019": "'",
        "\u201a": "'",
        "\u2032": "'",
        "\u201c": '"',
        "\u201d": '"',
        "\u201e": '"',
        "\u00ab": '"',
        "\u00bb": '"',
        "\u2010": "-",
        "\u2011": "-",
        "\u2012": "-",
        "\u2013": "-",
        "\u2014": "-",
        "\u2015": "-",
        "\u2212": "-",
        "\u00a0": " ",
    }
)


def normalise_quote(text: str) -> str:
    """Fold whitespace, quote marks and dashes, the only liberties a quotation may take."""
    return re.sub(r"\s+", " ", text.translate(_QUOTES)).strip()


def sha256_of(path: Path) -> str:
    """The file's SHA-256 in hex."""
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


@dataclass(frozen=True)
class SourceRecord:
    """One registered source as the registry describes it."""

    id: str
    iri: URIRef
    #: Where its text is kept; None for a source cited by reference, which keeps none.
    file: Path | None
    sha256: str | None
    title: str | None
    url: str | None = None

    @property
    def cited(self) -> bool:
        """A source registered by reference: its facts carry locators, not quotations."""
        return self.file is None

    @property
    def is_table(self) -> bool:
        """Tables are checked row by row instead of sentence by sentence."""
        return self.file is not None and self.file.suffix in (".csv", ".xlsx")


def sources_dir(settings: Settings) -> Path:
    """Where registered texts are kept."""
    return settings.root / "sources"


def registry_file(settings: Settings) -> Path:
    """The TriG file of the ``kzg:sources`` graph."""
    return settings.graph_dir / "sources.trig"


def documents_dir(settings: Settings) -> Path:
    """Where each registered source's own named graph file lives."""
    return settings.graph_dir / "documents"


def source_iri(source_id: str) -> URIRef:
    """The IRI of a source document."""
    return ID[f"source/{source_id}"]


def _registry(settings: Settings) -> Graph:
    ds = new_dataset()
    path = registry_file(settings)
    if path.exists():
        from kzgraph.graph.loading import parse_file

        parse_file(path, ds)
    return ds.graph(SOURCES_GRAPH)


def records(settings: Settings | None = None, registry: Graph | None = None) -> list[SourceRecord]:
    """Every registered source, in id order."""
    settings = settings or Settings.discover()
    g = registry if registry is not None else _registry(settings)
    found = []
    for iri in set(g.subjects(RDF.type, KZ.SourceDocument)) | set(
        g.subjects(RDF.type, KZ.CitedSource)
    ):
        name = g.value(iri, KZ.fileName)
        cited = (iri, RDF.type, KZ.CitedSource) in g
        if not isinstance(iri, URIRef) or (name is None and not cited):
            continue
        sha = g.value(iri, KZ.sha256)
        title = g.value(iri, DCTERMS.title)
        url = g.value(iri, SCHEMA.url)
        found.append(
            SourceRecord(
                id=str(iri).rsplit("/", 1)[-1],
                iri=iri,
                file=None if cited else sources_dir(settings) / str(name),
                sha256=str(sha) if sha is not None else None,
                title=str(title) if title is not None else None,
                url=str(url) if url is not None else None,
            )
        )
    return sorted(found, key=lambda r: r.id)


def next_id(known: list[SourceRecord], sha: str) -> str:
    """The next free ``NNN_<hash>`` id after the ``known`` records."""
    numbers = [int(m.group(1)) for r in known if (m := _ID.match(r.id))]
    return f"{max(numbers, default=-1) + 1:03d}_{sha[:16]}"


def header_title(path: Path) -> str | None:
    """A text's first line when it reads as a headline (short, and not the start of the body)."""
    if path.suffix != ".txt":
        return None
    with path.open(encoding="utf-8") as f:
        first = f.readline().strip()
    if first and len(first) <= 160:
        return first
    return None


def _write_atomic(path: Path, data: bytes) -> None:
    """Replace ``path`` in one step, so a crash leaves the old file or the new one."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


_REGISTRY_HEADER = (
    "# The registry of source documents: one record per file kept under sources/, with its\n"
    "# SHA-256. Written by `kzgraph source add` and `kzgraph import`; edit titles and\n"
    "# descriptions freely, but change a text only by registering it again.\n"
)


def save_registry(settings: Settings, registry: Graph) -> None:
    """Write the registry graph back to ``graph/sources.trig``."""
    ds = new_dataset()
    target = ds.graph(SOURCES_GRAPH)
    for triple in registry:
        target.add(triple)
    body = ds.serialize(format="trig")
    _write_atomic(registry_file(settings), (_REGISTRY_HEADER + body).encode("utf-8"))


def _graph_file_text(source_id: str, title: str, kept_as: str) -> str:
    return f"""# Facts from {kept_as}: {title}
# Each entity cites a quotation (prov:qualifiedDerivation) whose prov:entity is
# source:{source_id} and whose kz:quotation is a sentence of that text, verbatim.
# `kzgraph lint` checks every quotation against the text; see README, "Adding an article".
@prefix kz:      <https://w3id.org/kzgraph/ontology#> .
@prefix kzg:     <https://w3id.org/kzgraph/graph/> .
@prefix source:  <https://w3id.org/kzgraph/id/source/> .
@prefix q:       <https://w3id.org/kzgraph/id/source/{source_id}/quote/> .
@prefix rdfs:    <http://www.w3.org/2000/01/rdf-schema#> .
@prefix prov:    <http://www.w3.org/ns/prov#> .

kzg:{source_id} {{

kzg:{source_id} prov:wasDerivedFrom source:{source_id} .

}}
"""


@dataclass(frozen=True)
class Registration:
    """What :func:`register` did."""

    record: SourceRecord
    created: bool
    graph_file: Path | None
    #: Not created because the text is one already registered, saved with other whitespace,
    #: line endings, quote marks or dashes (the differences quotations are compared without).
    same_text: bool = False


def describe(
    registry: Graph,
    source_id: str,
    file_name: str,
    sha: str,
    *,
    title: str,
    description: str,
    publisher: str | None = None,
    date: str | None = None,
    url: str | None = None,
    language: str | None = None,
    label: str | None = None,
) -> URIRef:
    """Add one source's record to the registry graph."""
    iri = source_iri(source_id)
    lang = language or None
    registry.add((iri, RDF.type, KZ.SourceDocument))
    registry.add((iri, RDFS.label, Literal(label or title, lang=lang)))
    registry.add((iri, DCTERMS.title, Literal(title, lang=lang)))
    registry.add((iri, DCTERMS.description, Literal(description, lang=lang)))
    registry.add((iri, KZ.fileName, Literal(file_name)))
    registry.add((iri, KZ.sha256, Literal(sha)))
    registry.add((iri, DCTERMS["format"], Literal(MEDIA_TYPES[Path(file_name).suffix])))
    if language:
        registry.add((iri, DCTERMS.language, Literal(language)))
    if publisher:
        registry.add((iri, DCTERMS.publisher, Literal(publisher)))
    if date:
        registry.add((iri, DCTERMS.issued, _date_literal(date)))
    if url:
        if not re.match(r"^https?://\S+$", url):
            raise KzgraphError(f"--url {url!r}: give an http(s) address")
        registry.add((iri, SCHEMA.url, URIRef(url)))
    registry.add((GRAPH[source_id], PROV.wasDerivedFrom, iri))
    return iri


def _date_literal(value: str) -> Literal:
    """An ISO date, year-month or year, typed so that queries can compare it."""
    if re.fullmatch(r"\d{4}-\d{2}-\d{2}", value):
        return Literal(value, datatype=XSD.date)
    if re.fullmatch(r"\d{4}-\d{2}", value):
        return Literal(value, datatype=XSD.gYearMonth)
    if re.fullmatch(r"\d{4}", value):
        return Literal(value, datatype=XSD.gYear)
    raise KzgraphError(f"--date {value!r}: give YYYY-MM-DD, YYYY-MM or YYYY")


def register(
    path: Path,
    settings: Settings | None = None,
    *,
    title: str | None = None,
    description: str,
    publisher: str | None = None,
    date: str | None = None,
    url: str | None = None,
    language: str | None = "en",
    source_id: str | None = None,
    graph_file: bool = True,
    label: str | None = None,
) -> Registration:
    """Register ``path``: keep its bytes, record its metadata and prepare its named graph.

    Registering the same bytes twice returns the existing record (``created`` is False), and so
    does an article whose text differs from a registered one only in what quotations are
    compared without (``same_text``): a copy saved again with CRLF line endings or curly quotes
    is not a second source.
    """
    # Long on purpose (88 lines): registering is one sequence (same bytes, same text, id, kept file,
    # record, graph) whose early returns are the cases a user must be told about.
    settings = settings or Settings.discover()
    path = Path(path)
    if not path.is_file():
        raise KzgraphError(f"{path}: no such file")
    if path.suffix not in MEDIA_TYPES:
        raise KzgraphError(
            f"{path}: a source is a .txt article or a .csv/.xlsx table, not {path.suffix!r}"
        )
    text = None
    if path.suffix == ".txt":
        try:
            text = path.read_text(encoding="utf-8")
        except UnicodeDecodeError as exc:
            raise KzgraphError(f"{path}: not UTF-8 text (byte {exc.start})") from None
    sha = sha256_of(path)
    registry = _registry(settings)
    known = records(settings, registry)
    for existing in known:
        if existing.sha256 == sha:
            return Registration(existing, created=False, graph_file=None)
    if text is not None:
        said = normalise_quote(text)
        for existing in known:
            kept = existing.file
            if kept is not None and kept.suffix == ".txt" and kept.is_file():
                if normalise_quote(kept.read_text(encoding="utf-8")) == said:
                    return Registration(existing, created=False, graph_file=None, same_text=True)
    if source_id is None:
        source_id = path.stem if _ID.match(path.stem) else next_id(known, sha)
    elif not _ID.match(source_id):
        raise KzgraphError(f"source id {source_id!r}: use the NNN_<16 hex digits> pattern")
    if any(r.id == source_id for r in known):
        raise KzgraphError(f"source id {source_id} is taken by another text")
    title = title or header_title(path)
    if not title:
        raise KzgraphError(f"{path}: its first line is not a headline; give --title")
    if not description.strip():
        raise KzgraphError("give --description: one sentence on what the source covers")
    file_name = source_id + path.suffix
    kept = sources_dir(settings) / file_name
    kept.parent.mkdir(parents=True, exist_ok=True)
    tmp = kept.with_name(f".{file_name}.tmp")
    shutil.copyfile(path, tmp)
    os.replace(tmp, kept)
    describe(
        registry,
        source_id,
        file_name,
        sha,
        title=title,
        description=description,
        publisher=publisher,
        date=date,
        url=url,
        language=language,
        label=label,
    )
    save_registry(settings, registry)
    made: Path | None = None
    if graph_file:
        made = documents_dir(settings) / f"{source_id}.trig"
        if not made.exists():
            _write_atomic(
                made,
                _graph_file_text(source_id, title, f"sources/{file_name}").encode("utf-8"),
            )
    record = next(r for r in records(settings, registry) if r.id == source_id)
    return Registration(record, created=True, graph_file=made)


def _cited_graph_file_text(source_id: str, title: str, url: str) -> str:
    return f"""# Facts from a source cited by reference: {title}
# <{url}>
# No copy of its text is kept. Each entity cites a derivation (prov:qualifiedDerivation) whose
# prov:entity is source:{source_id} and whose kz:locator says, in your own words, where in the
# article the fact stands; figures keep only their short phrase (kz:statedAs "$190 million").
@prefix kz:      <https://w3id.org/kzgraph/ontology#> .
@prefix kzg:     <https://w3id.org/kzgraph/graph/> .
@prefix source:  <https://w3id.org/kzgraph/id/source/> .
@prefix rdfs:    <http://www.w3.org/2000/01/rdf-schema#> .
@prefix xsd:     <http://www.w3.org/2001/XMLSchema#> .
@prefix prov:    <http://www.w3.org/ns/prov#> .

kzg:{source_id} {{

kzg:{source_id} prov:wasDerivedFrom source:{source_id} .

}}
"""


def cite(
    url: str,
    settings: Settings | None = None,
    *,
    title: str,
    publisher: str,
    retrieved: str,
    description: str,
    date: str | None = None,
    language: str | None = "en",
) -> Registration:
    """Register a public article by reference: its address and metadata, never its text.

    The id's hash part is the SHA-256 of the address, so citing the same address again returns
    the existing record (``created`` is False) instead of a second source. A registered source
    with the same address, kept or cited, is the same source.
    """
    settings = settings or Settings.discover()
    if not re.match(r"^https?://\S+$", url):
        raise KzgraphError(f"{url!r}: give the article's http(s) address")
    if not title.strip():
        raise KzgraphError("give --title: the article's headline as it is published")
    if not publisher.strip():
        raise KzgraphError("give --publisher: who published the article")
    if not description.strip():
        raise KzgraphError("give --description: one sentence, in your words, on what it covers")
    if not re.fullmatch(r"\d{4}-\d{2}-\d{2}", retrieved):
        raise KzgraphError(f"--retrieved {retrieved!r}: give the day you read it, YYYY-MM-DD")
    registry = _registry(settings)
    known = records(settings, registry)
    for existing in known:
        if existing.url == url:
            return Registration(existing, created=False, graph_file=None)
    sha = hashlib.sha256(url.encode("utf-8")).hexdigest()
    source_id = next_id(known, sha)
    iri = source_iri(source_id)
    lang = language or None
    registry.add((iri, RDF.type, KZ.SourceDocument))
    registry.add((iri, RDF.type, KZ.CitedSource))
    registry.add((iri, RDFS.label, Literal(title, lang=lang)))
    registry.add((iri, DCTERMS.title, Literal(title, lang=lang)))
    registry.add((iri, DCTERMS.description, Literal(description, lang="en")))
    registry.add((iri, DCTERMS.publisher, Literal(publisher)))
    registry.add((iri, SCHEMA.url, URIRef(url)))
    registry.add((iri, KZ.retrievedOn, Literal(retrieved, datatype=XSD.date)))
    if date:
        registry.add((iri, DCTERMS.issued, _date_literal(date)))
    if language:
        registry.add((iri, DCTERMS.language, Literal(language)))
    registry.add((GRAPH[source_id], PROV.wasDerivedFrom, iri))
    save_registry(settings, registry)
    made = documents_dir(settings) / f"{source_id}.trig"
    if not made.exists():
        _write_atomic(made, _cited_graph_file_text(source_id, title, url).encode("utf-8"))
    record = next(r for r in records(settings, registry) if r.id == source_id)
    return Registration(record, created=True, graph_file=made)


def table_rows(path: Path) -> Iterator[tuple[int, dict[str, str], str]]:
    """Each data row of a table: its spreadsheet row number, cells by header, and its record.

    The record is the row written back as one CSV line; it is the row's "quotation", so the
    lint can check that a fact cites a row the table really has. Reading is
    :func:`kzgraph.core.tables.read_table`'s: a table it cannot read faithfully is refused.
    """
    for row in read_table(path).rows:
        yield row.number, row.cells, row.record


def table_header(path: Path) -> list[str]:
    """The column names of a table."""
    return read_table(path).header
