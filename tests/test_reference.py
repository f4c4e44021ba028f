"""Reference data is exactly what the generator makes from ISO data, and covers Kazakhstan."""

from __future__ import annotations

import pycountry
from rdflib import Dataset, Literal
from rdflib.compare import isomorphic
from rdflib.namespace import RDF, RDFS

from kzgraph.core.namespaces import GRAPH, KZ, entity
from kzgraph.graph.reference import KZ_REGIONS, build_reference


def test_committed_reference_matches_the_generator(dataset: Dataset):
    fresh = build_reference()
    for key in ("iso3166-1", "iso3166-2", "iso4217"):
        assert isomorphic(fresh.graph(GRAPH[key]), dataset.graph(GRAPH[key])), (
            f"graph/reference/{key}.trig is stale: run python scripts/generate_reference.py"
        )


def test_every_iso_subdivision_of_kazakhstan_is_a_region(dataset: Dataset):
    codes = {s.code for s in pycountry.subdivisions.get(country_code="KZ")}
    g = dataset.graph(GRAPH["iso3166-2"])
    stored = {str(c) for c in g.objects(None, KZ.iso3166_2Code)}
    assert stored == codes == set(KZ_REGIONS)


def test_regions_have_user_labels_and_iso_names(dataset: Dataset):
    g = dataset.graph(GRAPH["iso3166-2"])
    zhambyl = entity("region", "zhambyl")
    assert Literal("Zhambyl Region", lang="en") in set(g.objects(zhambyl, RDFS.label))
    assert str(g.value(zhambyl, KZ.officialName)) == pycountry.subdivisions.get(code="KZ-31").name


def test_countries_and_currencies_complete(dataset: Dataset):
    assert len(set(dataset.graph(GRAPH["iso3166-1"]).subjects(RDF.type, KZ.Country))) == len(
        pycountry.countries
    )
    assert len(set(dataset.graph(GRAPH["iso4217"]).subjects(RDF.type, KZ.Currency))) == len(
        pycountry.currencies
    )


def test_translated_labels_come_from_pycountry(dataset: Dataset):
    china = entity("country", "CN")
    labels = {
        label.language for label in dataset.graph(GRAPH["iso3166-1"]).objects(china, RDFS.label)
    }
    assert {"en", "ru", "kk", "zh-Hans"} <= labels
