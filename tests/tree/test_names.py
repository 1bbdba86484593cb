"""Name validation, containment and slugs."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from claude_tunnels.actors.tree import UnsafeName, safe_within, validate_name
from claude_tunnels.projections.slugs import slug


@pytest.mark.parametrize(
    "name",
    ["web", "apps/web", "web-1_2", "x.y", "a b", "проект/сервис", "café", "日本", "a" * 255],
)
def test_valid_names(name: str) -> None:
    assert validate_name(name) == name


@pytest.mark.parametrize(
    ("name", "part"),
    [
        ("", "empty"),
        ("/etc/passwd", "absolute"),
        ("..", "`..`"),
        ("a/../b", "`..`"),
        (".", "`.`"),
        ("./a", "`.`"),
        (".hidden", "hidden"),
        ("a/.git", "hidden"),
        ("a\\b", "backslash"),
        ("..\\..\\windows", "backslash"),
        ("a\x00b", "U+0000"),
        ("a\nb", "U+000A"),
        ("evil\u202etxt", "U+202E"),
        ("a//b", "empty component"),
        ("a/", "empty component"),
        ("x" * 600, "longer than"),
        ("é" * 200, "bytes"),
    ],
)
def test_unsafe_names(name: str, part: str) -> None:
    with pytest.raises(UnsafeName) as caught:
        validate_name(name)
    assert part in str(caught.value)
    assert "\n" not in str(caught.value)


def test_safe_within(tmp_path: Path) -> None:
    root = tmp_path / "root"
    (root / "a").mkdir(parents=True)
    (tmp_path / "outside").mkdir()
    os.symlink(tmp_path / "outside", root / "out")
    os.symlink(root / "a", root / "in")
    os.symlink(root / "loop2", root / "loop1")
    os.symlink(root / "loop1", root / "loop2")
    cases = {
        root: True,
        Path("a"): True,
        Path("a/new-file.txt"): True,
        root / "a" / "b" / "c": True,
        Path("in/file"): True,
        Path(".."): False,
        Path("a/../../outside"): False,
        tmp_path / "outside": False,
        Path("/etc/passwd"): False,
        Path("out/file"): False,
        Path("loop1"): False,
    }
    assert {path: safe_within(root, path) for path in cases} == cases


@pytest.mark.parametrize(
    ("label", "expected"),
    [
        ("Fix the login bug", "fix-the-login-bug"),
        ("api/v2: add /users endpoint", "api-v2-add-users-endpoint"),
        ("../../etc/passwd", "etc-passwd"),
        ("", "request"),
        ("...", "request"),
        ("/// ???", "request"),
        ('a<b>c:d"e|f?g*h\\i', "a-b-c-d-e-f-g-h-i"),
        ("CON", "con_"),
        ("lpt1", "lpt1_"),
        ("Привет, мир", "привет-мир"),
        ("Straße", "strasse"),
        ("日本語", "日本語"),
        ("x" * 100, "x" * 48),
        ("word " * 20, ("word-" * 10)[:48].rstrip("-")),
    ],
)
def test_slug(label: str, expected: str) -> None:
    assert slug(label) == expected
    assert slug(label) == slug(label)  # deterministic
    assert validate_name(slug(label))


@pytest.mark.parametrize("max_len", [1, 3, 10])
def test_slug_respects_max_len(max_len: int) -> None:
    for label in ["CON", "a long label indeed", "", "日本語のラベルです"]:
        assert 0 < len(slug(label, max_len)) <= max_len
