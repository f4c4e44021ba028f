"""The documentation site: pyLODE's ontology page, and the pages pyLODE lacks.

``kzgraph docs`` writes ``site/``: ``ontology/index.html`` (pyLODE), ``index.html`` (overview),
``classes.html`` (every class with its definition, super- and subclasses, the properties whose
domain it is, the SHACL constraints that apply, the number of instances and an example),
``properties.html``, ``schemes.html`` (the SKOS schemes as trees), ``queries.html`` (the saved
queries), ``model.svg`` (the class hierarchy) and ``changelog.html``.

Only the ontology, the shapes and the queries are read from files (they are small); what the
data adds, each class's number of instances and an example, is asked of the store the site is
for with two SPARQL queries (:func:`class_facts`), so a store of millions of quads costs the
site no more than a store of thousands.
"""

from __future__ import annotations

import html
import re
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from jinja2 import Environment, FileSystemLoader, select_autoescape
from rdflib import BNode, Graph, URIRef
from rdflib.namespace import OWL, RDF, RDFS, SH, SKOS

from kzgraph.core.namespaces import KZ, ONTOLOGY_GRAPH, ONTOLOGY_IRI, curie
from kzgraph.core.settings import Settings
from kzgraph.graph.loading import load, load_shapes, new_dataset, ontology_files, parse_file
from kzgraph.queries.catalogue import load_catalogue

TEMPLATES = Path(__file__).parent / "templates"


class Queryable(Protocol):
    """A store the site's figures are asked of (embedded, on disk or remote)."""

    def query(self, sparql: str) -> Any:
        """The answer, with ``rows`` of rdflib terms (kzgraph's QueryResult)."""


@dataclass(frozen=True)
class ClassFacts:
    """What the data says about one class: instances (blank nodes too) and an example."""

    count: int
    example: URIRef | None = None
    example_label: str = ""
    #: instances of the class or of any of its subclasses (a Project page counts energy projects)
    total: int = 0


#: Instances per kzgraph class, over the default graph (the merge of every graph).
CLASS_COUNTS = f"""SELECT ?c (COUNT(DISTINCT ?s) AS ?n) WHERE {{
  ?s a ?c FILTER(STRSTARTS(STR(?c), "{KZ}"))
}} GROUP BY ?c"""

#: The first IRI instance of each class (in code-point order) and its labels.
CLASS_TOTALS = f"""SELECT ?c (COUNT(DISTINCT ?s) AS ?n) WHERE {{
  {{ SELECT DISTINCT ?d WHERE {{ ?x a ?d }} }}
  ?d <{RDFS.subClassOf}>* ?c FILTER(STRSTARTS(STR(?c), "{KZ}"))
  ?s a ?d
}} GROUP BY ?c"""

CLASS_EXAMPLES = f"""SELECT ?c ?s ?label WHERE {{
  {{ SELECT ?c (MIN(STR(?i)) AS ?first) WHERE {{
      ?i a ?c FILTER(isIRI(?i) && STRSTARTS(STR(?c), "{KZ}")) }} GROUP BY ?c }}
  BIND(IRI(?first) AS ?s)
  OPTIONAL {{ ?s <{RDFS.label}> ?label }}
}}"""


def class_facts(store: Queryable) -> dict[URIRef, ClassFacts]:
    """Each kzgraph class's number of instances and first IRI instance, asked of ``store``."""
    counts = {URIRef(str(c)): int(str(n)) for c, n in store.query(CLASS_COUNTS).rows}
    totals = {URIRef(str(c)): int(str(n)) for c, n in store.query(CLASS_TOTALS).rows}
    examples: dict[URIRef, URIRef] = {}
    labels: dict[URIRef, str] = {}
    for c, s, label in store.query(CLASS_EXAMPLES).rows:
        cls = URIRef(str(c))
        examples[cls] = URIRef(str(s))
        if label is not None and getattr(label, "language", None) in (None, "en"):
            labels[cls] = min(labels.get(cls, str(label)), str(label))  # one, the same each time
    return {
        c: ClassFacts(counts.get(c, 0), examples.get(c), labels.get(c, ""), totals.get(c, 0))
        for c in sorted(set(counts) | set(totals))
    }


def ontology_graph(settings: Settings) -> Graph:
    """The ontology alone, parsed from its files."""
    ds = new_dataset()
    for path in ontology_files(settings):
        parse_file(path, ds, ONTOLOGY_GRAPH)
    return ds.graph(ONTOLOGY_GRAPH)


def _text(g: Graph, term: Any, predicate: URIRef) -> str:
    for value in g.objects(term, predicate):
        if getattr(value, "language", None) in (None, "en"):
            return str(value)
    return ""


def _constraints(shapes: Graph, cls: URIRef) -> list[dict[str, str]]:
    """The SHACL constraints that target ``cls``: path and the message a violation gives."""
    rows = []
    for shape in shapes.subjects(SH.targetClass, cls):
        for ps in shapes.objects(shape, SH.property):
            rows.append(
                {
                    "shape": curie(shape),
                    "path": curie(shapes.value(ps, SH.path)),
                    "message": str(shapes.value(ps, SH.message) or ""),
                }
            )
        if shapes.value(shape, SH.message):
            rows.append(
                {
                    "shape": curie(shape),
                    "path": "(node)",
                    "message": str(shapes.value(shape, SH.message)),
                }
            )
        for sparql in shapes.objects(shape, SH.sparql):
            rows.append(
                {
                    "shape": curie(shape),
                    "path": "(SPARQL)",
                    "message": str(shapes.value(sparql, SH.message)),
                }
            )
    return rows


def _classes(
    facts: dict[URIRef, ClassFacts], ontology: Graph, shapes: Graph
) -> list[dict[str, Any]]:
    domains: dict[Any, list[str]] = defaultdict(list)
    for prop, cls in ontology.subject_objects(RDFS.domain):
        domains[cls].append(curie(prop))
    out = []
    for cls in sorted(ontology.subjects(RDF.type, OWL.Class), key=str):
        if not str(cls).startswith(str(KZ)):
            continue
        found = facts.get(URIRef(str(cls)), ClassFacts(0))
        out.append(
            {
                "id": curie(cls).split(":", 1)[1],
                "curie": curie(cls),
                "label": _text(ontology, cls, RDFS.label),
                "definition": _text(ontology, cls, SKOS.definition),
                "supers": [
                    curie(o)
                    for o in ontology.objects(cls, RDFS.subClassOf)
                    if not isinstance(o, BNode)
                ],
                "subs": [curie(s) for s in ontology.subjects(RDFS.subClassOf, cls)],
                "equivalent": [curie(o) for o in ontology.objects(cls, OWL.equivalentClass)],
                "properties": sorted(domains.get(cls, [])),
                "constraints": _constraints(shapes, URIRef(str(cls))),
                "count": found.count,
                "total": found.total,
                "example": found.example,
                "example_label": found.example_label,
            }
        )
    return out


def _properties(ontology: Graph) -> list[dict[str, Any]]:
    out = []
    for kind in (OWL.ObjectProperty, OWL.DatatypeProperty):
        for prop in sorted(ontology.subjects(RDF.type, kind), key=str):
            if str(prop).startswith(str(KZ)):
                out.append(
                    {
                        "curie": curie(prop),
                        "id": curie(prop).split(":", 1)[1],
                        "label": _text(ontology, prop, RDFS.label),
                        "definition": _text(ontology, prop, SKOS.definition),
                        "kind": "object" if kind == OWL.ObjectProperty else "datatype",
                        "domain": [curie(d) for d in ontology.objects(prop, RDFS.domain)],
                        "range": [curie(r) for r in ontology.objects(prop, RDFS.range)],
                        "supers": [curie(s) for s in ontology.objects(prop, RDFS.subPropertyOf)],
                    }
                )
    return out


def _schemes(ontology: Graph) -> list[dict[str, Any]]:
    def tree(concept: Any) -> dict[str, Any]:
        children = sorted(ontology.subjects(SKOS.broader, concept), key=str)
        return {
            "curie": curie(concept),
            "label": _text(ontology, concept, SKOS.prefLabel),
            "definition": _text(ontology, concept, SKOS.definition),
            "isic": str(ontology.value(concept, KZ.isicRev4) or ""),
            "children": [tree(c) for c in children],
        }

    out = []
    for scheme in sorted(ontology.subjects(RDF.type, SKOS.ConceptScheme), key=str):
        members = set(ontology.subjects(SKOS.inScheme, scheme))
        tops = sorted((m for m in members if ontology.value(m, SKOS.broader) is None), key=str)
        out.append(
            {
                "label": _text(ontology, scheme, SKOS.prefLabel),
                "curie": curie(scheme),
                "definition": _text(ontology, scheme, SKOS.definition),
                "tops": [tree(t) for t in tops],
                "size": len(members),
            }
        )
    return out


def _model_svg(ontology: Graph, output: Path) -> None:
    """The class hierarchy as a picture (subclass edges), drawn with networkx and matplotlib."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import networkx as nx

    g = nx.DiGraph()
    for cls in ontology.subjects(RDF.type, OWL.Class):
        if str(cls).startswith(str(KZ)):
            g.add_node(curie(cls))
            for sup in ontology.objects(cls, RDFS.subClassOf):
                if str(sup).startswith(str(KZ)):
                    g.add_edge(curie(sup), curie(cls))
    roots = [n for n in g if g.in_degree(n) == 0]
    layers: dict[str, int] = {}
    for root in roots:
        for node, depth in nx.single_source_shortest_path_length(g, root).items():
            layers[node] = max(layers.get(node, 0), depth)
    ordered = nx.DiGraph()  # depth-first order keeps siblings together and crossings few
    for root in sorted(roots, key=lambda r: (-len(nx.descendants(g, r)), r)):
        for node in nx.dfs_preorder_nodes(g, root, sort_neighbors=sorted):
            ordered.add_node(node, layer=layers[node])
    ordered.add_edges_from(g.edges)
    g = ordered
    rows: dict[int, int] = defaultdict(int)
    pos = {}
    for node, data in g.nodes(data=True):
        pos[node] = (data["layer"] * 3.0, -rows[data["layer"]])
        rows[data["layer"]] += 1
    fig, ax = plt.subplots(figsize=(13, 15))
    nx.draw_networkx_edges(g, pos, ax=ax, arrows=True, alpha=0.4, arrowstyle="-|>", arrowsize=8)
    nx.draw_networkx_labels(
        g,
        pos,
        ax=ax,
        font_size=7,
        bbox={"boxstyle": "round", "fc": "#e8f1f5", "ec": "#0b4f6c", "lw": 0.6},
    )
    ax.set_title("kzgraph classes: superclasses on the left, arrows to their subclasses")
    ax.axis("off")
    fig.tight_layout()
    fig.savefig(output)
    plt.close(fig)


def _pylode_ontpub() -> Any:
    """The page writer of pyLODE, imported without letting pyLODE reconfigure logging.

    Importing pyLODE 3.3 runs ``logging.basicConfig(level=DEBUG)`` on the root logger, after
    which every library logs at debug level: ``kzgraph docs`` printed 227 lines of matplotlib's
    font search, and a server's log would fill the same way. The root logger is put back as it
    was.
    """
    import logging

    root = logging.getLogger()
    level, handlers = root.level, list(root.handlers)
    try:
        from pylode import OntPub
    finally:
        root.setLevel(level)
        root.handlers[:] = handlers
    return OntPub


def build_site(
    settings: Settings,
    output: Path,
    facts: dict[URIRef, ClassFacts] | None = None,
) -> list[Path]:
    """Write the whole site into ``output``; returns the files written.

    ``facts``: each class's figures, asked of the store the site is for (a server's); without
    them the project's files are read into an embedded store and asked.
    """
    # Long on purpose (66 lines): the site's pages written one after the other; each is a template
    # and its context.
    OntPub = _pylode_ontpub()
    output.mkdir(parents=True, exist_ok=True)
    (output / "ontology").mkdir(exist_ok=True)
    if facts is None:
        from kzgraph.store.engines import OxigraphStore

        store = OxigraphStore()
        store.load_dataset(load(settings))
        facts = class_facts(store)
    ontology = ontology_graph(settings)
    shapes = load_shapes(settings)
    env = Environment(loader=FileSystemLoader(TEMPLATES), autoescape=select_autoescape(["html"]))
    env.filters["curie"] = curie
    written = []

    lode = output / "ontology" / "index.html"
    lode.write_text(
        OntPub(ontology=str(settings.ontology_dir / "kzgraph.ttl")).make_html(), encoding="utf-8"
    )
    written.append(lode)
    _model_svg(ontology, output / "model.svg")
    written.append(output / "model.svg")

    changelog_path = settings.root / "CHANGELOG.md"
    changelog = changelog_path.read_text(encoding="utf-8") if changelog_path.exists() else ""
    try:
        import markdown

        changelog_html = markdown.markdown(changelog)
    except ImportError:  # pragma: no cover - markdown is a dependency; plain text as a fallback
        changelog_html = f"<pre>{html.escape(changelog)}</pre>"
    context = {
        "title": str(
            ontology.value(ONTOLOGY_IRI, URIRef("http://purl.org/dc/terms/title")) or "kzgraph"
        ),
        "version": str(ontology.value(ONTOLOGY_IRI, OWL.versionInfo) or ""),
        "description": str(
            ontology.value(ONTOLOGY_IRI, URIRef("http://purl.org/dc/terms/description")) or ""
        ),
        "classes": _classes(facts, ontology, shapes),
        "properties": _properties(ontology),
        "schemes": _schemes(ontology),
        "queries": list(load_catalogue(settings).values()),
        "changelog": changelog_html,
    }
    guides = [_guide(path) for path in guide_files(settings)]
    context["guides"] = guides
    for page in ("index", "classes", "properties", "schemes", "queries", "changelog", "guides"):
        path = output / f"{page}.html"
        path.write_text(env.get_template(f"{page}.html").render(**context), encoding="utf-8")
        written.append(path)
    for guide in guides:
        path = output / guide.page
        path.write_text(env.get_template("guide.html").render(guide=guide, **context), "utf-8")
        written.append(path)
    return written


def guide_files(settings: Settings) -> list[Path]:
    """The guides the site shows: one per user group, and the worked example of extending."""
    folder = settings.root / "docs"
    return [*sorted((folder / "guides").glob("*.md")), *sorted(folder.glob("*.md"))]


@dataclass
class Guide:
    """A guide as a page of the site: its file name there, its title and its body."""

    page: str
    title: str
    body: str


#: Links between the Markdown files, pointed at their pages on the site.
_GUIDE_LINK = re.compile(r'href="(?:\.\./)*(?:docs/)?(?:guides/)?([A-Za-z-]+)\.md(#[^"]*)?"')


def _guide(path: Path) -> Guide:
    """A guide's Markdown as HTML; its links to the other guides and the README follow the site.

    The figures in it are the data's: the Markdown's marked figures are written by ``kzgraph
    docs --figures`` and checked by the tests, so the page shows the file as it is.
    """
    import markdown

    text = path.read_text(encoding="utf-8")
    title = next((line[2:] for line in text.split("\n") if line.startswith("# ")), path.stem)
    body = markdown.markdown(text, extensions=["tables", "fenced_code"])

    def link(match: re.Match[str]) -> str:
        name = match[1]
        target = "index.html" if name.lower() == "readme" else f"guide-{name}.html"
        return f'href="{target}{match[2] or ""}"'

    body = _GUIDE_LINK.sub(link, body)
    # a link to a file of the checkout (a mapping, a module) has no page here: its text stays
    body = re.sub(r'<a href="(?:\.\./)+(?!README)[^"]*">(.*?)</a>', r"\1", body)
    return Guide(f"guide-{path.stem}.html", title, body)
