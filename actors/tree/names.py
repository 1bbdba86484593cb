"""Safe names: validating project and workspace names, and paths that stay inside a root."""

from __future__ import annotations

import unicodedata
from pathlib import Path

from claude_tunnels.actors.tree.errors import UnsafeName
from claude_tunnels.actors.tree.scripts import mixed_scripts

MAX_NAME_CHARS = 512
MAX_COMPONENT_BYTES = 255  # the usual file-system limit of one path component


def validate_name(name: str) -> str:
    """Return ``name`` if it is a safe relative name (``web``, ``apps/web``), else raise.

    Refused: empty names or components, absolute paths, ``.``/``..`` and other hidden
    components (a leading ``.``), backslashes, NUL and other control or format characters
    (which could hide text), names over ``MAX_NAME_CHARS`` characters or with a component
    over ``MAX_COMPONENT_BYTES`` bytes, and lookalikes: names not in Unicode NFC form and
    components whose letters mix scripts (see ``actors.tree.scripts``). Raises ``UnsafeName``.
    """
    if not isinstance(name, str) or not name:
        raise UnsafeName(str(name), "the name is empty")
    if len(name) > MAX_NAME_CHARS:
        raise UnsafeName(name[:40] + "…", f"longer than {MAX_NAME_CHARS} characters")
    if "\\" in name:
        raise UnsafeName(name, "backslashes are not allowed; use `/` between folders")
    if bad := _invisible(name):
        raise UnsafeName(name, f"contains the control character U+{ord(bad):04X}")
    if name.startswith("/"):
        raise UnsafeName(name, "absolute paths are not allowed; give a name relative to the root")
    for component in name.split("/"):
        problem = component_problem(component)
        if problem:
            raise UnsafeName(name, problem)
    return name


def component_problem(component: str) -> str | None:
    """Why one path component is unsafe, or ``None`` when it is fine."""
    if not component:
        return "it has an empty component (`//` or a trailing `/`)"
    if component in (".", ".."):
        return f"`{component}` components are not allowed"
    if component.startswith("."):
        return f"hidden component `{component}` is not allowed"
    if "\\" in component or "/" in component:
        return "separators are not allowed inside a component"
    if _invisible(component):
        return "it contains a control character"
    if len(component.encode("utf-8", "surrogatepass")) > MAX_COMPONENT_BYTES:
        return f"a component is longer than {MAX_COMPONENT_BYTES} bytes"
    if component.isascii():
        return None  # ASCII is in NFC form and all Latin: the common case stays cheap
    if not unicodedata.is_normalized("NFC", component):
        return _not_nfc(component)
    return mixed_scripts(component)


def _not_nfc(component: str) -> str:
    """Why a component not in NFC form is refused, showing its NFC form and what differs."""
    nfc = unicodedata.normalize("NFC", component)
    start = 0
    while start < min(len(component), len(nfc)) and component[start] == nfc[start]:
        start += 1
    end = 0  # the common suffix, never overlapping the common prefix
    while end < min(len(component), len(nfc)) - start and component[-1 - end] == nfc[-1 - end]:
        end += 1
    spelled, meant = component[start : len(component) - end], nfc[start : len(nfc) - end]
    return (
        f"it is not in Unicode NFC form ({_code_points(spelled)} where NFC has {_code_points(meant)}), "
        f"so it can pass for another name; its NFC form is {nfc!r}: rename it to that"
    )


def _code_points(text: str, limit: int = 6) -> str:
    if not text:
        return "nothing"
    shown = " ".join(f"U+{ord(char):04X}" for char in text[:limit])
    return shown + " …" if len(text) > limit else shown


def safe_within(root: Path, candidate: Path) -> bool:
    """Whether ``candidate`` (relative ones are taken from ``root``) stays inside ``root``
    once every symlink is resolved; it need not exist. A path that cannot be resolved (a
    symlink loop) is not safe."""
    try:
        real_root = root.resolve()
        real = (root / candidate).resolve()
    except (OSError, RuntimeError, ValueError):  # RuntimeError: a symlink loop (Python 3.11)
        return False
    return real == real_root or real_root in real.parents


def _invisible(text: str) -> str | None:
    """The first control (Cc), format (Cf) or surrogate (Cs) character of ``text``, if any."""
    for char in text:
        if unicodedata.category(char) in ("Cc", "Cf", "Cs"):
            return char
    return None
