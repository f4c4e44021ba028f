"""Regenerate graph/reference/ from pycountry (ISO 3166-1, ISO 3166-2:KZ, ISO 4217)."""

from pathlib import Path

from kzgraph.graph.reference import write_reference

if __name__ == "__main__":
    root = Path(__file__).resolve().parent.parent
    for path in write_reference(root / "graph" / "reference"):
        print(f"wrote {path.relative_to(root)}")
