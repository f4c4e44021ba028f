"""Where kzgraph finds its files, passed explicitly instead of read from the working folder.

>>> s = Settings.discover()
>>> (s.ontology_dir / "kzgraph.ttl").exists()
True
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path


def _default_root() -> Path:
    """The checkout this package was installed from (editable installs), or $KZGRAPH_HOME."""
    env = os.environ.get("KZGRAPH_HOME")
    if env:
        return Path(env).resolve()
    return Path(__file__).resolve().parents[3]


@dataclass(frozen=True)
class Settings:
    """Paths to the project's folders; every function that reads files takes one of these."""

    root: Path
    ontology_dir: Path = field(init=False)
    graph_dir: Path = field(init=False)
    queries_dir: Path = field(init=False)
    seeds_dir: Path = field(init=False)

    def __post_init__(self) -> None:
        root = Path(self.root).resolve()
        object.__setattr__(self, "root", root)
        object.__setattr__(self, "ontology_dir", root / "ontology")
        object.__setattr__(self, "graph_dir", root / "graph")
        object.__setattr__(self, "queries_dir", root / "queries")
        seeds = os.environ.get("KZGRAPH_SEEDS")
        object.__setattr__(
            self, "seeds_dir", Path(seeds) if seeds else root.parent / "shared" / "seeds"
        )

    @classmethod
    def discover(cls, root: Path | str | None = None) -> Settings:
        """Settings for ``root``, or for the installed checkout when ``root`` is None."""
        return cls(Path(root) if root is not None else _default_root())

    @property
    def shapes_file(self) -> Path:
        """The SHACL shapes, kept apart from the ontology so data never mixes with constraints."""
        return self.ontology_dir / "shapes.ttl"
