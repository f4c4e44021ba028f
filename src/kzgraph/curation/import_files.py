"""The last step of an import: the graph file written atomically, and leftovers swept.

A staged file is renamed into place only when the shapes pass, so a refused or killed import
leaves the project as it was.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import threading
from collections import defaultdict
from pathlib import Path

import pyoxigraph as ox
from rdflib.namespace import PROV, RDFS

from kzgraph.core.errors import KzgraphError
from kzgraph.core.namespaces import GRAPH
from kzgraph.core.settings import Settings
from kzgraph.curation import reconcile
from kzgraph.curation.import_assembly import _n
from kzgraph.curation.import_result import ImportResult
from kzgraph.sources.registry import (
    documents_dir,
    register,
)

#: An import's working folder (a copy of the table, morph-kgc's output) is named after its process.
WORKDIR_PREFIX = "kzgraph-import-"


def sweep_stale_staged(folder: Path) -> list[Path]:
    """Remove graph files staged by imports whose process is gone (``.<id>.trig.<pid>-*``).

    An import killed with -9 between writing its staged graph file and renaming it leaves that
    file (13-66 MB at 100k rows); the next import removes it. Files of live processes stay.
    """
    removed: list[Path] = []
    for path in folder.glob(".*.trig.*-*") if folder.is_dir() else []:
        pid = path.name.rsplit(".trig.", 1)[-1].split("-", 1)[0]
        if not pid.isdigit():
            continue
        try:
            os.kill(int(pid), 0)
        except ProcessLookupError:
            path.unlink(missing_ok=True)
            removed.append(path)
        except OSError:
            continue
    return removed


def sweep_stale_workdirs(root: Path | None = None) -> list[Path]:
    """Remove the working folders of imports whose process is gone; the folders removed.

    An import killed with -9 never leaves its ``TemporaryDirectory``, so a copy of the user's
    table would stay in the temporary folder. Each folder carries its process id; one whose
    process no longer exists is removed by the next import. A folder of a live process (or of
    another user's, which this one may not signal) is left alone.
    """
    removed: list[Path] = []
    for folder in Path(root or tempfile.gettempdir()).glob(f"{WORKDIR_PREFIX}*-*"):
        pid = folder.name[len(WORKDIR_PREFIX) :].split("-", 1)[0]
        if not pid.isdigit() or not folder.is_dir() or folder.stat().st_uid != os.getuid():
            continue
        try:
            os.kill(int(pid), 0)
        except ProcessLookupError:
            shutil.rmtree(folder, ignore_errors=True)
            removed.append(folder)
        except OSError:
            continue
    return removed


def table_description(table: Path, description: str | None) -> str:
    """The user's description of the table, or one that says what it is."""
    return description or f"Tracker table {table.name}, imported row by row."


def table_record(
    table_id: str, table: Path, sha: str, title: str | None, description: str | None
) -> list[ox.Quad]:
    """The registry record the table will get, so that validation sees its rows' source."""
    from rdflib import Graph

    from kzgraph.sources.registry import describe
    from kzgraph.store.engines import to_oxigraph

    g = Graph()
    describe(
        g,
        table_id,
        table_id + table.suffix,
        sha,
        title=title or table.name,
        description=table_description(table, description),
    )
    return [ox.Quad(_n(str(s)), _n(str(p)), to_oxigraph(o)) for s, p, o in g]


def write_result(
    settings: Settings,
    result: ImportResult,
    title: str | None,
    description: str | None,
    decisions: Path | None,
    row_entities: dict[int, set[str]],
    staged: StagedFile | None,
) -> list[Path]:
    """Register the table, put its graph file in place, write the open questions (each atomic)."""
    written: list[Path] = []
    if decisions is not None and result.pending:
        rows_of: dict[str, list[int]] = defaultdict(list)
        for n, names in row_entities.items():
            for iri in names:
                res = result.resolutions[iri]
                rows_of[f"{res.kind}:{res.name}"].append(n)
        if reconcile.write_decisions(decisions, result.pending, rows_of):
            written.append(decisions)
    if not result.triples:
        return written
    reg = register(
        result.table,
        settings,
        title=title or result.table.name,
        description=table_description(result.table, description),
        language=None,
        source_id=result.source_id,
        graph_file=False,
    )
    if reg.record.id != result.source_id:  # pragma: no cover - guarded by the sha lookup
        raise KzgraphError(
            f"{result.table}: registered as {reg.record.id}, expected {result.source_id}"
        )
    if staged is not None:
        staged.commit()
        written.append(staged.path)
    return written


def stage_graph_file(
    settings: Settings, table: Path, source_id: str, triples: bytes
) -> tuple[Path, list[bytes]]:
    """Where the table's graph file goes, and its contents in parts (never joined in memory)."""
    target = documents_dir(settings) / f"{source_id}.trig"
    header = (
        f"# Facts imported from sources/{source_id}{table.suffix} "
        f"({table.name}) by `kzgraph import`.\n"
        "# Each fact cites the row it came from (kz:rowNumber) and, where the row gives one,\n"
        "# the sentence of the document it quotes. Re-running the import adds only what is new.\n"
    )
    return target, [
        header.encode("utf-8"),
        *_trig(triples, ox.NamedNode(str(GRAPH[source_id])), target),
    ]


class StagedFile:
    """A file written and synced on a thread of its own, put in place only by ``commit``.

    At 100k rows the graph file is 380 MB: writing it while the shapes are checked takes it off
    the import's critical path, and a validation that fails leaves nothing behind. The rename is
    atomic, so a crash leaves the old file or the new one.
    """

    def __init__(self, path: Path, parts: list[bytes]) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        # named after this process, so that the next import removes it if this one is killed
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.{os.getpid()}-")
        self.path, self.tmp = path, Path(tmp)
        self.error: BaseException | None = None
        self.thread = threading.Thread(
            target=self._run, args=(fd, parts), name="kzgraph-import-write", daemon=True
        )
        self.thread.start()

    def _run(self, fd: int, parts: list[bytes]) -> None:
        try:
            with os.fdopen(fd, "wb") as f:
                for part in parts:
                    f.write(part)
                f.flush()
                os.fsync(f.fileno())
        except BaseException as exc:  # reported by commit(), on the importing thread
            self.error = exc

    def commit(self) -> None:
        """Rename the finished file into place (atomic): readers see all of it or none."""
        self.thread.join()
        if self.error is not None:
            self.discard()
            raise KzgraphError(f"{self.path}: cannot write: {self.error}")
        os.replace(self.tmp, self.path)

    def discard(self) -> None:
        """Remove the staged file: the import was refused or failed."""
        self.thread.join()
        self.tmp.unlink(missing_ok=True)


#: Above this many triples the graph file is the N-Triples lines in one graph block (fast,
#: ungrouped) instead of rdflib's TriG (grouped by subject and sorted, for a reviewer to read).
READABLE_LIMIT = 20_000


def _trig(triples: bytes, graph: ox.NamedNode, existing: Path) -> list[bytes]:
    """The graph file: the new triples in ``graph``, with what ``existing`` already holds.

    Small graphs are written grouped and sorted by rdflib for a reviewer to read. Big ones are
    the N-Triples lines inside one graph block, which is valid TriG and needs no store: loading
    millions of triples only to print them again cost 20 s at 100k rows.
    """
    old = b""
    if existing.exists():
        old = (
            ox.serialize(
                [
                    ox.Quad(q.subject, q.predicate, q.object)
                    for q in ox.parse(path=str(existing), format=ox.RdfFormat.TRIG)
                ],
                format=ox.RdfFormat.N_TRIPLES,
            )
            or b""
        )
    if triples.count(b"\n") + old.count(b"\n") > READABLE_LIMIT:
        return [f"{graph} {{\n".encode(), old, triples, b"}\n"]
    from rdflib import Dataset, URIRef

    ds = Dataset()
    target = ds.graph(URIRef(graph.value))
    target.parse(data=old + triples, format="nt")
    for prefix, ns in _prefixes().items():
        ds.bind(prefix, ns, replace=True)
    text: str = ds.serialize(format="trig")
    return [text.encode("utf-8")]


def _prefixes() -> dict[str, str]:
    from kzgraph.core.namespaces import PREFIXES

    wanted = {
        "kz", "kzg", "company", "project", "region", "sector", "status", "measure",
        "currency", "country", "source",
    }  # fmt: skip
    chosen = {k: v for k, v in PREFIXES.items() if k in wanted}
    chosen.update(
        {
            "rdfs": str(RDFS),
            "prov": str(PROV),
            "xsd": "http://www.w3.org/2001/XMLSchema#",
        }
    )
    return chosen
