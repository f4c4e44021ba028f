"""Run an RML or YARRRML mapping with morph-kgc, the mapping engine, over a prepared table.

morph-kgc lives in a venv of its own (``.tools/morph-kgc``, made by ``scripts/setup.sh``) because
it pins pyoxigraph, pandas and rdflib to versions kzgraph has moved past; so it runs as a program
(``python -m morph_kgc CONFIG``) and hands back N-Quads files, one per mapping group.
``KZGRAPH_MORPH_KGC`` names another interpreter that has it installed.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from kzgraph.loading import KzgraphError
from kzgraph.settings import Settings

#: The program that runs morph-kgc reading each CSV once (run by morph-kgc's interpreter).
DRIVER = Path(__file__).with_name("morph_kgc_run.py")
#: How long one mapping run may take before it is stopped (seconds).
TIMEOUT = 1800


def engine_python(settings: Settings) -> Path:
    """The interpreter that has morph-kgc, or a clear error saying how to get one."""
    configured = os.environ.get("KZGRAPH_MORPH_KGC")
    candidates = [Path(configured)] if configured else []
    candidates.append(settings.root / ".tools" / "morph-kgc" / "bin" / "python")
    for candidate in candidates:
        if candidate.exists():
            return candidate
    raise KzgraphError(
        "the mapping engine morph-kgc is not installed: run scripts/setup.sh "
        "(it makes .tools/morph-kgc), or set KZGRAPH_MORPH_KGC to a python that has it"
    )


def _config(mapping: Path, output: Path) -> str:
    # Only empty cells are null: a firm called "NA" or "None" is a name, not a missing value.
    # An output directory, not one output file: morph-kgc's worker processes each append their
    # mapping group's triples in buffered writes, and two appending to one file at once can
    # interleave lines; with a directory every group gets a file of its own.
    return (
        "[CONFIGURATION]\n"
        "output_format=N-QUADS\n"
        f"output_dir={output}\n"
        "na_values=\n"
        f"number_of_processes={max(1, os.cpu_count() or 1)}\n"
        "logging_level=WARNING\n"
        "[Table]\n"
        f"mappings={mapping}\n"
    )


def run_mapping(
    settings: Settings, mapping: Path, workdir: Path, *, read_once: bool = True
) -> list[Path]:
    """Materialise ``mapping`` over ``workdir/table.csv``; the N-Quads files it wrote.

    The mapping reads ``table.csv`` relative to ``workdir``, which is where the engine runs.
    ``read_once`` runs it through :mod:`kzgraph.morph_kgc_run` (each CSV parsed once, not once
    per rule); without it, as ``python -m morph_kgc``.
    """
    mapping = mapping.resolve()
    if not mapping.is_file():
        raise KzgraphError(f"{mapping}: no such mapping file")
    output = workdir / "mapped"
    config = workdir / "morph-kgc.ini"
    config.write_text(_config(mapping, output), encoding="utf-8")
    python = engine_python(settings)
    try:
        done = subprocess.run(
            [
                str(python),
                *(["-P", str(DRIVER)] if read_once else ["-m", "morph_kgc"]),
                str(config),
            ],
            cwd=workdir,
            capture_output=True,
            text=True,
            timeout=TIMEOUT,
        )
    except subprocess.TimeoutExpired:
        raise KzgraphError(f"{mapping.name}: the mapping engine ran over {TIMEOUT} s") from None
    files = sorted(output.glob("*.nq")) if output.is_dir() else []
    if done.returncode != 0 or not files:
        lines = [ln for ln in (done.stderr or done.stdout).splitlines() if ln.strip()]
        reason = next(
            (ln for ln in reversed(lines) if "Error" in ln or "error" in ln),
            lines[-1] if lines else f"exit status {done.returncode}",
        )
        raise KzgraphError(f"{mapping}: the mapping engine (morph-kgc) failed: {reason.strip()}")
    return files
