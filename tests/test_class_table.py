"""Tables over any class: columns from the shapes, rows from the data, sums by the graph's rules."""

from __future__ import annotations

import csv
import io
import json
from decimal import Decimal
from pathlib import Path

import httpx
import pytest
from click.testing import CliRunner
from openpyxl import load_workbook
from rdflib import URIRef
from rdflib.namespace import SH

from kzgraph.cli import main
from kzgraph.queries import class_table
from kzgraph.queries.running import label_map, run_saved

from .conftest import article_figure
from .server_process import Server

KZ = "https://w3id.org/kzgraph/ontology#"


@pytest.fixture(scope="module")
def schema(stores, shapes) -> class_table.Schema:
    store = stores["oxigraph"]
    return class_table.Schema.read(store, shapes, label_map(store))


def cells(table: class_table.Table, column: str) -> list[list[class_table.Cell]]:
    i = table.columns.index(column)
    return [row[i] for row in table.rows]


def test_a_class_offers_every_path_its_shapes_declare(schema, shapes):
    offered = {(c.iri, c.inverse) for c in schema.columns_of(KZ + "Project")}
    shape = next(shapes.subjects(SH.targetClass, URIRef(KZ + "Project")))
    declared = {
        (str(shapes.value(p, SH.path)), False)
        for p in shapes.objects(shape, SH.property)
        if isinstance(shapes.value(p, SH.path), URIRef)
    }
    assert declared and declared <= offered


def test_one_row_per_instance_with_every_value(schema, stores):
    table = class_table.build(schema, class_table.Request("Project", ["region", "investor"]))
    count = (
        stores["oxigraph"]
        .query("SELECT (COUNT(DISTINCT ?p) AS ?n) WHERE { ?p a/rdfs:subClassOf* kz:Project }")
        .rows[0][0]
    )
    assert len(table.rows) == int(count)
    investors = {
        (str(p), str(f))
        for p, f in stores["oxigraph"]
        .query("SELECT ?p ?f WHERE { ?p a/rdfs:subClassOf* kz:Project ; kz:investor ?f }")
        .rows
    }
    shown = {
        (entity[0].iri, v.iri)
        for entity, firms in zip(cells(table, "entity"), cells(table, "investor"), strict=True)
        for v in firms
    }
    assert shown == investors


def test_where_takes_a_label_a_curie_or_an_iri(schema):
    def rows(value: str) -> list[str]:
        request = class_table.Request("Project", ["region"], [("region", value)])
        return [c[0].iri for c in cells(class_table.build(schema, request), "entity")]

    by_label = rows("Atyrau Region")
    assert by_label
    assert by_label == rows("region:atyrau") == rows("https://w3id.org/kzgraph/id/region/atyrau")


def test_sums_per_region_agree_with_the_saved_totals(schema, run):
    table = class_table.build(
        schema, class_table.Request("Project", [], group_by=["region"], sum="amount")
    )
    measure = "https://w3id.org/kzgraph/vocab/measure/investment"
    ours = {
        (row[0][0].text, row[1][0].text): row[3][0].value if row[3] else Decimal(0)
        for row in table.rows
        if row[2][0].iri == measure and row[0][0].text != "(none stated)"
    }
    saved = {
        (schema.labels[str(r["region"])], r["currency"]): Decimal(str(r["firmTotal"]))
        for r in run("investment-total-by-region")
    }
    assert ours == saved


def test_hedged_and_tranche_figures_are_listed_never_added(schema, seed_texts):
    agreements = class_table.build(schema, class_table.Request("Agreement", [], sum="amount"))
    hedged = [c.text for row in agreements.rows for c in row[-3]]
    assert any("over $24 billion" in h for h in hedged)
    assert any("over $24 billion" in t for t in seed_texts.values())  # the article's hedge
    assert all(not row[2] for row in agreements.rows if any("$24" in c.text for c in row[-3]))

    west = class_table.build(
        schema,
        class_table.Request(
            "Project", [], [("region", "West Kazakhstan Region")], ["region"], "amount"
        ),
    )
    kzt = {row[2][0].text: row for row in west.rows if row[1][0].text == "KZT"}
    expected = article_figure(
        seed_texts, "000_096687169d175def", r"worth 447 billion tenge"
    ) + article_figure(seed_texts, "000_096687169d175def", r"stands at 78\.8 billion tenge")
    assert kzt["investment"][3][0].value == expected
    (tranche,) = kzt["further investment tranche"][-1]
    assert "Another 53 billion tenge" in tranche.text
    assert not kzt["further investment tranche"][3]  # nothing added


def test_unknown_names_are_refused_with_the_nearest(schema):
    with pytest.raises(class_table.TableError, match="did you mean 'region'"):
        class_table.build(schema, class_table.Request("Project", ["regoin"]))
    with pytest.raises(class_table.TableError, match="did you mean 'project'"):
        class_table.build(schema, class_table.Request("Projekt", []))
    with pytest.raises(class_table.TableError, match="COLUMN=VALUE"):
        class_table.Request.parse_where(["region"])


def test_a_saved_query_as_a_table_never_adds_across_currencies(stores):
    store = stores["oxigraph"]
    labels = {str(k): v for k, v in label_map(store).items()}
    result = run_saved("investment-total-by-region", {}, store=store)
    table = class_table.from_result(result, labels, sum_column="firmTotal")
    assert table.columns[0] == "currency"
    per = {row[0][0].text: row[1][0].value for row in table.rows}
    for currency, value in per.items():
        assert value == sum(
            Decimal(str(r["firmTotal"].toPython()))
            for r in result.dicts()
            if str(r["currency"]) == currency
        )


def test_cli_table_formats(tmp_path: Path):
    runner = CliRunner()
    out = runner.invoke(main, ["table", "Project", "-c", "region,amount", "--format", "csv"])
    assert out.exit_code == 0, out.output
    rows = list(csv.reader(io.StringIO(out.output)))
    assert rows[0] == ["entity", "region", "amount"]
    assert any(r[2] == "$7.4 billion in investments" for r in rows[1:])
    xlsx = tmp_path / "t.xlsx"
    done = runner.invoke(
        main,
        [
            "table",
            "Project",
            "-g",
            "region",
            "--sum",
            "amount",
            "--format",
            "xlsx",
            "-o",
            str(xlsx),
        ],
    )
    assert done.exit_code == 0, done.output
    sheet = load_workbook(xlsx)["table"]
    assert [c.value for c in sheet[1]][:4] == ["region", "unit", "measure", "total"]
    assert any(isinstance(r[3].value, (int, float)) for r in sheet.iter_rows(min_row=2))
    listed = runner.invoke(main, ["table", "Company", "--list-columns"])
    assert "headquartersCountry" in listed.output and "declared by kzsh:" in listed.output
    bad = runner.invoke(main, ["table", "Project", "-c", "regoin"])
    assert bad.exit_code == 2 and "did you mean 'region'" in bad.output
    assert "Traceback" not in bad.output


@pytest.fixture(scope="module")
def server():
    s = Server("--workers", "1")
    yield s
    s.stop()


def test_api_table(server):
    with httpx.Client(base_url=server.url, timeout=60) as c:
        r = c.get("/api/table", params={"class": "Company", "columns": "headquartersCountry"})
        assert r.status_code == 200, r.text
        body = r.json()
        assert body["columns"] == ["entity", "headquartersCountry"]
        sinopec = [x for x in body["rows"] if x["entity"][0]["label"] == "Sinopec"]
        assert sinopec[0]["headquartersCountry"][0]["iri"].endswith("/country/CN")
        summed = c.get(
            "/api/table",
            params={"class": "Project", "group-by": "region", "sum": "amount", "format": "csv"},
        )
        assert summed.status_code == 200 and summed.text.startswith("region,unit,measure,total")
        xlsx = c.get("/api/table", params={"class": "Project", "format": "xlsx"})
        assert load_workbook(io.BytesIO(xlsx.content))["table"].max_row > 1
        saved = c.get(
            "/api/table",
            params={"query": "investments-by-firm", "firm": "company:tbea", "format": "json"},
        )
        assert saved.status_code == 200, saved.text
        assert json.loads(saved.text)["rows"]
        bad = c.get("/api/table", params={"class": "Projekt"})
        assert bad.status_code == 400 and "did you mean 'project'" in bad.text


def test_api_saved_query_says_no_such_entity(server):
    with httpx.Client(base_url=server.url, timeout=60) as c:
        typo = c.get("/api/queries/investments-by-firm", params={"firm": "company:tbae"})
        assert typo.status_code == 400 and "no such entity" in typo.text
        by_name = c.get(
            "/api/queries/investments-by-firm", params={"firm": "TBEA", "format": "csv"}
        )
        by_iri = c.get(
            "/api/queries/investments-by-firm", params={"firm": "company:tbea", "format": "csv"}
        )
        assert by_name.status_code == 200 and by_name.text == by_iri.text


def test_saved_query_text_for_the_editor_is_bound(server, stores):
    with httpx.Client(base_url=server.url, timeout=60) as c:
        example = c.get("/api/queries/place-profile/text")
        assert example.status_code == 200
        assert "an example" in example.text and "VALUES" in example.text
        chosen = c.get("/api/queries/place-profile/text", params={"place": "Atyrau Region"})
        assert "region/atyrau" in chosen.text and "an example" not in chosen.text
        accept = {"Accept": "application/sparql-results+json"}
        direct = c.get(
            "/api/queries/place-profile", params={"place": "region:atyrau"}, headers=accept
        ).json()["results"]["bindings"]
        via_editor = c.post("/sparql", data={"query": chosen.text}, headers=accept)
        assert via_editor.status_code == 200, via_editor.text
        assert len(via_editor.json()["results"]["bindings"]) == len(direct) > 0
        # the place form offers every region of Kazakhstan, not only those articles link to
        params = c.get("/api/queries/investments-in-region/parameters").json()
        region = next(p for p in params if p["name"] == "region")
        count = stores["oxigraph"].query("SELECT (COUNT(*) AS ?n) WHERE { ?r a kz:Region }")
        assert len(region["choices"]) == int(count.rows[0][0])


def test_shape_iris_dereference(server, shapes):
    from rdflib import Graph
    from rdflib.namespace import RDF as RDF_

    from kzgraph.core.namespaces import KZSH
    from kzgraph.endpoint.routes.shapes_pages import shape_graph

    with httpx.Client(base_url=server.url, timeout=60) as c:
        html = c.get("/shapes/ProjectShape", headers={"Accept": "text/html"})
        assert html.status_code == 200 and "kz:region" in html.text and "Project" in html.text
        turtle = c.get("/shapes/ProjectShape", headers={"Accept": "text/turtle"})
        got = Graph().parse(data=turtle.text, format="turtle")
        want = shape_graph(shapes, URIRef(str(KZSH) + "ProjectShape"))
        assert len(got) == len(want) > 0
        assert (URIRef(str(KZSH) + "ProjectShape"), SH.targetClass, URIRef(KZ + "Project")) in got
        moved = c.get("/resolve", params={"iri": "kzsh:ProjectShape"}, follow_redirects=False)
        assert moved.status_code == 303 and moved.headers["location"] == "/shapes/ProjectShape"
        listing = c.get("/shapes", headers={"Accept": "text/html"}).text
        for shape in shapes.subjects(RDF_.type, SH.NodeShape):
            if str(shape).startswith(str(KZSH)):
                assert f'href="/shapes/{str(shape)[len(str(KZSH)) :]}"' in listing
        assert c.get("/shapes/NoSuchShape", headers={"Accept": "text/html"}).status_code == 404


def test_the_builder_config_follows_the_ontology_and_the_data(stores, shapes, tmp_path):
    from rdflib import Literal
    from rdflib.namespace import RDFS as RDFS_

    from kzgraph.queries.builder_config import EXPLORE, config
    from kzgraph.store.engines import OxigraphStore

    store = stores["oxigraph"]
    got = config(store, shapes, label_map(store))
    targets = {str(t) for t in got.objects(None, SH.targetClass)}
    with_instances = {
        str(c)
        for (c,) in store.query(
            "SELECT DISTINCT ?c WHERE { ?s a/rdfs:subClassOf* ?c FILTER(STRSTARTS(STR(?c), STR(kz:))) }"
        ).rows
    }
    assert with_instances <= targets
    names = {str(o) for o in got.objects(EXPLORE["Project-investor"], SH.name)}
    assert names == {"investor"}
    # and backwards, once, from the class the investors share to the widest class of projects
    back = [s for s in got.subjects(SH.node, EXPLORE["Project"]) if str(s).endswith("-investor-of")]
    assert len(back) == 1
    # a class added to the ontology, once it has data, appears with no hand editing
    copy = OxigraphStore()
    copy.store.load(store.nquads(), format=__import__("pyoxigraph").RdfFormat.N_QUADS)
    copy.store.update(
        "INSERT DATA { GRAPH <urn:test:g> { <https://w3id.org/kzgraph/ontology#Port> a "
        "<http://www.w3.org/2002/07/owl#Class> ; <http://www.w3.org/2000/01/rdf-schema#label> "
        '"Port"@en . <urn:test:aktau> a <https://w3id.org/kzgraph/ontology#Port> } }'
    )
    copy.refresh_union()
    grown = config(copy, shapes, label_map(copy))
    assert (EXPLORE["Port"], RDFS_.label, Literal("Port", lang="en")) in grown
