"""Which writing system a name's letters come from, to refuse lookalike names.

A folder called ``wеb-app`` with a Cyrillic ``е`` (U+0435) reads as ``web-app``. Unicode TS #39
("highly restrictive") accepts a name when its letters come from one script, or from one of the
combinations people really write: Latin + Han + Hiragana + Katakana (Japanese), Latin + Han +
Bopomofo (Chinese), Latin + Han + Hangul (Korean). Everything else is refused here.

Python's ``unicodedata`` has no script property, so a character's script is read off its
Unicode name (``CYRILLIC SMALL LETTER IE``): the first word of the name that names a script, else
(for a letter) the name's first word (``MATHEMATICAL BOLD SMALL W`` is "Mathematical", ``SMALL
ROMAN NUMERAL FIFTY`` is "Roman": no real script, so they never pass for Latin). Digits ``0-9``,
punctuation, symbols, spaces and modifier letters of no script are common to every script;
combining marks take their letter's script.
"""

from __future__ import annotations

import unicodedata

_SCRIPT_WORDS = {
    # The first word of a name that says which script the character belongs to.
    "LATIN": "Latin", "GREEK": "Greek", "COPTIC": "Coptic", "CYRILLIC": "Cyrillic",
    "GLAGOLITIC": "Glagolitic", "ARMENIAN": "Armenian", "GEORGIAN": "Georgian", "HEBREW": "Hebrew",
    "ARABIC": "Arabic", "SYRIAC": "Syriac", "THAANA": "Thaana", "NKO": "Nko", "SAMARITAN": "Samaritan",
    "DEVANAGARI": "Devanagari", "BENGALI": "Bengali", "GURMUKHI": "Gurmukhi", "GUJARATI": "Gujarati",
    "ORIYA": "Oriya", "TAMIL": "Tamil", "TELUGU": "Telugu", "KANNADA": "Kannada",
    "MALAYALAM": "Malayalam", "SINHALA": "Sinhala", "THAI": "Thai", "LAO": "Lao", "TIBETAN": "Tibetan",
    "MYANMAR": "Myanmar", "KHMER": "Khmer", "MONGOLIAN": "Mongolian", "ETHIOPIC": "Ethiopic",
    "CHEROKEE": "Cherokee", "CANADIAN": "Canadian Aboriginal", "OGHAM": "Ogham", "RUNIC": "Runic",
    "TIFINAGH": "Tifinagh", "HANGUL": "Hangul", "HIRAGANA": "Hiragana", "KATAKANA": "Katakana",
    "BOPOMOFO": "Bopomofo", "CJK": "Han", "IDEOGRAPHIC": "Han", "KANGXI": "Han", "YI": "Yi",
}
_TOGETHER = (
    # TS #39 "highly restrictive": one script, or a subset of one of these.
    frozenset({"Latin", "Han", "Hiragana", "Katakana"}),
    frozenset({"Latin", "Han", "Bopomofo"}),
    frozenset({"Latin", "Han", "Hangul"}),
)


def script_of(char: str) -> str | None:
    """The script of one character (``"Latin"``, ``"Cyrillic"``, ``"Han"``, ...), or ``None``
    when it is common to all scripts (``0-9``, ``-``, ``_``, ``.``, spaces, symbols) or a
    combining mark (which belongs to the letter before it)."""
    category = unicodedata.category(char)
    letter = category.startswith("L") or category == "Nl"
    if not letter and not (category == "Nd" and not char.isascii()):
        return None  # marks, ASCII digits, punctuation, symbols, separators
    words = unicodedata.name(char, "").replace("-", " ").split()
    for word in words:
        if word in _SCRIPT_WORDS:
            return _SCRIPT_WORDS[word]
    if not letter or not words or category == "Lm":
        # A digit of no particular script (FULLWIDTH DIGIT ONE), an unnamed code point, or a
        # modifier letter such as U+02BC (the apostrophe of Ukrainian names): common, as in Unicode.
        return None
    named = [word for word in words if word not in ("SMALL", "CAPITAL")] or words
    return named[0].title()


def mixed_scripts(text: str) -> str | None:
    """Why ``text`` mixes scripts it should not (naming the scripts and the first character of
    the least used one), or ``None`` when its letters may stand together."""
    first: dict[str, str] = {}  # script -> its first character, in order of appearance
    counts: dict[str, int] = {}
    for char in text:
        script = script_of(char)
        if script is not None:
            first.setdefault(script, char)
            counts[script] = counts.get(script, 0) + 1
    scripts = frozenset(first)
    if len(scripts) <= 1 or any(scripts <= allowed for allowed in _TOGETHER):
        return None
    names = list(first)
    listed = ", ".join(names[:-1]) + f" and {names[-1]}"
    rarest = min(reversed(names), key=lambda script: counts[script])  # ties: the later script
    odd = first[rarest]
    return (
        f"it mixes {listed} letters (U+{ord(odd):04X} is {unicodedata.name(odd, '?')}), "
        "so it can pass for another name; use letters of one script"
    )
