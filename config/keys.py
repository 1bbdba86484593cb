"""What each key of ``orchestrator.yaml`` means: `tunnels config explain KEY`.

Everything is read from the two places that already document a key, so the explanation cannot
drift from them: the schema (`config.settings`: the type, the default, the field's docstring and
its section's, the checks of ``__post_init__``) and the commented example (`config.example`:
the comments above and beside the key).
"""

from __future__ import annotations

import ast
import difflib
import inspect
import re
import types
import typing
from dataclasses import dataclass
from functools import cache
from typing import Any, Literal

import msgspec

from claude_tunnels.config import settings as schema
from claude_tunnels.config.errors import ConfigError
from claude_tunnels.config.example import dump_default_settings
from claude_tunnels.config.typing_help import is_struct, unwrap_optional

_KEY_LINE = re.compile(r"^(?P<indent> *)(?P<key>[a-z_]+):(?P<rest>.*)$")


@dataclass(frozen=True)
class KeyInfo:
    """One key of the settings, explained."""

    key: str
    """Dotted, e.g. `limits.task_timeout_s`."""
    type: str
    """In words: `a number`, `one of: allowlist, denylist, …`, `a section`."""
    default: Any
    """The default value as YAML would hold it (None is null; a section's is its own defaults)."""
    valid: str
    """Which values are accepted beyond the type (`greater than 0`, the choices), or ''."""
    doc: str
    """The field's docstring, then its comments in the example settings."""
    section_doc: str
    """The docstring of the section holding the key ('' at the top level)."""
    keys: tuple[str, ...] = ()
    """For a section: the keys under it."""

    def as_dict(self) -> dict[str, Any]:
        """The explanation as JSON-ready data."""
        return {"key": self.key, "type": self.type, "default": self.default, "valid": self.valid,
                "doc": self.doc, "section": self.section_doc, "keys": list(self.keys)}


def all_keys() -> list[str]:
    """Every key of the settings (sections and the keys in them), dotted, in schema order."""
    return [key for key, _ in _walk(schema.Settings, "")]


def explain(key: str) -> KeyInfo:
    """Explain `key`; a `ConfigError` naming the closest key when there is no such key."""
    found = dict(_walk(schema.Settings, ""))
    if key not in found:
        close = difflib.get_close_matches(key, list(found), n=1, cutoff=0.6)
        hint = f"did you mean `{close[0]}`? " if close else ""
        raise ConfigError("no such settings key", key=key, fix=f"{hint}`tunnels config explain` lists every key")
    owner, field = found[key]
    default = _default(field)
    tp = unwrap_optional(field.type)
    is_section = is_struct(tp)
    children = tuple(k for k in found if k.startswith(key + ".") and "." not in k[len(key) + 1:]) if is_section else ()
    doc = "\n".join(part for part in (_field_docs().get((owner.__name__, field.name), ""), _example_comments().get(key, "")) if part)
    return KeyInfo(
        key=key, type=_describe(field.type), default=msgspec.to_builtins(default),
        valid="" if is_section else _valid(owner, field), doc=(doc or _doc(tp)) if is_section else doc,
        section_doc=_doc(owner) if owner is not schema.Settings else "", keys=children,
    )


def text(info: KeyInfo) -> str:
    """The explanation as a few lines for a person."""
    lines = [info.key, f"  type: {info.type}"]
    if info.keys:
        lines.append(f"  keys: {', '.join(k.rsplit('.', 1)[-1] for k in info.keys)}")
    else:
        lines.append(f"  default: {_yaml_value(info.default)}")
    if info.valid:
        lines.append(f"  valid: {info.valid}")
    for paragraph in (info.doc, info.section_doc and f"(in {info.key.rsplit('.', 1)[0]}: {info.section_doc})"):
        if paragraph:
            lines += [f"  {line}" for line in paragraph.splitlines()]
    return "\n".join(lines)


# -- the schema ------------------------------------------------------------------------------


def _walk(struct: type, prefix: str) -> list[tuple[str, tuple[type, msgspec.structs.FieldInfo]]]:
    out: list[tuple[str, tuple[type, msgspec.structs.FieldInfo]]] = []
    for field in msgspec.structs.fields(struct):
        key = f"{prefix}{field.name}"
        out.append((key, (struct, field)))
        tp = unwrap_optional(field.type)
        if is_struct(tp):
            out += _walk(tp, key + ".")
    return out


def _default(field: msgspec.structs.FieldInfo) -> Any:
    if field.default is not msgspec.NODEFAULT:
        return field.default
    if field.default_factory is not msgspec.NODEFAULT:
        return field.default_factory()
    return None






_WORDS = {float: "a number", int: "an integer", str: "a string", bool: "true or false"}


def _describe(tp: Any) -> str:
    origin, args = typing.get_origin(tp), typing.get_args(tp)
    if origin in (typing.Union, types.UnionType):
        members = [arg for arg in args if arg is not type(None)]
        described = " or ".join(_describe(arg) for arg in members)
        return f"{described}, or null" if type(None) in args else described
    if origin is Literal:
        return "one of: " + ", ".join(str(arg) for arg in args)
    if origin is list:
        inner = args[0]
        if typing.get_origin(inner) is Literal:
            return "a list of: " + ", ".join(str(arg) for arg in typing.get_args(inner))
        return f"a list of {_plural(inner)}"
    if origin is dict:
        return f"a mapping of {_plural(args[0])} to {_plural(args[1])}"
    if is_struct(tp):
        return "a section"
    return _WORDS.get(tp, getattr(tp, "__name__", str(tp)))


def _plural(tp: Any) -> str:
    return {float: "numbers", int: "integers", str: "strings", bool: "booleans"}.get(tp, _describe(tp))


def _valid(owner: type, field: msgspec.structs.FieldInfo) -> str:
    """The values the section's checks accept, found by trying them (the checks are the truth)."""
    tp = unwrap_optional(field.type)
    if typing.get_origin(tp) is Literal:
        return ", ".join(str(arg) for arg in typing.get_args(tp))
    if tp not in (int, float) or _refused(owner, field.name, _default(field) or 1):
        return ""
    if _refused(owner, field.name, 0):
        return "greater than 0"
    return "0 or more" if _refused(owner, field.name, -1) else ""


def _refused(owner: type, name: str, value: Any) -> bool:
    try:
        msgspec.convert({name: value}, owner)
    except msgspec.ValidationError:
        return True
    return False


def _doc(tp: Any) -> str:
    return " ".join((inspect.getdoc(tp) or "").split())


@cache
def _field_docs() -> dict[tuple[str, str], str]:
    """(class name, field name) -> the string literal under the field in `config/settings.py`."""
    tree = ast.parse(inspect.getsource(schema))
    docs: dict[tuple[str, str], str] = {}
    for node in tree.body:
        if not isinstance(node, ast.ClassDef):
            continue
        for first, second in zip(node.body, node.body[1:], strict=False):
            if (isinstance(first, ast.AnnAssign) and isinstance(first.target, ast.Name)
                    and isinstance(second, ast.Expr) and isinstance(second.value, ast.Constant)
                    and isinstance(second.value.value, str)):
                docs[(node.name, first.target.id)] = " ".join(second.value.value.split())
    return docs


# -- the commented example -------------------------------------------------------------------


@cache
def _example_comments() -> dict[str, str]:
    """Dotted key -> the comment block above it and the comment beside it (with its continuation
    lines). A block is shared by the keys right below it up to a blank line, a section, or a key
    with a comment of its own (`state_dir` and `archive_dir` share theirs)."""
    comments: dict[str, str] = {}
    stack: list[tuple[int, str]] = []
    above: list[str] = []
    fresh = True  # whether `above` was just read (a new block) or is shared with the key before
    lines = dump_default_settings().splitlines()
    index = 0
    while index < len(lines):
        line = lines[index]
        stripped = line.strip()
        index += 1
        if not stripped:
            above, fresh = [], True
            continue
        if stripped.startswith("#"):
            above = above if fresh else []
            above.append(stripped.lstrip("# ").rstrip())
            fresh = True
            continue
        match = _KEY_LINE.match(line)
        if match is None:
            above, fresh = [], True
            continue
        depth = len(match["indent"])
        while stack and stack[-1][0] >= depth:
            stack.pop()
        key = ".".join([*(name for _, name in stack), match["key"]])
        stack.append((depth, match["key"]))
        beside, column = _comment(line)
        shared = above if fresh or not beside else []  # a comment of its own ends a shared block
        notes = [*shared, *([beside] if beside else [])]
        while beside and index < len(lines) and lines[index].strip().startswith("#") and _comment(lines[index])[1] == column:
            notes.append(lines[index].strip().lstrip("# ").rstrip())  # the comment beside goes on below
            index += 1
        comments[key] = " ".join(" ".join(notes).split())
        if match["rest"].strip() and not beside:
            fresh = False  # a key with a value and no comment of its own: the block may go on below
        else:
            above, fresh = [], True  # a section, or a key with its own comment: the block ends
    return comments


def _comment(line: str) -> tuple[str, int]:
    """The comment at the end of a YAML line (outside quotes) and its column, or ('', -1)."""
    quote = ""
    for column, char in enumerate(line):
        if quote:
            quote = "" if char == quote else quote
        elif char in "\"'":
            quote = char
        elif char == "#" and (column == 0 or line[column - 1] in " \t"):
            return line[column + 1:].strip(), column
    return "", -1


def _yaml_value(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (dict, list)):
        return msgspec.json.encode(value).decode()
    return str(value)
