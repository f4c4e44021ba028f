"""What every command shares: kzgraph's own errors become one line and exit status 2."""

from __future__ import annotations

import sys
from collections.abc import Callable
from functools import wraps
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click

from kzgraph.core.errors import KzgraphError

if TYPE_CHECKING:
    from kzgraph.core.settings import Settings
    from kzgraph.remote.stores import Backend
    from kzgraph.store.engines import Store

F = TypeVar("F", bound=Callable[..., Any])


def project_settings(ctx: click.Context) -> Settings:
    """The project's settings, which the root group made from ``--root``."""
    settings: Settings = ctx.obj
    return settings


inference_option = click.option(
    "--inference",
    type=click.Choice(["none", "rdfs", "owlrl"]),
    default="none",
    show_default=True,
    help="Query or validate over the RDFS or OWL 2 RL closure (named graph kzg:inferred).",
)


def friendly_errors(func: F) -> F:
    """Report kzgraph's own errors as one line and exit 2, never as a traceback."""

    @wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except KzgraphError as exc:
            click.echo(f"error: {exc}", err=True)
            sys.exit(2)

    return wrapper  # type: ignore[return-value]


#: The names people use for RDF formats (and file extensions), mapped to kzgraph's short names.
RDF_FORMAT_NAMES = {
    "ttl": "ttl", "turtle": "ttl", "text/turtle": "ttl",
    "nt": "nt", "ntriples": "nt", "n-triples": "nt", "application/n-triples": "nt",
    "nq": "nq", "nquads": "nq", "n-quads": "nq", "application/n-quads": "nq",
    "trig": "trig", "application/trig": "trig",
    "jsonld": "jsonld", "json-ld": "jsonld", "application/ld+json": "jsonld",
    "xml": "xml", "rdf": "xml", "rdfxml": "xml", "rdf/xml": "xml", "owl": "xml",
    "application/rdf+xml": "xml",
}  # fmt: skip


class AliasedChoice(click.ParamType):  # type: ignore[type-arg]
    """A choice that also takes the usual other names and file extensions of each value.

    >>> AliasedChoice({"turtle": "ttl", "ttl": "ttl"}).convert(".TTL", None, None)
    'ttl'
    """

    name = "format"

    def __init__(self, aliases: dict[str, str]) -> None:
        self.aliases = aliases

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> str:
        """The canonical name for ``value``, or a usage error listing the accepted names."""
        key = str(value).strip().lower().lstrip(".")
        if key in self.aliases:
            return self.aliases[key]
        choices = ", ".join(sorted(set(self.aliases.values())))
        self.fail(f"{value!r} is not a known format; use one of {choices} (or their usual names)")

    def get_metavar(self, param: click.Parameter, ctx: click.Context | None = None) -> str:
        """Show the canonical names in --help."""
        return "[" + "|".join(sorted(set(self.aliases.values()))) + "]"


def make_backend(url: str, update: str | None = None, store: str | None = None) -> Backend:
    """A remote store's URLs: an Oxigraph server's update and Graph Store URLs follow /query.

    >>> make_backend("http://127.0.0.1:7878/query").store_url
    'http://127.0.0.1:7878/store'
    """
    from kzgraph.remote.stores import Backend

    if not url.startswith(("http://", "https://")):
        raise KzgraphError(f"--backend takes the http(s) URL of a SPARQL endpoint, not {url!r}")
    if url.rstrip("/").endswith("/query"):
        base = url.rstrip("/")[: -len("/query")]
        update = update or base + "/update"
        store = store or base + "/store"
    return Backend(url, update, store)


backend_option = click.option(
    "--backend",
    metavar="URL",
    default=None,
    help="Query a remote SPARQL endpoint (filled by 'kzgraph push') instead of the seeded "
    "files; credentials come from KZGRAPH_BACKEND_USER / KZGRAPH_BACKEND_PASSWORD.",
)


def store_option(help: str, *, required: bool = False) -> Callable[[F], F]:
    """``--store DIR``, an on-disk Oxigraph store (a directory), with the command's own help."""
    return click.option(
        "--store",
        "store_path",
        type=click.Path(file_okay=False, path_type=Path),
        default=None,
        required=required,
        help=help,
    )


def require_store(path: Path) -> Path:
    """``path`` if it holds an Oxigraph store; a clear error instead of an empty new store."""
    if not (path / "CURRENT").exists():
        raise KzgraphError(f"{path}: not an Oxigraph store (no CURRENT file)")
    return path


def parse_params(items: tuple[str, ...]) -> dict[str, str]:
    """``--param NAME=VALUE`` items as a dict; a malformed one is refused, naming it.

    >>> parse_params(("firm=company:tbea", "year=2024"))
    {'firm': 'company:tbea', 'year': '2024'}
    """
    from kzgraph.queries.catalogue import ParameterError

    values: dict[str, str] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise ParameterError(f"--param expects NAME=VALUE, got {item!r}")
        values[key.strip()] = value
    return values


def one_store(store_path: Path | None, backend: str | None) -> None:
    """Refuse ``--store`` with ``--backend``: they name two different stores."""
    if store_path is not None and backend is not None:
        raise KzgraphError("--store and --backend name two different stores: give one")


def read_store(
    settings: Settings,
    store_path: Path | None = None,
    backend: str | None = None,
    engine: str = "oxigraph",
    inference: str = "none",
) -> Store:
    """The data a read command answers from: an on-disk store, a remote one, or the files.

    An on-disk store is opened read-only (a server may hold it meanwhile) and its content is
    used as it is, without reading graph/; the project's files are parsed by Oxigraph into
    memory, or by rdflib when ``--engine rdflib`` or ``--inference`` asks for it.
    """
    one_store(store_path, backend)
    if (store_path is not None or backend is not None) and inference != "none":
        raise KzgraphError("--inference applies to the project's files, not to --store/--backend")
    if (store_path is not None or backend is not None) and engine != "oxigraph":
        raise KzgraphError(f"--engine {engine} reads the project's files; --store/--backend "
                           "are answered by their own engine")  # fmt: skip
    if backend is not None:
        from kzgraph.remote.stores import RemoteStore

        return RemoteStore(make_backend(backend))
    if store_path is not None:
        from kzgraph.store.engines import OxigraphStore

        return OxigraphStore.read_only(require_store(store_path))
    from kzgraph.store.engines import open_store

    if inference == "none":
        return open_store(engine, settings=settings)
    from kzgraph.graph.loading import load
    from kzgraph.validation.inference import expand

    return open_store(engine, settings=settings, dataset=expand(load(settings), inference))
