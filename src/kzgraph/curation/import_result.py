"""What an import gives back: each row's outcome, the entities' resolutions, the report.

Kept apart from the steps so that each step and the command line can name it.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

from kzgraph.core.namespaces import GRAPH
from kzgraph.curation import reconcile
from kzgraph.graph.diff import Diff
from kzgraph.validation.report import Report


@dataclass
class RowReport:
    """What became of one row."""

    row: int
    outcome: str  # matched, new or held
    added: int = 0
    reasons: list[str] = field(default_factory=list)


@dataclass
class ImportResult:
    """Everything an import found and did; ``summary()`` is what the command prints."""

    table: Path
    source_id: str
    rows: list[RowReport]
    resolutions: dict[str, reconcile.Resolution]
    triples: bytes  # N-Triples of what the import adds
    report: Report
    timings: dict[str, float]
    written: list[Path] = field(default_factory=list)
    pending: list[reconcile.Resolution] = field(default_factory=list)

    def counts(self) -> dict[str, dict[str, int]]:
        """Entities by kind and outcome, and rows by outcome."""
        by_kind: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
        for res in self.resolutions.values():
            by_kind[res.kind][res.outcome] += 1
        rows: dict[str, int] = defaultdict(int)
        for r in self.rows:
            rows[r.outcome] += 1
        by_kind["rows"] = rows
        return {k: dict(v) for k, v in by_kind.items()}

    def diff(self) -> Diff:
        """What the import adds, in ``kzgraph diff``'s terms (an import never removes)."""
        from rdflib import Graph

        result = Diff()
        if self.triples:
            g = Graph()
            g.parse(data=self.triples, format="nt")
            result.added[str(GRAPH[self.source_id])] = g
        return result

    @property
    def added(self) -> int:
        """Triples the import adds to the graph."""
        return self.triples.count(b"\n")

    def summary(self, limit: int = 20) -> str:
        """A reviewer's report: counts, held rows and why, validation, what was written."""
        lines = [f"{self.table.name} as source {self.source_id}: {len(self.rows)} row(s)"]
        counts = self.counts()
        rows = counts.pop("rows", {})
        n_held = rows.get("held", 0)
        # every row accounted for: cell problems refuse the whole table before this point
        lines.append(
            f"rows read: {len(self.rows)} = {len(self.rows) - n_held} taken (matched or new) "
            f"+ {n_held} held + 0 refused"
        )
        lines.append(
            "rows: "
            + ", ".join(f"{rows.get(k, 0)} {k}" for k in (reconcile.MATCHED, reconcile.NEW, "held"))
            + f"; {sum(1 for r in self.rows if r.outcome != 'held' and r.added == 0)}"
            " add nothing new"
        )
        for kind in sorted(counts):
            parts = ", ".join(f"{n} {o}" for o, n in sorted(counts[kind].items()))
            lines.append(f"  {kind}: {parts}")
        open_questions = [
            r
            for r in self.resolutions.values()
            if r.outcome in (reconcile.AMBIGUOUS, reconcile.UNKNOWN)
        ]
        for res in open_questions[:limit]:
            lines.append(
                f"  {res.outcome} {res.kind} {res.name!r}: {res.reason}"
                + (f" (candidates: {' '.join(res.candidates)})" if res.candidates else "")
            )
        held = [r for r in self.rows if r.outcome == "held"]
        for r in held[:limit]:
            lines.append(f"  row {r.row} held back: {'; '.join(r.reasons)}")
        if len(held) > limit:
            lines.append(f"  … and {len(held) - limit} more held rows")
        lines.append(f"adds {self.added} triple(s) to graph kzg:{self.source_id}")
        lines.append(
            "validation: conforms to the shapes"
            if self.report.conforms
            else f"validation: {len(self.report.findings)} finding(s):"
        )
        for finding in self.report.findings[:limit]:
            lines.append(f"  {finding.focus_label}: {finding.path or ''} {finding.message}")
        for path in self.written:
            lines.append(f"wrote {path}")
        return "\n".join(lines)
