"""The README and the guides work as written, and their figures are the data's.

Every shell, Python and console block runs in a fresh copy of the project, in the order a reader
meets it (``tests/doc_blocks.py`` says how); a block that fails as written fails here. Every
figure the docs quote from the graph stands between markers and equals the data's.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from kzgraph.core.settings import Settings
from kzgraph.docs import data_figures as figures

from .doc_blocks import ROOT, RUN, SHOWN, Block, Services, blocks_of, fresh_copy, matches, run_block

DOCS = [ROOT / "README.md", *sorted((ROOT / "docs" / "guides").glob("*.md"))]
BLOCKS = [b for doc in DOCS for b in blocks_of(doc) if b.lang in RUN]


@pytest.fixture(scope="module")
def copies(tmp_path_factory):
    """One fresh copy of the project per document, its services stopped at the end."""
    made: dict[Path, Services] = {}

    def of(doc: Path) -> Services:
        if doc not in made:
            project = fresh_copy(tmp_path_factory.mktemp(doc.stem) / "project")
            made[doc] = Services(project)
        return made[doc]

    yield of
    for services in made.values():
        services.close()


def test_the_docs_have_their_blocks():
    assert len(DOCS) >= 5, "the README and four guides"
    assert len(BLOCKS) >= 20, f"only {len(BLOCKS)} runnable blocks"


@pytest.mark.parametrize("block", BLOCKS, ids=[b.id for b in BLOCKS])
def test_the_block_works_as_written(block: Block, copies):
    if "skip" in block.attrs:
        assert block.attrs["skip"].strip(), f"{block.id}: a skipped block must say why"
        assert block.text.split("#")[0].strip() == "bash scripts/test.sh", (
            f"{block.id}: only the test command itself may be skipped (CI runs it as .ci/run)"
        )
        return
    run_block(block, copies(block.file))


@pytest.mark.parametrize("doc", DOCS, ids=[str(d.relative_to(ROOT)) for d in DOCS])
def test_every_block_names_its_language(doc: Path):
    unnamed = [b.line for b in blocks_of(doc) if b.lang not in RUN | SHOWN]
    assert not unnamed, f"{doc.name}: blocks without a known language at lines {unnamed}"


def test_the_output_matcher_reads_ellipses():
    assert matches("a\n…\nd", "a\nb\nc\nd")
    assert matches("name: … (Company)", "name: Huawei (Company)")
    assert not matches("a\nd", "a\nb\nd")
    assert not matches("23 nodes", "24 nodes")


@pytest.fixture(scope="module")
def data_figures() -> dict[str, str]:
    return figures.compute(Settings.discover(ROOT))


@pytest.mark.parametrize("doc", DOCS, ids=[str(d.relative_to(ROOT)) for d in DOCS])
def test_every_marked_figure_is_the_datas(doc: Path, data_figures):
    stale = figures.stale(doc, data_figures)
    assert not stale, "\n".join(str(s) for s in stale)


#: A count of the seeded graph's things, written as a number in prose.
COUNTED = re.compile(
    r"(?<![\w.])\d[\d,]*\s+(?:distinct\s+)?(?:triples|classes|properties|shapes|saved (?:SPARQL )?"
    r"queries|companies|firms|projects|named graphs|nodes|edges|questions)\b"
)
#: Lines about the synthetic graphs of the benchmarks, or about a past run ("the then 34
#: saved queries"): their counts are records of a measurement, not of today's graph.
AT_SCALE = re.compile(
    r"synthetic|\d+[kM]\b|quads|million|per run|bench|\bthen \d|in that (?:run|measurement)", re.I
)


@pytest.mark.parametrize("doc", DOCS, ids=[str(d.relative_to(ROOT)) for d in DOCS])
def test_counts_of_the_graph_are_marked_figures(doc: Path):
    unmarked = []
    fenced = False  # a console block's output is checked by running it
    for number, line in enumerate(doc.read_text(encoding="utf-8").split("\n"), start=1):
        fenced ^= line.startswith("```")
        bare = figures.MARK.sub("", line)
        if fenced or AT_SCALE.search(line):
            continue
        unmarked += [f"{doc.name}:{number}: {m.group(0)}" for m in COUNTED.finditer(bare)]
    assert not unmarked, "write these as <!-- fig:NAME -->…<!-- /fig -->:\n" + "\n".join(unmarked)


def test_a_stale_figure_is_named(tmp_path, data_figures):
    page = tmp_path / "page.md"
    page.write_text("It holds <!-- fig:triples -->12<!-- /fig --> triples.\n", encoding="utf-8")
    [found] = figures.stale(page, data_figures)
    assert found.name == "triples" and found.written == "12" and found.line == 1
    assert found.actual == data_figures["triples"] != "12"


def test_the_docs_site_shows_every_guide_with_working_links(tmp_path):
    from kzgraph.docs.site import build_site, guide_files

    settings = Settings.discover(ROOT)
    written = {p.name for p in build_site(settings, tmp_path)}
    pages = {f"guide-{g.stem}.html" for g in guide_files(settings)}
    assert pages <= written and len(pages) >= 5
    listed = (tmp_path / "guides.html").read_text(encoding="utf-8")
    assert all(page in listed for page in pages)
    for page in pages:
        html = (tmp_path / page).read_text(encoding="utf-8")
        assert "<pre><code" in html
        links = re.findall(r'href="([^"#]+)', html)
        local = [x for x in links if not x.startswith(("http", "../"))]
        assert all((tmp_path / x).exists() for x in local), (page, local)
        assert not [x for x in links if x.endswith(".md")], page
