"""What a check reports: one finding, and how bad it is.

Shared by the hygiene checks (:mod:`kzgraph.validation.lint`) and the source checks
(:mod:`kzgraph.sources.checks`), which the first runs: kept apart so neither imports the other
to learn what a finding is.
"""

from __future__ import annotations

from dataclasses import dataclass

ERROR, WARNING, INFO = "ERROR", "WARNING", "INFO"


@dataclass(frozen=True)
class Finding:
    """One problem: how bad, which check, where, about what, and what to do."""

    severity: str
    check: str
    file: str
    term: str
    message: str
