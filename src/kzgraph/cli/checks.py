"""``kzgraph lint`` and ``kzgraph diff``: what a maintainer runs before a commit.

Argument parsing only; the work lives in :mod:`kzgraph.validation.lint` and
:mod:`kzgraph.graph.diff`.
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING

import click

from kzgraph.cli.support import (
    friendly_errors,
    project_settings,
)

if TYPE_CHECKING:
    pass


@click.command(name="lint")
@click.option(
    "--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True
)
@click.option(
    "--min-severity",
    type=click.Choice(["INFO", "WARNING", "ERROR"]),
    default="INFO",
    show_default=True,
    help="Hide findings below this severity.",
)
@click.pass_context
@friendly_errors
def lint_cmd(ctx: click.Context, fmt: str, min_severity: str) -> None:
    """Hygiene checks on ontology, shapes, data and queries; exit 1 on any ERROR."""
    from kzgraph.validation import lint as lint_mod

    order = {"ERROR": 0, "WARNING": 1, "INFO": 2}
    findings = lint_mod.lint(project_settings(ctx))
    shown = [f for f in findings if order[f.severity] <= order[min_severity]]
    click.echo(lint_mod.to_json(shown) if fmt == "json" else lint_mod.to_text(shown))
    sys.exit(1 if any(f.severity == "ERROR" for f in findings) else 0)


@click.command(name="diff")
@click.argument("old")
@click.argument("new", default=".")
@click.option(
    "--format", "fmt", type=click.Choice(["text", "trig"]), default="text", show_default=True
)
@click.pass_context
@friendly_errors
def diff_cmd(ctx: click.Context, old: str, new: str, fmt: str) -> None:
    """Terms and facts added, removed or changed between OLD and NEW (folders or git revisions)."""
    from kzgraph.graph.diff import diff

    result = diff(old, new, project_settings(ctx).root)
    click.echo(result.to_text() if fmt == "text" else result.to_rdf().serialize(format="trig"))
