"""Reference data (countries, Kazakhstan's regions, currencies) generated from ISO standards.

The facts here come from ISO 3166-1, ISO 3166-2:KZ and ISO 4217 as packaged by pycountry, never
from the articles, so they are regenerated rather than edited by hand: ``python
scripts/generate_reference.py`` rewrites ``graph/reference/``. The English region labels are the
forms English-language sources use ("Zhambyl Region"); ISO's transliterations become alternative
labels, and pycountry's translations become Kazakh, Russian and Chinese labels.
"""

from __future__ import annotations

import gettext
from collections.abc import Callable, Iterable
from pathlib import Path

from rdflib import Dataset, Graph, Literal, URIRef
from rdflib.namespace import DCTERMS, PROV, RDF, RDFS, SKOS

from kzgraph.core.namespaces import GRAPH, KZ, bind_prefixes, entity

#: The English name of each first-level division, as English-language sources write it, keyed by
#: ISO 3166-2 code, with the IRI slug. ISO's own transliteration is kept as an alternative label.
KZ_REGIONS: dict[str, tuple[str, str]] = {
    "KZ-10": ("abai", "Abai Region"),
    "KZ-11": ("akmola", "Akmola Region"),
    "KZ-15": ("aktobe", "Aktobe Region"),
    "KZ-19": ("almaty-region", "Almaty Region"),
    "KZ-23": ("atyrau", "Atyrau Region"),
    "KZ-27": ("west-kazakhstan", "West Kazakhstan Region"),
    "KZ-31": ("zhambyl", "Zhambyl Region"),
    "KZ-33": ("jetisu", "Jetisu Region"),
    "KZ-35": ("karaganda", "Karaganda Region"),
    "KZ-39": ("kostanay", "Kostanay Region"),
    "KZ-43": ("kyzylorda", "Kyzylorda Region"),
    "KZ-47": ("mangystau", "Mangystau Region"),
    "KZ-55": ("pavlodar", "Pavlodar Region"),
    "KZ-59": ("north-kazakhstan", "North Kazakhstan Region"),
    "KZ-61": ("turkistan", "Turkistan Region"),
    "KZ-62": ("ulytau", "Ulytau Region"),
    "KZ-63": ("east-kazakhstan", "East Kazakhstan Region"),
    "KZ-71": ("astana", "Astana"),
    "KZ-75": ("almaty", "Almaty"),
    "KZ-79": ("shymkent", "Shymkent"),
}

#: Languages whose pycountry translations become labels; Chinese is tagged zh-Hans.
LANGUAGES: dict[str, str] = {"kk": "kk", "ru": "ru", "zh_CN": "zh-Hans"}

STANDARDS: dict[str, tuple[str, str]] = {
    "iso3166-1": ("ISO 3166-1", "Codes for the representation of names of countries."),
    "iso3166-2": ("ISO 3166-2:KZ", "Codes for the subdivisions of Kazakhstan."),
    "iso4217": ("ISO 4217", "Codes for the representation of currencies."),
}


def _translator(domain: str, language: str) -> Callable[[str], str] | None:
    import pycountry

    try:
        trans = gettext.translation(domain, pycountry.LOCALES_DIR, languages=[language])
    except OSError:
        return None
    return trans.gettext


def _translations(domain: str, name: str) -> Iterable[Literal]:
    for language, tag in LANGUAGES.items():
        translate = _translator(domain, language)
        if translate is None:
            continue
        text = translate(name)
        if text and text != name:
            yield Literal(text, lang=tag)


def _new_graph(ds: Dataset, key: str, version: str) -> Graph:
    """A named graph per standard, describing where its triples come from."""
    standard = entity("source", key)
    g = ds.graph(GRAPH[key])
    title, description = STANDARDS[key]
    g.add((standard, RDF.type, KZ.SourceDocument))
    g.add((standard, RDFS.label, Literal(title, lang="en")))
    g.add((standard, DCTERMS.title, Literal(title, lang="en")))
    g.add((standard, DCTERMS.description, Literal(description, lang="en")))
    g.add((standard, DCTERMS.source, Literal(f"pycountry {version}")))
    g.add((GRAPH[key], PROV.wasDerivedFrom, standard))
    return g


def _derive(g: Graph, node: URIRef, key: str) -> None:
    g.add((node, PROV.wasDerivedFrom, entity("source", key)))


def build_reference() -> Dataset:
    """Build the three reference graphs from the installed pycountry."""
    import pycountry

    version = _pycountry_version()
    ds = bind_prefixes(Dataset())

    countries = _new_graph(ds, "iso3166-1", version)
    for c in sorted(pycountry.countries, key=lambda c: c.alpha_2):
        node = entity("country", c.alpha_2)
        common = getattr(c, "common_name", None) or c.name
        countries.add((node, RDF.type, KZ.Country))
        countries.add((node, RDFS.label, Literal(common, lang="en")))
        countries.add((node, KZ.officialName, Literal(getattr(c, "official_name", c.name))))
        if common != c.name:
            countries.add((node, SKOS.altLabel, Literal(c.name, lang="en")))
        countries.add((node, KZ.iso3166Alpha2, Literal(c.alpha_2)))
        countries.add((node, KZ.iso3166Alpha3, Literal(c.alpha_3)))
        countries.add((node, KZ.iso3166Numeric, Literal(c.numeric)))
        for label in _translations("iso3166-1", c.name):
            countries.add((node, RDFS.label, label))
        _derive(countries, node, "iso3166-1")

    regions = _new_graph(ds, "iso3166-2", version)
    kazakhstan = entity("country", "KZ")
    subdivisions = pycountry.subdivisions.get(country_code="KZ")  # type: ignore[no-untyped-call]
    for s in subdivisions:
        if s.code not in KZ_REGIONS:
            raise ValueError(f"ISO 3166-2 lists {s.code} ({s.name}), which KZ_REGIONS lacks")
        slug, english = KZ_REGIONS[s.code]
        node = entity("region", slug)
        regions.add((node, RDF.type, KZ.Region))
        if s.type == "City":
            regions.add((node, RDF.type, KZ.City))
        regions.add((node, RDFS.label, Literal(english, lang="en")))
        if s.name != english:
            regions.add((node, SKOS.altLabel, Literal(s.name, lang="kk-Latn")))
        regions.add((node, KZ.officialName, Literal(s.name)))
        regions.add((node, KZ.iso3166_2Code, Literal(s.code)))
        regions.add((node, KZ.divisionType, Literal(s.type.lower())))
        regions.add((node, KZ.country, kazakhstan))
        for label in _translations("iso3166-2", s.name):
            regions.add((node, RDFS.label, label))
        _derive(regions, node, "iso3166-2")

    currencies = _new_graph(ds, "iso4217", version)
    for cur in sorted(pycountry.currencies, key=lambda c: c.alpha_3):
        node = entity("currency", cur.alpha_3)
        currencies.add((node, RDF.type, KZ.Currency))
        currencies.add((node, RDFS.label, Literal(cur.name, lang="en")))
        currencies.add((node, KZ.iso4217Code, Literal(cur.alpha_3)))
        currencies.add((node, KZ.iso4217Numeric, Literal(cur.numeric)))
        _derive(currencies, node, "iso4217")
    return ds


def _pycountry_version() -> str:
    from importlib.metadata import version

    return version("pycountry")


def write_reference(out_dir: Path) -> list[Path]:
    """Write one TriG file per standard into ``out_dir``; returns the paths written."""
    ds = build_reference()
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for key in STANDARDS:
        single = bind_prefixes(Dataset())
        target = single.graph(GRAPH[key])
        for triple in ds.graph(GRAPH[key]):
            target.add(triple)
        path = out_dir / f"{key}.trig"
        text = single.serialize(format="trig")
        path.write_text(
            f"# Generated by scripts/generate_reference.py from {key}; do not edit.\n{text}"
        )
        written.append(path)
    return written


__all__ = ["KZ_REGIONS", "build_reference", "write_reference"]
