"""Load a user's RDF files into an on-disk Oxigraph store through its bulk loader.

A store that held nothing is bulk-loaded at once and emptied again if a file fails to parse; a
store that holds data is only written once every file has been checked (read once more), so a
syntax error names the file and the line and changes nothing either way. Triples go to a named graph
(``--graph``, else one named after the file), since the default graph here is the merge of the
named graphs, written in the same pass. Quad formats keep their graphs.
Gzipped files are read as they are; a progress bar follows the bytes read.
"""

from __future__ import annotations

import gzip
import hashlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO

import pyoxigraph as ox

from kzgraph.core.errors import KzgraphError
from kzgraph.core.namespaces import GRAPH

#: File extensions and the formats they name (after an optional ``.gz``).
FORMATS = {
    ".nq": ox.RdfFormat.N_QUADS,
    ".trig": ox.RdfFormat.TRIG,
    ".ttl": ox.RdfFormat.TURTLE,
    ".nt": ox.RdfFormat.N_TRIPLES,
    ".rdf": ox.RdfFormat.RDF_XML,
    ".owl": ox.RdfFormat.RDF_XML,
    ".xml": ox.RdfFormat.RDF_XML,
    ".jsonld": ox.RdfFormat.JSON_LD,
    ".json": ox.RdfFormat.JSON_LD,
}


def format_of(path: Path) -> ox.RdfFormat:
    """The RDF format a file name says, looking through ``.gz``.

    >>> format_of(Path("data.nq.gz")) == ox.RdfFormat.N_QUADS
    True
    """
    suffixes = [s.lower() for s in path.suffixes]
    if suffixes and suffixes[-1] == ".gz":
        suffixes = suffixes[:-1]
    if not suffixes or suffixes[-1] not in FORMATS:
        known = ", ".join(sorted(FORMATS))
        raise KzgraphError(f"{path}: unknown RDF file extension; use one of {known} (or .gz)")
    return FORMATS[suffixes[-1]]


@contextmanager
def _reader(
    path: Path, progress: Callable[[int], None] | None, digest: hashlib._Hash | None = None
) -> Iterator[IO[bytes]]:
    """The file's RDF bytes (gunzipped when it says .gz); raw bytes counted and hashed as read."""
    raw = path.open("rb")
    if progress is not None or digest is not None:
        read = raw.read

        def counted(size: int = -1) -> bytes:
            chunk = read(size)
            if digest is not None:
                digest.update(chunk)
            if progress is not None:
                progress(len(chunk))
            return chunk

        raw.read = counted  # type: ignore[method-assign,assignment]
    try:
        yield gzip.GzipFile(fileobj=raw) if path.suffix.lower() == ".gz" else raw  # type: ignore[misc]
    finally:
        raw.close()


def default_graph_for(path: Path) -> ox.NamedNode:
    """The named graph a file's triples go to when no ``--graph`` is given."""
    stem = path.name.split(".")[0]
    return ox.NamedNode(f"{GRAPH}loaded/{stem}")


def check(path: Path, progress: Callable[[int], None] | None = None) -> int:
    """Parse ``path`` without storing anything; the number of quads, or a one-line error."""
    fmt = format_of(path)
    count = 0
    try:
        with _reader(path, progress) as stream:
            for _ in ox.parse(stream, format=fmt, base_iri=path.resolve().as_uri()):
                count += 1
    except SyntaxError as exc:
        raise KzgraphError(f"{path}: syntax error: {exc}") from None
    except (OSError, EOFError) as exc:
        raise KzgraphError(f"{path}: cannot be read: {exc}") from None
    return count


def load_file(
    store: ox.Store,
    path: Path,
    graph: ox.NamedNode | None = None,
    progress: Callable[[int], None] | None = None,
    shown_as: Path | None = None,
) -> str:
    """Bulk-load ``path`` into ``store``, its named graphs and the merge at once.

    Returns the SHA-256 of the file's bytes, from which the caller extends the store's content
    id without reading the store back. A syntax error names the file and line (``shown_as``
    when ``path`` is an unpacked copy of it).
    """
    fmt = format_of(path)
    target = graph or default_graph_for(shown_as or path)
    digest = hashlib.sha256()
    try:
        with _reader(path, progress, digest) as stream:
            parsed = ox.parse(
                stream,
                format=fmt,
                base_iri=(shown_as or path).resolve().as_uri(),
                rename_blank_nodes=True,
            )
            store.bulk_extend(_with_merge(parsed, target))
    except SyntaxError as exc:
        raise KzgraphError(f"{shown_as or path}: syntax error: {exc}") from None
    except (OSError, EOFError) as exc:
        raise KzgraphError(f"{shown_as or path}: cannot be read: {exc}") from None
    return digest.hexdigest()


def _with_merge(quads: Iterator[ox.Quad], target: ox.NamedNode) -> Iterator[ox.Quad]:
    """Each quad in its named graph and again in the default graph, the merge.

    Writing the merge in the same pass as the data costs one more quad per quad, where deriving
    it afterwards read the whole store back (at ten million quads, longer than the load). A
    triple outside any named graph (every triple of a triple format) goes to ``target``. Blank
    nodes are renamed once by the parser, so the two copies share them.
    """
    for quad in quads:
        if isinstance(quad.graph_name, ox.DefaultGraph):
            yield ox.Quad(quad.subject, quad.predicate, quad.object, target)
            yield quad
        else:
            yield quad
            yield ox.Quad(quad.subject, quad.predicate, quad.object)  # DefaultGraph() costs 2x


#: Formats whose files the default SHACL engine reads as they are (one statement per line, no
#: prefixes or base), so it can validate the file while Oxigraph loads it.
LINE_FORMATS = {ox.RdfFormat.N_QUADS: ".nq", ox.RdfFormat.N_TRIPLES: ".nt"}


def unpacked(
    path: Path, folder: Path, progress: Callable[[int], None] | None = None
) -> tuple[Path, str | None]:
    """``path`` as plain bytes (gunzipped into ``folder`` when it is a ``.gz``), and its SHA-256.

    The digest is of the file as given, the one :func:`load_file` returns for it, so a store's
    content id does not depend on the way it was loaded. A plain file is returned as it is,
    without a digest: :func:`load_file` hashes it while loading, so it is not read twice.
    """
    if path.suffix.lower() != ".gz":
        return path, None
    digest = hashlib.sha256()
    plain = folder / ("data" + LINE_FORMATS.get(format_of(path), ".rdf"))
    try:
        with _reader(path, progress, digest) as stream, plain.open("wb") as out:
            while chunk := stream.read(1 << 20):
                out.write(chunk)
    except (OSError, EOFError) as exc:
        raise KzgraphError(f"{path}: cannot be read: {exc}") from None
    return plain, digest.hexdigest()
