"""HTML for people: the landing page, the query UI, entity pages and the API docs page."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, select_autoescape
from rdflib import BNode, Literal, URIRef

from kzgraph.core.namespaces import BASE, curie

TEMPLATES = Path(__file__).resolve().parents[1] / "templates"
#: The web UI's scripts, installed from npm by scripts/setup.sh and served, never from a CDN.
WEB = Path(__file__).resolve().parents[4] / "web" / "node_modules"
_ENV = Environment(loader=FileSystemLoader(TEMPLATES), autoescape=select_autoescape(["html"]))


def local_href(iri: str) -> str | None:
    """The path on this server that resolves ``iri``, for IRIs under the project's base."""
    if iri.startswith(BASE + "ontology#"):
        return "/ontology/" + iri[len(BASE + "ontology#") :]  # the term's documentation
    if iri.startswith(BASE + "shapes#"):
        return "/shapes/" + iri[len(BASE + "shapes#") :]  # a SHACL shape
    if iri.startswith(BASE):
        return "/" + iri[len(BASE) :].replace("#", "%23")
    return None


def term_view(term: Any, labels: dict[str, str]) -> dict[str, Any]:
    """How a term is shown: text, link, and a note (datatype or language)."""
    if isinstance(term, URIRef):
        iri = str(term)
        href = local_href(iri) or iri
        return {"text": labels.get(iri, curie(iri)), "href": href, "note": curie(iri)}
    if isinstance(term, BNode):
        return {"text": "(details below)", "href": None, "note": ""}
    if isinstance(term, Literal):
        note = (
            f"@{term.language}"
            if term.language
            else (curie(str(term.datatype)) if term.datatype else "")
        )
        text = str(term)
        if len(text) > 300:  # a WKT outline: show its start; the RDF formats have it whole
            note = f"{note}, {len(text):,} characters".lstrip(", ")
            text = text[:160] + " …"
        return {"text": text, "href": None, "note": note}
    return {"text": str(term), "href": None, "note": ""}


def render(template: str, **context: Any) -> str:
    """Render one of the templates in ``templates/``."""
    return _ENV.get_template(template).render(curie=curie, local_href=local_href, **context)
