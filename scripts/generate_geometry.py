"""Regenerate graph/reference/geometry-kz.trig from the npm package @amcharts/amcharts5-geodata."""

from pathlib import Path

from kzgraph.graph.geometry import write_geometry

if __name__ == "__main__":
    print(f"wrote {write_geometry(Path(__file__).resolve().parents[1])}")
