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

Sources in Russian give their figures with Russian scale words, and some spell a number out:

>>> parse_stated("175 млрд тенге"), parse_stated("$800 млн"), parse_stated("five million tons")
(Decimal('175000000000'), Decimal('800000000'), Decimal('5000000'))
>>> parse_stated("$300-350 million")  # a range: its first bound, at the range's scale
Decimal('300000000')
"""

from __future__ import annotations

import re
from decimal import Decimal

SCALES: dict[str, int] = {
    "thousand": 10**3, "million": 10**6, "billion": 10**9, "trillion": 10**12,
    # Russian, as the Kazakh press writes them (with or without the abbreviating dot)
    "тыс": 10**3, "тысяч": 10**3, "млн": 10**6, "миллионов": 10**6, "миллиона": 10**6,
    "млрд": 10**9, "миллиардов": 10**9, "миллиарда": 10**9, "трлн": 10**12,
}  # fmt: skip
#: Numbers spelled out, read before a scale word ("five million tons").
SPELLED: dict[str, int] = {
    "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8,
    "nine": 9, "ten": 10,
}  # fmt: skip

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

_SCALE = "|".join(sorted(SCALES, key=len, reverse=True))
_NUMBER = re.compile(
    r"(?<![\w.])(?P<num>\d{1,3}(?:,\d{3})+|\d+(?:\.\d+)?|"
    + "|".join(SPELLED)
    + rf")(?:\s*(?P<scale>{_SCALE})(?!\w))?",
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
        num = digit.group("num")
        spelled = SPELLED.get(num.lower())
        if spelled is not None and not digit.group("scale"):
            digit = _NUMBER.search(text, digit.end())  # "one of the" is no figure: read on
            if digit is None or (word is not None and word.start() < digit.start()):
                if word is None:
                    raise NoFigureError(f"no figure in {text!r}")
                return Decimal(WORD_NUMBERS[word.group(1).lower()])
            num, spelled = digit.group("num"), SPELLED.get(digit.group("num").lower())
        value = Decimal(spelled) if spelled is not None else Decimal(num.replace(",", ""))
        scale = digit.group("scale")
        if not scale:  # a range gives its scale once, at its end: "$300-350 million"
            ranged = re.match(rf"\s*[-–]\s*[\d.,]+\s*({_SCALE})(?!\w)", text[digit.end() :], re.I)
            scale = ranged.group(1) if ranged else None
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
