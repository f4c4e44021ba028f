"""Random property paths over random small graphs, for the rewriting's differential tests.

Five nodes and three predicates (and ``rdf:type``) give cycles, diamonds, self-loops and two
predicates between one pair often; the query shapes put a path where Virtuoso has been seen to
go wrong: UNION branches, (NOT) EXISTS, OPTIONAL, GROUP BY, a triple after the path, BASE.
"""

from __future__ import annotations

from hypothesis import strategies as st

E = "http://e/"
RDF_TYPE = "<http://www.w3.org/1999/02/22-rdf-syntax-ns#type>"
PREDICATES = [f"<{E}p{i}>" for i in range(3)]
NODES = [f"<{E}n{i}>" for i in range(5)]

step = st.sampled_from([*PREDICATES, "a"])
alternative = st.lists(step, min_size=2, max_size=3).map("|".join)  # p|p included
sequence = st.lists(st.one_of(step, alternative.map(lambda a: f"({a})")), min_size=2, max_size=3)
star_end = st.tuples(step, st.sampled_from(PREDICATES)).map(lambda t: f"{t[0]}/{t[1]}*")
star_alone = st.sampled_from(PREDICATES).map(lambda p: f"{p}*")
paths = st.one_of(alternative, sequence.map("/".join), star_end, star_alone)
objects = st.one_of(st.just("?o"), st.sampled_from(NODES))
SHAPES = [
    "SELECT ?s ?o WHERE {{ ?s {p} {o} }}",
    "SELECT ?s WHERE {{ ?s {p0} ?m . FILTER EXISTS {{ ?s {p} {o} }} }}",
    "SELECT ?s WHERE {{ ?s {p0} ?m . FILTER NOT EXISTS {{ ?s {p} {o} }} }}",
    "SELECT ?s (COUNT(*) AS ?n) WHERE {{ ?s {p} {o} }} GROUP BY ?s",
    "SELECT ?s ?o WHERE {{ {{ ?s {p0} ?o }} UNION {{ ?s {p} {o} }} }}",
    "SELECT (COUNT(*) AS ?n) WHERE {{ {{ ?s {p} {o} }} UNION {{ ?s {p} {o2} }} }}",
    "SELECT ?s ?x WHERE {{ ?s {p0} ?x OPTIONAL {{ ?s {p} {o} }} }}",
    "SELECT ?s ?n WHERE {{ ?s {p} {o} . {o} {p0} ?n }}",
    "SELECT ?s ?n WHERE {{ ?q {p0} ?n . ?s {p} {o} . ?n {p0} ?z }}",
    "SELECT ?o WHERE {{ ?s {p0} ?m ; {p} {o} , ?m }}",
    "BASE <http://e/> SELECT ?s ?o WHERE {{ ?s {p} {o} }}",
]
shapes = st.sampled_from(SHAPES)
edges = st.lists(
    st.tuples(st.sampled_from(NODES), st.sampled_from([*PREDICATES, "a"]), st.sampled_from(NODES)),
    min_size=1,
    max_size=20,
)


def query(shape: str, p: str, o: str, o2: str) -> str:
    """A generated query's text."""
    return shape.format(p=p, o=o, o2=o2, p0=PREDICATES[0])


def ntriples(found: list[tuple[str, str, str]]) -> str:
    """The generated edges as triples for INSERT DATA."""
    return " ".join(f"{s} {RDF_TYPE if v == 'a' else v} {t} ." for s, v, t in found)
