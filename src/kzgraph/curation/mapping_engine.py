"""Run an RML or YARRRML mapping with morph-kgc, the mapping engine, over a prepared table.

morph-kgc lives in a venv of its own (``.tools/morph-kgc``, made by ``scripts/setup.sh``) because
it pins pyoxigraph, pandas and rdflib to versions kzgraph has moved past; so it runs as a program
(``python -m morph_kgc CONFIG``) and hands back N-Quads files, one per mapping group.
``KZGRAPH_MORPH_KGC`` names another interpreter that has it installed.
"""

from __future__ import annotations

import os
import subprocess
import tempfile
import threading
from collections.abc import Generator
from contextlib import closing
from pathlib import Path

from kzgraph.core.errors import KzgraphError
from kzgraph.core.settings import Settings

#: The program that runs morph-kgc reading each CSV once (run by morph-kgc's interpreter).
DRIVER = Path(__file__).with_name("morph_kgc_run.py")
#: How the driver names a mapping group's file once it is written and closed.
DONE = "kzgraph-mapped "
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


def _config(mapping: Path, output: Path, processes: int) -> str:
    # Only empty cells are null: a firm called "NA" or "None" is a name, not a missing value.
    # An output directory, not one output file: morph-kgc's worker processes each append their
    # mapping group's triples in buffered writes, and two appending to one file at once can
    # interleave lines; with a directory every group gets a file of its own.
    return (
        "[CONFIGURATION]\n"
        "output_format=N-QUADS\n"
        f"output_dir={output}\n"
        "na_values=\n"
        f"number_of_processes={processes}\n"
        "logging_level=WARNING\n"
        "[Table]\n"
        f"mappings={mapping}\n"
    )


def run_mapping(
    settings: Settings, mapping: Path, workdir: Path, *, read_once: bool = True
) -> list[Path]:
    """Materialise ``mapping`` over ``workdir/table.csv``; the N-Quads files it wrote."""
    with closing(mapped_files(settings, mapping, workdir, read_once=read_once)) as files:
        return list(files)


def mapped_files(
    settings: Settings, mapping: Path, workdir: Path, *, read_once: bool = True
) -> Generator[Path, None, None]:
    """Materialise ``mapping`` over ``workdir/table.csv``, yielding each N-Quads file once written.

    The mapping reads ``table.csv`` relative to ``workdir``, which is where the engine runs.
    ``read_once`` runs it through :mod:`kzgraph.curation.morph_kgc_run`, which parses each CSV once
    (not once per rule) and names each mapping group's file as soon as it is complete, so the caller
    reads it while the engine maps the rest on the other cores. Without it, the engine runs as
    ``python -m morph_kgc`` on every core and the files come when it ends. A failure raises
    after the files seen so far: the caller must not act on them before the iteration ends.
    """
    # Long on purpose (67 lines): starting the engine, reading its files as they come and stopping
    # it on every path are one lifecycle.
    mapping = mapping.resolve()
    if not mapping.is_file():
        raise KzgraphError(f"{mapping}: no such mapping file")
    output = workdir / "mapped"
    config = workdir / "morph-kgc.ini"
    # Read as it maps, the caller needs a core of its own: the engine gets the others.
    cores = os.cpu_count() or 1
    processes = max(1, cores - 1) if read_once else cores
    config.write_text(_config(mapping, output, processes), encoding="utf-8")
    python = engine_python(settings)
    command = [str(python), *(["-P", str(DRIVER)] if read_once else ["-m", "morph_kgc"])]
    seen: set[Path] = set()
    timed_out = threading.Event()
    with tempfile.TemporaryFile(mode="w+", encoding="utf-8", errors="replace") as errors:
        process = subprocess.Popen(
            [*command, str(config)],
            cwd=workdir,
            stdout=subprocess.PIPE,
            stderr=errors,
            text=True,
        )

        def stop() -> None:
            timed_out.set()
            process.kill()

        timer = threading.Timer(TIMEOUT, stop)
        timer.start()
        try:
            assert process.stdout is not None
            for line in process.stdout:
                if line.startswith(DONE):
                    path = workdir / line[len(DONE) :].strip()
                    seen.add(path)
                    yield path
            code = process.wait()
        finally:
            timer.cancel()
            if process.poll() is None:
                process.kill()
                process.wait()
        if timed_out.is_set():
            raise KzgraphError(f"{mapping.name}: the mapping engine ran over {TIMEOUT} s")
        rest = sorted(set(output.glob("*.nq")) - seen) if output.is_dir() else []
        if code != 0 or not (seen or rest):
            errors.seek(0)
            lines = [ln for ln in errors.read().splitlines() if ln.strip()]
            reason = next(
                (ln for ln in reversed(lines) if "Error" in ln or "error" in ln),
                lines[-1] if lines else f"exit status {code}",
            )
            raise KzgraphError(
                f"{mapping}: the mapping engine (morph-kgc) failed: {reason.strip()}"
            )
    yield from rest
