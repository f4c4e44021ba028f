"""Every fact in graph/seed traces to its article: quotations, figures and names are checked
against the article text itself, so nothing here is typed twice."""

from __future__ import annotations

import re
from decimal import Decimal

import pytest
from rdflib import BNode, Dataset, Literal, URIRef
from rdflib.namespace import PROV, RDF, RDFS, SKOS

from kzgraph.core.figures import currency_of, parse_stated
from kzgraph.core.namespaces import GRAPH, KZ, entity

from .conftest import article_figure, normalise

SEED_GRAPHS = [
    "000_096687169d175def",
    "001_eb158449043a4115",
    "002_97890c3330489398",
    "003_497b471c4106a90e",
    "004_2b059f08c0a5d038",
]
VERBATIM = [KZ.quotation, KZ.statedAs, KZ.statusStatedAs, KZ.dateStatedAs]


@pytest.mark.parametrize("stem", SEED_GRAPHS)
@pytest.mark.parametrize("predicate", VERBATIM, ids=lambda p: p.split("#")[-1])
def test_verbatim_words_occur_in_their_article(dataset: Dataset, seed_texts, stem, predicate):
    graph = dataset.graph(GRAPH[stem])
    text = seed_texts[stem]
    missing = [str(o) for o in graph.objects(None, predicate) if normalise(str(o)) not in text]
    assert not missing, f"{predicate} values not found verbatim in {stem}.txt: {missing}"


@pytest.mark.parametrize("stem", SEED_GRAPHS)
def test_every_entity_cites_a_sentence_of_its_own_article(dataset: Dataset, stem):
    graph = dataset.graph(GRAPH[stem])
    source = entity("source", stem)
    uncited = []
    for subject in set(graph.subjects()):
        if isinstance(subject, BNode) or subject in (source, GRAPH[stem]):
            continue
        if (subject, RDF.type, PROV.Derivation) in graph:
            continue
        derivations = list(graph.objects(subject, PROV.qualifiedDerivation))
        if not any((d, PROV.entity, source) in graph for d in derivations):
            uncited.append(str(subject))
    assert not uncited, f"entities in {stem} without a quotation from it: {uncited}"


@pytest.mark.parametrize("stem", SEED_GRAPHS)
def test_every_quotation_backs_some_entity(dataset: Dataset, stem):
    graph = dataset.graph(GRAPH[stem])
    unused = [
        str(d)
        for d in graph.subjects(RDF.type, PROV.Derivation)
        if not any(graph.subjects(PROV.qualifiedDerivation, d))
    ]
    assert not unused, f"quotations in {stem} that back no entity: {unused}"


@pytest.mark.parametrize("stem", SEED_GRAPHS)
def test_each_seed_graph_describes_its_source(dataset: Dataset, seed_texts, stem):
    graph = dataset.graph(GRAPH[stem])
    source = entity("source", stem)
    assert (source, RDF.type, KZ.SourceDocument) in graph
    assert str(graph.value(source, KZ.fileName)) == f"{stem}.txt"
    title = str(graph.value(source, URIRef("http://purl.org/dc/terms/title")))
    assert normalise(title) in seed_texts[stem]


def _figures(dataset: Dataset):
    for stem in SEED_GRAPHS:
        graph = dataset.graph(GRAPH[stem])
        for node in graph.subjects(KZ.statedAs, None):
            if (node, KZ.value, None) in graph:
                yield stem, graph, node


def test_every_value_matches_the_words_it_was_read_from(dataset: Dataset):
    wrong = []
    for stem, graph, node in _figures(dataset):
        stated = str(graph.value(node, KZ.statedAs))
        value = Decimal(str(graph.value(node, KZ.value)))
        if parse_stated(stated) != value:
            wrong.append(f"{stem}: {stated!r} read as {parse_stated(stated)}, graph has {value}")
    assert not wrong, "\n".join(wrong)


def test_amounts_keep_the_currency_the_text_uses(dataset: Dataset):
    wrong = []
    for stem, graph, node in _figures(dataset):
        if (node, RDF.type, KZ.MonetaryAmount) not in graph:
            continue
        stated = str(graph.value(node, KZ.statedAs))
        code = str(graph.value(node, KZ.currency)).rsplit("/", 1)[-1]
        # "Another 53 billion tenge" names its currency; "$40.9 thousand" too. A bare figure
        # inherits the currency of its sentence, which must then be the article's.
        expected = currency_of(stated)
        if expected is not None and expected != code:
            wrong.append(f"{stem}: {stated!r} stored as {code}")
    assert not wrong, wrong


#: Money and capacity expressions as they are written in the articles.
FIGURE_PATTERNS = [
    r"\$[\d.,]+ (?:thousand|million|billion)",
    r"[\d.,]+ (?:thousand|million|billion) tenge",
    r"[\d,]+ MW",
    r"[\d.,]+ million (?:tons|tonnes)",
    r"[\d,]+ (?:jobs|hectares|vehicles)",
]


@pytest.mark.parametrize("stem", SEED_GRAPHS)
def test_every_figure_in_the_article_is_in_the_graph(dataset: Dataset, seed_texts, stem):
    graph = dataset.graph(GRAPH[stem])
    values = {Decimal(str(v)) for v in graph.objects(None, KZ.value)}
    missing = []
    for pattern in FIGURE_PATTERNS:
        for match in re.finditer(pattern, seed_texts[stem]):
            if parse_stated(match.group(0)) not in values:
                missing.append(match.group(0))
    assert not missing, f"figures in {stem}.txt with no value in its graph: {missing}"


def _stated_figures(dataset, measure: str):
    query = """
        SELECT ?g ?value WHERE {
            GRAPH ?g { ?f a kz:StatedFigure ; kz:measure ?m ; kz:about country:KZ ;
                          kz:partnerCountry country:CN .
                       { ?f kz:quantity ?q } UNION { ?f kz:amount ?q }
                       ?q kz:value ?value }
        }"""
    rows = dataset.query(
        query,
        initNs={"kz": KZ, "country": entity("country", "")},
        initBindings={"m": URIRef(f"https://w3id.org/kzgraph/vocab/measure/{measure}")},
    )
    return {str(g).rsplit("/", 1)[-1]: Decimal(str(v)) for g, v in rows}


def test_conflicting_firm_counts_are_both_kept_with_their_sources(dataset, seed_texts):
    # 001: "over 5,000 businesses capitalized by China"; 003: "Over 6,000 Chinese companies".
    expected = {
        "001_eb158449043a4115": article_figure(
            seed_texts, "001_eb158449043a4115", r"over [\d,]+ businesses capitalized by China"
        ),
        "003_497b471c4106a90e": article_figure(
            seed_texts, "003_497b471c4106a90e", r"Over [\d,]+ Chinese companies"
        ),
    }
    assert expected["001_eb158449043a4115"] != expected["003_497b471c4106a90e"]
    assert _stated_figures(dataset, "company-count") == expected


def test_conflicting_investment_totals_are_both_kept(dataset, seed_texts):
    # 001: "total Chinese investments soaring above $26 billion"; 003: "invested $27 billion".
    expected = {
        "001_eb158449043a4115": article_figure(
            seed_texts, "001_eb158449043a4115", r"\$[\d.]+ billion"
        ),
        "003_497b471c4106a90e": article_figure(
            seed_texts, "003_497b471c4106a90e", r"invested \$[\d.]+ billion"
        ),
    }
    assert _stated_figures(dataset, "investment-stock") == expected


#: Organisations each article names, as written there. The test checks each name is in the
#: article (so the list cannot drift from the sources) and is a label in the graph.
NAMED_ORGANISATIONS = {
    "000_096687169d175def": [
        "Batys Power",
        "ZhaikPetroleumLTD",
        "INO Hong Kong International Industrial Company",
        "Shihong Trading Company",
        "Zhejiang Haihe Environmental Technology",
    ],
    "002_97890c3330489398": [
        "Fufeng Group",
        "Xinjiang Lihua Group Co Ltd",
        "Dalian Hesheng Holdings",
        "TBEA Company Limited",
        "Qingdao Wanlin Food Corporation",
        "China Construction Engineering Corporation",
        "Energy China Group",
        "CITIC Construction",
        "China CAMC Engineering",
        "Huawei",
        "Aladdin Holdings Group",
        "YTO Express",
    ],
    "003_497b471c4106a90e": [
        "China State Construction Engineering Corporation",
        "Sinopec",
        "SINOPEC",
        "CNPC",
        "CITIC",
        "Huawei",
        "China Power International Holding",
        "China Energy",
        "China Huadian Corporation",
        "CNNC",
        "Fujian Hengwang Investment",
        "Jiaxin International",
        "China Glass",
    ],
    "004_2b059f08c0a5d038": [
        "IMEMO RAS",
        "NC Kazakhstan Temir Zholy JSC",
        "KTZ Express JSC",
        "China Railway Container Transport Co., Ltd.",
        "CRCT",
        "Mangistaumunaigas",
        "Atameken party",
    ],
}


def _labels(graph) -> set[str]:
    return {str(o) for p in (RDFS.label, SKOS.altLabel) for o in graph.objects(None, p)}


@pytest.mark.parametrize("stem", sorted(NAMED_ORGANISATIONS))
def test_every_named_organisation_is_in_its_source_graph(dataset, seed_texts, stem):
    labels = _labels(dataset.graph(GRAPH[stem]))
    for name in NAMED_ORGANISATIONS[stem]:
        assert name in seed_texts[stem], f"{name!r} is not in {stem}.txt"
        assert name in labels, f"{name!r} from {stem}.txt has no entity in its graph"


def test_one_entity_keeps_both_names_from_two_articles(union):
    cscec = entity("company", "china-state-construction-engineering")
    names = {str(o) for o in union.objects(cscec, RDFS.label)}
    assert names == {
        "China Construction Engineering Corporation",  # 002
        "China State Construction Engineering Corporation",  # 003
    }


def test_entities_named_in_two_articles_are_cited_by_both(dataset):
    tokayev = entity("person", "kassym-jomart-tokayev")
    summit = entity("event", "central-asia-china-summit-2")
    for node, stems in [
        (tokayev, {"003_497b471c4106a90e", "004_2b059f08c0a5d038"}),
        (summit, {"001_eb158449043a4115", "004_2b059f08c0a5d038"}),
        (entity("company", "huawei"), {"002_97890c3330489398", "003_497b471c4106a90e"}),
    ]:
        cited = {s for s in SEED_GRAPHS if (node, None, None) in dataset.graph(GRAPH[s])}
        assert stems <= cited


def test_similar_names_stay_apart(union):
    for a, b in [("energy-china-group", "china-energy"), ("citic", "citic-construction")]:
        assert entity("company", a) != entity("company", b)
        assert (entity("company", a), RDF.type, KZ.Company) in union
        assert (entity("company", b), RDF.type, KZ.Company) in union
        assert not set(union.objects(entity("company", a), RDFS.label)) & set(
            union.objects(entity("company", b), RDFS.label)
        )


def test_tenge_and_dollars_are_never_mixed_in_a_sum(dataset):
    # The two West Kazakhstan projects are stated in tenge, the Astana-forum ones in dollars.
    rows = dataset.query(
        """SELECT ?cur (SUM(?v) AS ?total) WHERE {
               ?p kz:amount [ kz:measure measure:investment ; kz:value ?v ; kz:currency ?cur ] .
           } GROUP BY ?cur""",
        initNs={"kz": KZ, "measure": URIRef("https://w3id.org/kzgraph/vocab/measure/")},
    )
    currencies = {str(c).rsplit("/", 1)[-1] for c, _ in rows}
    assert currencies == {"USD", "KZT"}


def test_west_kazakhstan_commodity_flows_fit_inside_their_totals(union, seed_texts):
    # "Exports grew by 50%, totaling $1.8 million." / "Imports amounted to $86.6 million"
    for direction, total_pattern in [
        ("exports", r"totaling \$[\d.]+ million"),
        ("imports", r"Imports amounted to \$[\d.]+ million"),
    ]:
        whole = entity("flow", f"west-kazakhstan-china-2024-{direction}")
        total = article_figure(seed_texts, "000_096687169d175def", total_pattern)
        stored = Decimal(str(union.value(union.value(whole, KZ.amount), KZ.value)))
        assert stored == total
        parts = [
            Decimal(str(union.value(union.value(part, KZ.amount), KZ.value)))
            for part in union.subjects(KZ.partOfFlow, whole)
        ]
        assert parts and sum(parts) <= total


def test_literals_are_well_formed(union):
    bad = [o for o in union.objects() if isinstance(o, Literal) and o.datatype and o.ill_typed]
    assert not bad
