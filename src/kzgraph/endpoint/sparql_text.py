r"""Read just enough of a SPARQL string to apply the server's safety rules before running it.

Comments, strings and IRIs are skipped, so ``<http://x/SERVICE>`` or ``"LOAD"`` do not count;
what is left are the keywords. This is not a parser (Oxigraph parses and reports syntax errors);
it answers three questions: is this a query or an update, which keywords does it use, and which
graphs does it name in FROM clauses.

>>> s = scan('PREFIX ex: <http://ex/> SELECT * FROM <urn:g> WHERE { ?s ex:SERVICE "LOAD" }')
>>> s.form, s.from_iris, "SERVICE" in s.keywords
('SELECT', ['urn:g'], False)
>>> scan("# SELECT\nINSERT DATA { <a:b> <a:c> <a:d> }").form
'INSERT'
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

QUERY_FORMS = {"SELECT", "CONSTRUCT", "ASK", "DESCRIBE"}
UPDATE_FORMS = {
    "INSERT",
    "DELETE",
    "LOAD",
    "CLEAR",
    "CREATE",
    "DROP",
    "COPY",
    "MOVE",
    "ADD",
    "WITH",
}

_TOKEN = re.compile(
    r"""
    (?P<comment>\#[^\n]*)
  | (?P<long>'''(?:[^'\\]|\\.|'(?!''))*'''|\"\"\"(?:[^"\\]|\\.|"(?!""))*\"\"\")
  | (?P<string>'(?:[^'\\\n]|\\.)*'|"(?:[^"\\\n]|\\.)*")
  | (?P<iri><[^<>"{}|^`\\\s]*>)
  | (?P<var>[?$][A-Za-z0-9_]+)
  | (?P<pname>[A-Za-z][\w.-]*:[\w.:%-]*|:[\w.:%-]*)
  | (?P<word>[A-Za-z]+)
  | (?P<other>\S)
    """,
    re.VERBOSE | re.DOTALL,
)


@dataclass
class Scan:
    """What the safety rules need to know about a request string."""

    form: str | None = None
    keywords: set[str] = field(default_factory=set)
    from_iris: list[str] = field(default_factory=list)
    from_prefixed: list[str] = field(default_factory=list)

    @property
    def is_update(self) -> bool:
        """True for SPARQL Update requests."""
        return self.form in UPDATE_FORMS


def scan(text: str) -> Scan:
    """Tokenise ``text`` and collect the form, keywords and FROM graphs."""
    result = Scan()
    expect_from_target = False
    in_prologue = True
    for match in _TOKEN.finditer(text):
        kind = match.lastgroup
        token = match.group()
        if kind in ("comment", "long", "string", "var"):
            expect_from_target = False
            continue
        if kind == "iri":
            if expect_from_target:
                result.from_iris.append(token[1:-1])
            expect_from_target = False
            continue
        if kind == "pname":
            if expect_from_target:
                result.from_prefixed.append(token)
            expect_from_target = False
            continue
        if kind == "word":
            word = token.upper()
            result.keywords.add(word)
            if in_prologue and word not in ("PREFIX", "BASE"):
                result.form = word
                in_prologue = False
            if word == "FROM":
                expect_from_target = True
            elif word == "NAMED" and expect_from_target:
                pass
            else:
                expect_from_target = False
            continue
        expect_from_target = False
    return result
