"""Every local link on the site works: a crawler from / that follows href and src attributes."""

from __future__ import annotations

from collections import deque
from html.parser import HTMLParser
from urllib.parse import urldefrag, urljoin, urlparse

import httpx
import pytest

from .server_process import Server

MAX_PAGES = 4000


class Links(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.found: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        for name, value in attrs:
            if (
                name in ("href", "src")
                and value
                and not value.startswith(("javascript:", "mailto:", "data:"))
            ):
                self.found.append(value)


@pytest.fixture(scope="module")
def server():
    s = Server("--workers", "2", "--no-validate")
    yield s
    s.stop()


def test_no_local_link_is_broken(server):
    base = server.url
    host = urlparse(base).netloc
    seen = {base}
    queue = deque([base])
    broken: list[str] = []
    pages = 0
    browser = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"
    with httpx.Client(timeout=60, headers={"Accept": browser}) as client:
        while queue and pages < MAX_PAGES:
            url = queue.popleft()
            r = client.get(url, follow_redirects=True)
            pages += 1
            if r.status_code >= 400:
                broken.append(f"{r.status_code} {url} (from {referrers.get(url)})")
                continue
            if "text/html" not in r.headers.get("content-type", ""):
                continue
            parser = Links()
            parser.feed(r.text)
            for link in parser.found:
                target = urldefrag(urljoin(str(r.url), link))[0]
                if urlparse(target).netloc != host or target in seen:
                    continue
                seen.add(target)
                referrers[target] = url
                queue.append(target)
    assert not broken, "\n".join(broken[:40])
    assert pages > 200  # the crawl reached the entity pages, the docs site and the API docs


referrers: dict[str, str] = {}
