"""Register the five seed articles as sources, with the metadata their own graphs give.

Run once (it is idempotent): copies each text to sources/, records its SHA-256, title,
description, publisher and language in graph/sources.trig. The seeds' facts stay in graph/seed/,
so no empty graph file is made for them.
"""

from __future__ import annotations

from rdflib import Graph
from rdflib.namespace import DCTERMS, RDFS

from kzgraph.core.namespaces import ID
from kzgraph.core.settings import Settings
from kzgraph.graph.loading import parse_file
from kzgraph.sources.registry import register


def main() -> None:
    settings = Settings.discover()
    for path in sorted(settings.seeds_dir.glob("*.txt")):
        stem = path.stem
        graph_file = next(
            p for p in (settings.graph_dir / "seed").glob("*.trig") if stem in p.read_text()
        )
        from kzgraph.graph.loading import new_dataset

        ds = new_dataset()
        parse_file(graph_file, ds)
        g = Graph()
        for s, p, o, _ in ds.quads((ID[f"source/{stem}"], None, None, None)):
            g.add((s, p, o))
        source = ID[f"source/{stem}"]
        publisher = g.value(source, DCTERMS.source)
        done = register(
            path,
            settings,
            title=str(g.value(source, DCTERMS.title)),
            label=str(g.value(source, RDFS.label)),
            description=str(g.value(source, DCTERMS.description)),
            publisher=str(publisher) if publisher else None,
            language=str(g.value(source, DCTERMS.language) or "en"),
            source_id=stem,
            graph_file=False,
        )
        print(stem, "registered" if done.created else "already registered")


if __name__ == "__main__":
    main()
