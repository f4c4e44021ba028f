"""What changed between two versions: ontology terms added, removed or changed, and facts per graph.

Each side is a project folder (with ontology/ and graph/) or a git revision of this repository.
Blank nodes are compared by their content (canonicalised), so re-serialising a file is no change.
"""

from __future__ import annotations

import io
import subprocess
import tarfile
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from rdflib import BNode, Dataset, Graph, URIRef
from rdflib.compare import to_canonical_graph

from kzgraph.core.errors import KzgraphError
from kzgraph.core.namespaces import BASE, GRAPH, ONTOLOGY_GRAPH, bind_prefixes, curie
from kzgraph.core.settings import Settings
from kzgraph.graph.loading import load

OWN = (BASE + "ontology#", BASE + "vocab/")
DIFF = GRAPH["diff/"]


@dataclass
class Diff:
    """Terms and facts that differ between OLD and NEW."""

    added_terms: list[str] = field(default_factory=list)
    removed_terms: list[str] = field(default_factory=list)
    changed_terms: list[str] = field(default_factory=list)
    added: dict[str, Graph] = field(default_factory=dict)
    removed: dict[str, Graph] = field(default_factory=dict)

    def to_text(self, limit: int = 20) -> str:
        """A readable report: terms, then facts per named graph."""
        out = [
            f"ontology terms: {len(self.added_terms)} added, {len(self.removed_terms)} removed, "
            f"{len(self.changed_terms)} changed"
        ]
        for sign, terms in (
            ("+", self.added_terms),
            ("-", self.removed_terms),
            ("~", self.changed_terms),
        ):
            out += [f"  {sign} {curie(t)}" for t in terms]
        graphs = sorted(set(self.added) | set(self.removed))
        out.append(
            f"facts: {sum(len(g) for g in self.added.values())} added, "
            f"{sum(len(g) for g in self.removed.values())} removed, in {len(graphs)} graph(s)"
        )
        for name in graphs:
            plus, minus = self.added.get(name, Graph()), self.removed.get(name, Graph())
            out.append(f"  {curie(name)}: +{len(plus)} -{len(minus)}")
            for sign, g in (("+", plus), ("-", minus)):
                for s, p, o in sorted(g, key=str)[:limit]:
                    out.append(f"    {sign} {_term(s)} {_term(p)} {_term(o)}")
                if len(g) > limit:
                    out.append(f"    … {len(g) - limit} more")
        return "\n".join(out)

    def to_rdf(self) -> Dataset:
        """The changes as RDF: one named graph of added and one of removed triples per graph."""
        ds = bind_prefixes(Dataset())
        for kind, graphs in (("added", self.added), ("removed", self.removed)):
            for name, g in graphs.items():
                target = ds.graph(URIRef(f"{DIFF}{kind}/{name.removeprefix(str(GRAPH))}"))
                for triple in g:
                    target.add(triple)
        return ds


def _term(term: object) -> str:
    if isinstance(term, URIRef):
        return curie(str(term))
    if isinstance(term, BNode):
        return "[]"
    return repr(str(term))


def _terms(ontology: Graph) -> dict[str, set[tuple[str, str]]]:
    described: dict[str, set[tuple[str, str]]] = {}
    for s, p, o in ontology:
        if isinstance(s, URIRef) and str(s).startswith(OWN):
            described.setdefault(str(s), set()).add(
                (str(p), str(o) if not isinstance(o, BNode) else "[]")
            )
    return described


@contextmanager
def checkout(spec: str, repo: Path) -> Iterator[Path]:
    """A folder holding version ``spec``: the folder itself, or a git revision, extracted."""
    path = Path(spec)
    if (path / "ontology").is_dir():
        yield path
        return
    result = subprocess.run(
        ["git", "-C", str(repo), "archive", "--format=tar", spec],
        capture_output=True,
    )
    if result.returncode != 0:
        raise KzgraphError(f"{spec!r} is neither a project folder nor a git revision of {repo}")
    with tempfile.TemporaryDirectory() as tmp:
        with tarfile.open(fileobj=io.BytesIO(result.stdout)) as archive:
            archive.extractall(tmp, filter="data")
        yield Path(tmp)


def diff_datasets(old: Dataset, new: Dataset) -> Diff:
    """Compare two loaded datasets."""
    result = Diff()
    old_terms, new_terms = _terms(old.graph(ONTOLOGY_GRAPH)), _terms(new.graph(ONTOLOGY_GRAPH))
    result.added_terms = sorted(set(new_terms) - set(old_terms))
    result.removed_terms = sorted(set(old_terms) - set(new_terms))
    result.changed_terms = sorted(
        t for t in set(old_terms) & set(new_terms) if old_terms[t] != new_terms[t]
    )
    names = {str(g.identifier) for ds in (old, new) for g in ds.graphs() if len(g)}
    for name in sorted(names):
        if name == str(ONTOLOGY_GRAPH):
            continue
        a = to_canonical_graph(old.graph(URIRef(name)))
        b = to_canonical_graph(new.graph(URIRef(name)))
        plus, minus = Graph(), Graph()
        for triple in set(b) - set(a):
            plus.add(triple)
        for triple in set(a) - set(b):
            minus.add(triple)
        if len(plus):
            result.added[name] = plus
        if len(minus):
            result.removed[name] = minus
    return result


def diff(old: str, new: str, repo: Path | None = None) -> Diff:
    """Compare two versions given as folders or git revisions."""
    repo = repo or Settings.discover().root
    with checkout(old, repo) as a, checkout(new, repo) as b:
        return diff_datasets(load(_settings_for(a, repo)), load(_settings_for(b, repo)))


def _settings_for(root: Path, repo: Path) -> Settings:
    return Settings.discover(root)
