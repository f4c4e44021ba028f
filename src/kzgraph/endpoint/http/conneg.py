"""Content negotiation: pick a result format from Accept (q-values honoured) or ``format=``.

>>> pick(SELECT_FORMATS, "text/csv;q=0.5, application/sparql-results+xml", None).name
'xml'
>>> pick(SELECT_FORMATS, "text/html", "csv").name
'csv'
>>> pick(GRAPH_FORMATS, "application/n-triples, text/turtle;q=0.9", None).name
'nt'
>>> pick(SELECT_FORMATS, "image/png", None) is None
True
>>> pick(GRAPH_FORMATS, "application/rdf+xml", "rdf+xml").name  # unknown format=: Accept decides
'xml'
>>> pick(SELECT_FORMATS, ",,,,", None) is None
True
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import mimeparse


@dataclass(frozen=True)
class Format:
    """A result format: its short name (``format=``), media type, and the aliases it answers."""

    name: str
    media_type: str
    aliases: tuple[str, ...] = ()

    @property
    def content_type(self) -> str:
        """The Content-Type header, with charset for text formats."""
        return f"{self.media_type}; charset=utf-8"


#: SELECT and ASK results; the preferred default comes last (mimeparse breaks ties by order).
SELECT_FORMATS = (
    Format("tsv", "text/tab-separated-values"),
    Format("csv", "text/csv"),
    Format("xml", "application/sparql-results+xml", ("application/xml", "text/xml")),
    Format("json", "application/sparql-results+json", ("application/json",)),
)

#: CONSTRUCT and DESCRIBE results, and any RDF the server sends.
GRAPH_FORMATS = (
    Format("xml", "application/rdf+xml", ("application/xml", "text/xml")),
    Format("jsonld", "application/ld+json", ("application/json",)),
    Format("nt", "application/n-triples", ("text/plain",)),
    Format("nq", "application/n-quads"),
    Format("trig", "application/trig"),
    # N3 readers read Turtle: a client asking for text/n3 (Oxigraph serves it) gets Turtle text
    Format("n3", "text/n3"),
    Format("ttl", "text/turtle", ("application/x-turtle",)),
)

#: Formats that keep named graphs (for dumps and the Graph Store).
QUAD_FORMATS = tuple(f for f in GRAPH_FORMATS if f.name in ("nq", "trig", "jsonld"))

ALIASES = {
    "json": "json",
    "xml": "xml",
    "csv": "csv",
    "tsv": "tsv",
    "turtle": "ttl",
    "ttl": "ttl",
    "nt": "nt",
    "ntriples": "nt",
    "nq": "nq",
    "nquads": "nq",
    "trig": "trig",
    "jsonld": "jsonld",
    "json-ld": "jsonld",
    "rdfxml": "xml",
    "n3": "n3",
}


@lru_cache(maxsize=512)
def pick(offers: tuple[Format, ...], accept: str | None, override: str | None) -> Format | None:
    """The format to answer in, or None when nothing acceptable is offered (406).

    A ``format=`` this resource does not offer is ignored and ``Accept`` decides, as clients
    such as SPARQLWrapper send ``format=`` on every request, sometimes with names of their own.
    Remembered: clients send the same few Accept headers, and matching them costs more than a
    small query.
    """
    if override:
        wanted = ALIASES.get(override.lower(), override.lower())
        for offer in offers:
            if wanted in (offer.name, offer.media_type) or override in offer.aliases:
                return offer
    if not accept or not accept.strip():
        return offers[-1]
    supported: list[tuple[str, Format]] = []
    for offer in offers:
        supported += [(alias, offer) for alias in offer.aliases]
    supported += [(offer.media_type, offer) for offer in offers]
    try:
        best = mimeparse.best_match([m for m, _ in supported], accept)
    except (ValueError, IndexError, mimeparse.MimeTypeParseException):
        return None
    return next((offer for media, offer in supported if media == best), None) if best else None


def wants_html(accept: str | None) -> bool:
    """True when a browser asks: text/html ranks above every RDF and result type."""
    if not accept:
        return False
    try:
        html = mimeparse.quality("text/html", accept)
        others = max(
            mimeparse.quality(f.media_type, accept) for f in (*SELECT_FORMATS, *GRAPH_FORMATS)
        )
    except (ValueError, IndexError, mimeparse.MimeTypeParseException):
        return False
    return html > 0 and (html > others or (html == others and accept.find("text/html") < 5))
