"""Artefacts derived from the data (validation report, documentation site), kept by content hash.

Starting the server on unchanged inputs should not redo seconds of work: pyshacl takes about
3 s on the seeded graph and the documentation site about 2.5 s. Each artefact is stored under
``.kzgraph-cache/`` in the checkout, named by the SHA-256 of everything it was made from (the
data as N-Quads, the shapes, the ontology, the saved queries, and the versions of kzgraph and
pyshacl), so any change to any input makes a new one and nothing stale is ever reused.

>>> digest(b"a", b"b") == digest(b"a", b"b") != digest(b"ab")
True
"""

from __future__ import annotations

import hashlib
import json
import shutil
import tempfile
from collections.abc import Callable, Iterable
from importlib.metadata import version
from pathlib import Path

from kzgraph.core.settings import Settings


def digest(*parts: bytes) -> str:
    """SHA-256 over ``parts``, each length-prefixed so that boundaries count."""
    h = hashlib.sha256()
    for part in parts:
        h.update(len(part).to_bytes(8, "big"))
        h.update(part)
    return h.hexdigest()


def files_digest(paths: Iterable[Path]) -> bytes:
    """The names and contents of ``paths``, in a stable order, as one hash input."""
    h = hashlib.sha256()
    for path in sorted(paths):
        h.update(path.name.encode())
        h.update(path.read_bytes())
    return h.digest()


def files_fingerprint(settings: Settings) -> bytes:
    """The data as read from the project's files (ontology and graphs), for the cache keys.

    Hashing the files, not a parse of them: blank nodes get new names on every parse.
    """
    from kzgraph.graph.loading import data_files, ontology_files

    # the registered texts too: validation checks every quotation and figure against them
    texts = sorted(p for p in (settings.root / "sources").glob("*") if p.is_file())
    return files_digest([*ontology_files(settings), *data_files(settings), *texts])


def cache_dir(settings: Settings) -> Path:
    """Where derived artefacts live (git-ignored)."""
    return settings.root / ".kzgraph-cache"


def validation_key(settings: Settings, nquads: bytes, inference: str, engine: str = "shacl") -> str:
    """What a validation report depends on: the data, the shapes, the engine and versions."""
    return digest(
        nquads,
        settings.shapes_file.read_bytes(),
        inference.encode(),
        engine.encode(),
        version("pyshacl").encode(),
        version("shacl").encode(),
        version("kzgraph").encode(),
    )


def store_validation_key(settings: Settings, content: str) -> str:
    """What a store's validation depends on: its content id, the shapes and the engine."""
    return digest(
        content.encode(),
        settings.shapes_file.read_bytes(),
        b"shacl-engine",
        version("shacl").encode(),
        version("kzgraph").encode(),
    )


def cached_conformance(settings: Settings, key: str) -> bool | None:
    """True/False when a report for ``key`` is on disk, None when it must be made."""
    path = cache_dir(settings) / f"validation-{key}.json"
    if not path.exists():
        return None
    try:
        return bool(json.loads(path.read_text())["conforms"])
    except (OSError, ValueError, KeyError):
        return None


def remember_conformance(settings: Settings, key: str, conforms: bool, findings: int) -> None:
    """Keep the outcome of a validation run for ``key`` (written atomically)."""
    folder = cache_dir(settings)
    folder.mkdir(parents=True, exist_ok=True)
    for old in folder.glob("validation-*.json"):
        old.unlink(missing_ok=True)
    fd, tmp = tempfile.mkstemp(dir=folder, suffix=".tmp")
    with open(fd, "w") as out:
        json.dump({"conforms": conforms, "findings": findings}, out)
    Path(tmp).replace(folder / f"validation-{key}.json")


def docs_key(settings: Settings, nquads: bytes) -> str:
    """What the documentation site depends on: data, ontology, queries, code and templates.

    The code and templates count because an edited template must not be served from a stale
    build.
    """
    package = Path(__file__).resolve().parents[1] / "docs"
    return digest(
        nquads,
        files_digest(settings.ontology_dir.glob("*.ttl")),
        files_digest(settings.queries_dir.rglob("*.rq")),
        files_digest([*package.glob("*.py"), *(package / "templates").glob("*")]),
        files_digest([*(settings.root / "docs").rglob("*.md")]),  # the guides are pages too
        (settings.root / "CHANGELOG.md").read_bytes()
        if (settings.root / "CHANGELOG.md").exists()
        else b"",
        version("kzgraph").encode(),
    )


def site_folder(settings: Settings, key: str) -> Path:
    """Where the site for ``key`` is (or will be, once built: it appears whole, by a rename)."""
    return cache_dir(settings) / f"docs-{key[:16]}"


def cached_site(settings: Settings, key: str, build: Callable[[Path], object]) -> tuple[Path, bool]:
    """The site folder for ``key``, built with ``build`` unless present; (folder, was cached)."""
    folder = cache_dir(settings)
    target = site_folder(settings, key)
    if (target / "index.html").exists():
        return target, True
    folder.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(dir=folder, prefix="docs-building-"))
    build(staging)
    try:
        staging.rename(target)
    except OSError:  # another server built the same site meanwhile
        shutil.rmtree(staging, ignore_errors=True)
        return target, True
    # keep the newest few sites: another server on this checkout may still serve an older one
    sites = sorted(folder.glob("docs-[0-9a-f]*"), key=lambda p: p.stat().st_mtime, reverse=True)
    for old in sites[3:]:
        shutil.rmtree(old, ignore_errors=True)
    return target, False
