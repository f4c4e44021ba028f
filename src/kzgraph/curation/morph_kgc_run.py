"""Run morph-kgc on a prepared table, reading each CSV source once instead of once per rule.

This file runs in morph-kgc's own venv (``.tools/morph-kgc``), never in kzgraph's: it imports
nothing from kzgraph. ``python morph_kgc_run.py CONFIG`` does what ``python -m morph_kgc CONFIG``
does, with two changes. morph-kgc reads a CSV source again for every rule of the mapping (the
shipped mapping has 24), parsing the whole file each time to keep a few columns; at 100k rows
that was 40% of its work. Here the first read keeps the whole table, parsed with morph-kgc's own
options, and each rule gets a copy of the columns it asks for: the same data frame it would have
read, so the same triples (a test compares both ways). The table is read before the engine forks
its worker processes, which then share it. And each mapping group's output file is named on
stdout once complete, so kzgraph can read it while the rest are mapped.

The hooks are morph-kgc 2.10's private ``data_file._read_csv`` and ``materializer.triples_to_file``;
setup.sh pins that version. If a later version lacks them, the engine runs unchanged (and kzgraph
reads the files when it ends).
"""

from __future__ import annotations

import os
import runpy
import sys
from typing import Any

_frames: dict[str, Any] = {}
#: The line that names a finished output file (kzgraph.curation.mapping_engine.DONE).
DONE = "kzgraph-mapped "


def _read(path: str) -> Any:
    import pandas as pd  # type: ignore[import-not-found,unused-ignore]

    if path not in _frames:
        # morph-kgc's own reading options (data_file._read_csv), all columns at once
        _frames[path] = pd.read_table(
            path,
            sep=",",
            index_col=False,
            encoding="utf-8",
            encoding_errors="strict",
            engine="c",
            dtype=str,
            keep_default_na=False,
            na_filter=False,
        )
    return _frames[path]


def _install() -> None:
    from morph_kgc.data_source import data_file  # type: ignore[import-not-found,unused-ignore]

    original = getattr(data_file, "_read_csv", None)
    if original is None:
        return

    def read_csv(rml_rule: Any, references: Any, file_source_type: str) -> Any:
        if file_source_type != "CSV":
            return original(rml_rule, references, file_source_type)
        try:
            frame = _read(rml_rule["logical_source_value"])
            return frame[list(references)].copy()
        except Exception:  # another delimiter, a missing column: morph-kgc's own way and errors
            return original(rml_rule, references, file_source_type)

    data_file._read_csv = read_csv
    _announce()
    if os.path.exists("table.csv"):  # kzgraph's prepared table: read it before the fork
        _read("table.csv")


def _announce() -> None:
    """Print each mapping group's output file once it is written, synced and closed.

    kzgraph reads the finished files while the engine maps the rest. The line goes to stdout in
    one write shorter than a pipe's atomic size, so lines from the engine's worker processes
    never mix.
    """
    from morph_kgc import materializer  # type: ignore[import-not-found,unused-ignore]

    original = getattr(materializer, "triples_to_file", None)
    if original is None:
        return

    def triples_to_file(triples: Any, config: Any, mapping_group: Any = None) -> Any:
        done = original(triples, config, mapping_group)
        os.write(1, f"{DONE}{config.get_output_file_path(mapping_group)}\n".encode())
        return done

    materializer.triples_to_file = triples_to_file


if __name__ == "__main__":
    _install()
    sys.argv = ["morph_kgc", *sys.argv[1:]]
    runpy.run_module("morph_kgc", run_name="__main__", alter_sys=True)
