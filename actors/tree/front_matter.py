"""The YAML front matter of a `CLAUDE.md`, and the `depends_on:` list it may declare:

    ---
    depends_on: [shared-lib/core, infra]   # qualified workspaces, or whole projects
    ---
    # the workspace's instructions...

Pure text functions: discovery and the remote workspaces' announcements both go through them.
"""

from __future__ import annotations

from typing import Any

import yaml

try:  # libyaml's loader when it is there: the tree may hold a thousand front matters
    _Loader: Any = yaml.CSafeLoader
except AttributeError:  # pragma: no cover - PyYAML without libyaml
    _Loader = yaml.SafeLoader


class FrontMatterError(ValueError):
    """The front matter is not a YAML mapping, or a key of it has the wrong shape (the message
    says which and how it should look)."""


def split_front_matter(text: str) -> tuple[str | None, str]:
    """(the front matter's YAML text or None, the rest of the document).

    Front matter is a first line `---` and a later line `---` (or `...`); a byte-order mark
    before it is ignored."""
    text = text.lstrip("\ufeff")
    lines = text.splitlines(keepends=True)
    if not lines or lines[0].rstrip() != "---":
        return None, text
    for index in range(1, len(lines)):
        if lines[index].rstrip() in ("---", "..."):
            return "".join(lines[1:index]), "".join(lines[index + 1 :])
    return None, text  # never closed: not front matter, the document as it is


def front_matter(text: str) -> dict[str, Any]:
    """The front matter of `text` as a mapping ({} without one); FrontMatterError when it is not
    valid YAML or not a mapping."""
    raw, _ = split_front_matter(text)
    if raw is None:
        return {}
    try:
        data = yaml.load(raw, Loader=_Loader)  # a safe loader (C or Python)
    except yaml.YAMLError as err:
        problem = " ".join(str(err).split())
        raise FrontMatterError(f"the front matter is not valid YAML ({problem})") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise FrontMatterError("the front matter must be a mapping (e.g. `depends_on: [shared-lib/core]`)")
    return data


def declared_depends_on(text: str) -> tuple[str, ...]:
    """The `depends_on:` names of `text`'s front matter (a list of strings, or one string);
    () without one. FrontMatterError when the front matter or the key has the wrong shape."""
    value = front_matter(text).get("depends_on")
    if value is None:
        return ()
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not all(isinstance(item, str) and item.strip() for item in value):
        raise FrontMatterError(
            "`depends_on` in the front matter must be a list of names, e.g. `depends_on: [shared-lib/core, infra]`"
        )
    return tuple(dict.fromkeys(item.strip().strip("/") for item in value))
