"""Load a user's RDF files into an on-disk Oxigraph store at the engine's own speed.

A store that held nothing is bulk-loaded at once and emptied again if a file fails to parse; a
store that holds data is only written once every file has been checked (read once more), so a
syntax error names the file and the line and changes nothing either way. Triples go to a named graph
(``--graph``, else one named after the file), since the default graph here is the derived merge
of the named graphs, which is re-derived after the load. Quad formats keep their graphs.
Gzipped files are read as they are; a progress bar follows the bytes read.
"""

from __future__ import annotations

import gzip
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO

import pyoxigraph as ox

from kzgraph.loading import KzgraphError
from kzgraph.namespaces import GRAPH

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
def _reader(path: Path, progress: Callable[[int], None] | None) -> Iterator[IO[bytes]]:
    raw = path.open("rb")
    if progress is not None:
        read = raw.read

        def counted(size: int = -1) -> bytes:
            chunk = read(size)
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
) -> None:
    """Bulk-load ``path`` into ``store``; a syntax error names the file and line."""
    fmt = format_of(path)
    target = graph or default_graph_for(path)
    try:
        _bulk_load(store, path, fmt, target, progress)
    except SyntaxError as exc:
        raise KzgraphError(f"{path}: syntax error: {exc}") from None
    except (OSError, EOFError) as exc:
        raise KzgraphError(f"{path}: cannot be read: {exc}") from None


def _bulk_load(
    store: ox.Store,
    path: Path,
    fmt: ox.RdfFormat,
    target: ox.NamedNode,
    progress: Callable[[int], None] | None,
) -> None:
    with _reader(path, progress) as stream:
        if fmt.supports_datasets:
            store.bulk_load(stream, format=fmt, base_iri=path.resolve().as_uri())
            # quads in the file's default graph belong to the target graph, not to the merge
            store.update(
                f"INSERT {{ GRAPH <{target.value}> {{ ?s ?p ?o }} }} "
                "WHERE { ?s ?p ?o FILTER NOT EXISTS { GRAPH ?g { ?s ?p ?o } } }"
            )
        else:
            store.bulk_load(stream, format=fmt, base_iri=path.resolve().as_uri(), to_graph=target)
