"""Lookalike names: a character's script from its Unicode name, and which scripts may mix (TS #39)."""

from __future__ import annotations

import pytest

from claude_tunnels.actors.tree import UnsafeName, validate_name
from claude_tunnels.actors.tree.names import component_problem
from claude_tunnels.actors.tree.scripts import mixed_scripts, script_of


@pytest.mark.parametrize(
    ("char", "script"),
    [
        ("a", "Latin"),
        ("é", "Latin"),
        ("ｗ", "Latin"),  # FULLWIDTH LATIN SMALL LETTER W
        ("е", "Cyrillic"),  # U+0435
        ("ο", "Greek"),  # U+03BF GREEK SMALL LETTER OMICRON
        ("ա", "Armenian"),
        ("א", "Hebrew"),
        ("ب", "Arabic"),
        ("٣", "Arabic"),  # ARABIC-INDIC DIGIT THREE
        ("২", "Bengali"),  # BENGALI DIGIT TWO
        ("日", "Han"),
        ("々", "Han"),  # IDEOGRAPHIC ITERATION MARK
        ("あ", "Hiragana"),
        ("ア", "Katakana"),
        ("ｱ", "Katakana"),  # HALFWIDTH KATAKANA LETTER A
        ("ー", "Katakana"),  # KATAKANA-HIRAGANA PROLONGED SOUND MARK
        ("한", "Hangul"),
        ("ㄅ", "Bopomofo"),
        ("𝐰", "Mathematical"),  # no real script: never passes for Latin
        ("ⅼ", "Roman"),  # SMALL ROMAN NUMERAL FIFTY
        ("ʰ", None),  # a modifier letter of no script is common, as in Unicode
        ("ʼ", None),  # U+02BC, the apostrophe of Ukrainian names
        ("ᵸ", "Cyrillic"),  # MODIFIER LETTER CYRILLIC EN
        ("𞤀", "Adlam"),  # a script the table does not list: its name's first word
        ("7", None),
        ("-", None),
        ("_", None),
        (".", None),
        (" ", None),
        ("１", None),  # FULLWIDTH DIGIT ONE
        ("\u0301", None),  # a combining mark belongs to its letter
    ],
)
def test_script_of(char: str, script: str | None) -> None:
    assert script_of(char) == script


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("web-app", None),
        ("web_app.v2-1", None),
        ("проект", None),  # one script other than Latin stays allowed
        ("プロジェクト", None),
        ("αβγ", None),
        ("日本語のapp", None),  # Latin + Han + Hiragana + Katakana
        ("web-アプリ", None),
        ("注音ㄅapp", None),  # Latin + Han + Bopomofo
        ("한국어-app", None),  # Latin + Han + Hangul
        ("мʼята", None),  # Cyrillic with U+02BC MODIFIER LETTER APOSTROPHE
        ("wеb-app", "it mixes Latin and Cyrillic letters (U+0435 is CYRILLIC SMALL LETTER IE)"),
        ("аpple", "it mixes Cyrillic and Latin letters (U+0430 is CYRILLIC SMALL LETTER A)"),
        ("gοogle", "it mixes Latin and Greek letters (U+03BF is GREEK SMALL LETTER OMICRON)"),
        ("web-аpp-ο", "it mixes Latin, Cyrillic and Greek letters"),
        ("𝐰eb", "it mixes Mathematical and Latin letters (U+1D430 is MATHEMATICAL BOLD SMALL W)"),
        ("weⅼ", "it mixes Latin and Roman letters"),
        ("app٣", "it mixes Latin and Arabic letters (U+0663 is ARABIC-INDIC DIGIT THREE)"),
        ("한국ㄅ", "it mixes Hangul and Bopomofo letters"),  # not one of the TS #39 combinations
        ("日本한국あ", "it mixes Han, Hangul and Hiragana letters"),
    ],
)
def test_mixed_scripts(text: str, problem: str | None) -> None:
    found = mixed_scripts(text)
    if problem is None:
        assert found is None
    else:
        assert found is not None and found.startswith(problem)
        assert found.endswith("so it can pass for another name; use letters of one script")


@pytest.mark.parametrize(
    ("name", "part"),
    [
        ("wеb-app", "mixes Latin and Cyrillic letters"),
        ("apps/wеb", "mixes Latin and Cyrillic letters"),
        ("cafe\u0301", "not in Unicode NFC form (U+0065 U+0301 where NFC has U+00E9)"),
        ("cafe\u0301", "its NFC form is 'café'"),
        ("\u212a8s", "(U+212A where NFC has U+004B)"),  # KELVIN SIGN
        ("\u1100\u1161-app", "its NFC form is '가-app'"),  # Hangul spelled with jamo
    ],
)
def test_lookalike_names_are_refused_with_the_reason(name: str, part: str) -> None:
    with pytest.raises(UnsafeName) as caught:
        validate_name(name)
    assert part in str(caught.value)
    assert repr(name) in str(caught.value)


@pytest.mark.parametrize("name", ["café/приложение", "проект/サービス", "web/日本", "web-app/проект"])
def test_each_component_may_have_its_own_script(name: str) -> None:
    assert validate_name(name) == name
    assert all(component_problem(part) is None for part in name.split("/"))
