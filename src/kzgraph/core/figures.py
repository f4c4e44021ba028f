"""Read the number out of a source's own words, so stated figures can be checked against text.

Every ``kz:Quantity`` and ``kz:MonetaryAmount`` keeps the words it was read from in
``kz:statedAs``; :func:`parse_stated` turns those words back into the number, and the tests compare
it with ``kz:value``. A slip when typing 447000000000 is caught that way.

>>> parse_stated("447 billion tenge")
Decimal('447000000000')
>>> parse_stated("$278.9 thousand")
Decimal('278900.0')
>>> parse_stated("approximately half")
Decimal('50')
>>> parse_stated("increasing the corridor’s capacity fivefold")
Decimal('5')
>>> currency_of("$88.4 million"), currency_of("78.8 billion tenge")
('USD', 'KZT')
"""

from __future__ import annotations

import re
from decimal import Decimal

SCALES: dict[str, int] = {"thousand": 10**3, "million": 10**6, "billion": 10**9, "trillion": 10**12}

#: Words that stand for a number in the sources; "half" is a share, so it reads as 50 per cent.
WORD_NUMBERS: dict[str, int] = {
    "half": 50,
    "double": 2,
    "twofold": 2,
    "threefold": 3,
    "fivefold": 5,
    "five times": 5,
    "tenfold": 10,
}

_NUMBER = re.compile(
    r"(?<![\w.])(?P<num>\d{1,3}(?:,\d{3})+|\d+(?:\.\d+)?)(?:\s*(?P<scale>thousand|million|billion|trillion)\b)?",
    re.IGNORECASE,
)
_WORD = re.compile(
    r"\b(" + "|".join(sorted(WORD_NUMBERS, key=len, reverse=True)) + r")\b", re.IGNORECASE
)


class NoFigureError(ValueError):
    """The words hold no number this parser knows how to read."""


def parse_stated(text: str) -> Decimal:
    """The first figure in ``text``: digits with an optional scale word, or a number word."""
    digit = _NUMBER.search(text)
    word = _WORD.search(text)
    if digit is None and word is None:
        raise NoFigureError(f"no figure in {text!r}")
    if digit is not None and (word is None or digit.start() < word.start()):
        value = Decimal(digit.group("num").replace(",", ""))
        scale = digit.group("scale")
        return value * SCALES[scale.lower()] if scale else value
    assert word is not None
    return Decimal(WORD_NUMBERS[word.group(1).lower()])


def currency_of(text: str) -> str | None:
    """The ISO 4217 code the words name, if they name one."""
    if "$" in text or re.search(r"\bdollars?\b", text, re.IGNORECASE):
        return "USD"
    if re.search(r"\btenge\b", text, re.IGNORECASE):
        return "KZT"
    return None
