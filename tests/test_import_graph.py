"""The package's imports form no circle, function-level imports included.

A circle means two modules that cannot be read, tested or moved one without the other; the data
flow (sources → graph → validation → store → queries → endpoint / network / docs) runs one way.
Read from the source with ``ast``, so an import inside a function counts as much as one at the top.
"""

from __future__ import annotations

import ast
from pathlib import Path

SRC = Path(__file__).resolve().parent.parent / "src"


def module_imports() -> dict[str, set[str]]:
    """Each kzgraph module and the kzgraph modules it imports, anywhere in its text."""
    modules = {}
    for path in SRC.rglob("*.py"):
        name = ".".join(path.relative_to(SRC).with_suffix("").parts)
        modules[name.removesuffix(".__init__")] = path
    edges: dict[str, set[str]] = {name: set() for name in modules}
    for name, path in modules.items():
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                for alias in node.names:
                    target = f"{node.module}.{alias.name}"
                    if target in modules:
                        edges[name].add(target)
                    elif node.module in modules:
                        edges[name].add(node.module)
            elif isinstance(node, ast.Import):
                edges[name].update(a.name for a in node.names if a.name in modules)
    return edges


def circles(edges: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected groups of more than one module (Tarjan), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(edges[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            group = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                group.append(w)
                if w == v:
                    break
            if len(group) > 1:
                found.append(sorted(group))

    for v in sorted(edges):
        if v not in index:
            visit(v)
    return found


def test_the_checker_finds_a_circle():
    assert circles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert circles({"a": {"b"}, "b": set()}) == []


def test_no_module_imports_itself_back_through_others():
    edges = module_imports()
    assert edges.get("kzgraph.endpoint.serving.app")  # the walk sees imports
    assert circles(edges) == []


#: The stages, lowest first: a module may import its own stage and those above it in this list,
#: never one below. The order is the data flow: shared basics, the graph as files, its sources,
#: the store, the rules, curation (which runs the rules), remote stores, queries, and what is
#: built on queries; then the endpoint (itself layered) and the command line over everything.
LAYERS = [
    "kzgraph.core",
    "kzgraph.graph",
    "kzgraph.sources",
    "kzgraph.store",
    "kzgraph.validation",
    "kzgraph.curation",
    "kzgraph.remote",
    "kzgraph.queries",
    "kzgraph.network",
    "kzgraph.docs",
    "kzgraph.endpoint.config",
    "kzgraph.endpoint.execution",
    "kzgraph.endpoint.http",
    "kzgraph.endpoint.safety",
    "kzgraph.endpoint.routes",
    "kzgraph.endpoint.serving",
    "kzgraph.cli",
]
#: Modules outside every stage: the public API, ``python -m kzgraph`` and a package marker.
OUTSIDE = {"kzgraph", "kzgraph.__main__", "kzgraph.endpoint"}


def layer_of(module: str) -> int | None:
    """The index of the stage holding ``module`` (the longest matching name), or None."""
    best = None
    for i, layer in enumerate(LAYERS):
        if module == layer or module.startswith(layer + "."):
            if best is None or len(layer) > len(LAYERS[best]):
                best = i
    return best


def upward_imports(edges: dict[str, set[str]]) -> list[str]:
    """Every import from a stage to a later one, as 'importer -> imported'."""
    found = []
    for source, targets in edges.items():
        here = layer_of(source)
        for target in targets:
            there = layer_of(target)
            if here is not None and there is not None and there > here:
                found.append(f"{source} -> {target}")
    return sorted(found)


def test_the_layer_check_finds_an_import_that_runs_back_up():
    edges = {"kzgraph.store.engines": {"kzgraph.endpoint.execution.workers", "kzgraph.core.errors"}}
    assert upward_imports(edges) == ["kzgraph.store.engines -> kzgraph.endpoint.execution.workers"]
    assert layer_of("kzgraph.endpoint.config") == LAYERS.index("kzgraph.endpoint.config")


def test_every_module_sits_in_a_stage():
    loose = sorted(m for m in module_imports() if layer_of(m) is None and m not in OUTSIDE)
    assert loose == [], f"put these in a stage package (and in LAYERS): {loose}"


def test_no_import_runs_from_a_lower_stage_to_a_higher_one():
    assert upward_imports(module_imports()) == []


def test_long_modules_and_functions_say_why():
    """A module past 500 lines, or a function past 60, states in itself why it is kept whole."""
    unexplained = []
    for path in sorted(SRC.rglob("*.py")):
        text = path.read_text(encoding="utf-8")
        tree = ast.parse(text)
        name = path.relative_to(SRC)
        if text.count("\n") > 500 and "Past 500 lines on purpose" not in (
            ast.get_docstring(tree) or ""
        ):
            unexplained.append(f"{name}: {text.count(chr(10))} lines")
        for node in ast.walk(tree):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                length = node.end_lineno - node.lineno + 1
                segment = ast.get_source_segment(text, node) or ""
                if length > 60 and "Long on purpose" not in segment:
                    unexplained.append(f"{name}:{node.lineno} {node.name}: {length} lines")
    assert unexplained == [], "split these, or say why they are whole:\n" + "\n".join(unexplained)
