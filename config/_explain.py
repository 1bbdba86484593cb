"""Turning msgspec's validation messages into one-line, fix-it ``ConfigError``s."""

from __future__ import annotations

import difflib
import re
import typing
from pathlib import Path
from typing import Any, Literal

import msgspec

from claude_tunnels.config.errors import ConfigError
from claude_tunnels.config.typing_help import is_struct, unwrap_optional

_AT = re.compile(r"^(?P<message>.*?) - at `(?P<path>[^`]*)`(?: in `(?P<within>[^`]*)`)?$", re.S)
_SEGMENT = re.compile(r"\.([^.\[]+)|\[([^\]]*)\]")
_UNKNOWN = re.compile(r"^Object contains unknown field `(?P<name>.*)`$", re.S)
_TYPE = re.compile(r"^Expected `(?P<expected>[^`]*)`(?:, got `(?P<got>[^`]*)`)?$")
_ENUM = re.compile(r"^Invalid enum value (?P<value>.*)$", re.S)
_OWN = re.compile(r"^`(?P<field>[^`]+)`:? (?P<rest>.*)$", re.S)  # our __post_init__ messages
_KINDS = {
    "int": "an integer",
    "float": "a number",
    "str": "a string",
    "bool": "true or false",
    "array": "a list",
    "object": "a mapping (key: value)",
    "null": "nothing (null)",
}


def explain(error: msgspec.ValidationError, schema: type, file: Path | None) -> ConfigError:
    """Build the ``ConfigError`` for ``error`` raised while converting a document to ``schema``."""
    match = _AT.match(str(error))
    if match is None:  # msgspec leaves out " - at `$`" for the top level
        message, path, within = str(error), "$", None
    else:
        message, path, within = match["message"], match["path"], match["within"]
    if within is not None:  # a mapping key of the wrong type, e.g. `1: x`
        return ConfigError(
            f"a key under {_dotted(within) or 'the top level'} is not a string",
            file=file,
            key=_dotted(within) or None,
            fix="write keys as plain names",
        )
    key = _dotted(path)
    target = _type_at(schema, path)
    if unknown := _UNKNOWN.match(message):
        return _unknown_key(unknown["name"], key, target, file)
    if wrong := _TYPE.match(message):
        return _wrong_type(wrong["expected"], wrong["got"], key, target, file)
    if enum := _ENUM.match(message):
        options = _literal_options(target)
        fix = "use one of: " + ", ".join(options) if options else None
        close = difflib.get_close_matches(enum["value"].strip("'\""), options, n=1)
        if close:
            fix = f"{fix}; did you mean `{close[0]}`?"
        return ConfigError(f"invalid value {enum['value']}", file=file, key=key, fix=fix)
    if own := _OWN.match(message):
        field = own["field"]
        joined = f"{key}.{field}" if key and not field.startswith("[") else f"{key}{field}"
        problem, _, fix = own["rest"].partition("; ")
        return ConfigError(problem, file=file, key=joined, fix=fix or None)
    return ConfigError(message, file=file, key=key or None)


def _unknown_key(name: str, key: str, target: Any, file: Path | None) -> ConfigError:
    valid = [field.name for field in msgspec.structs.fields(target)] if is_struct(target) else []
    where = f"under `{key}`" if key else "at the top level"
    fix = f"valid keys {where}: {', '.join(valid)}" if valid else None
    close = difflib.get_close_matches(name, valid, n=1, cutoff=0.6)
    if close:
        fix = f"did you mean `{close[0]}`? {fix}"
    full = f"{key}.{name}" if key else name
    return ConfigError("unknown key", file=file, key=full, fix=fix)


def _wrong_type(
    expected: str, got: str | None, key: str, target: Any, file: Path | None
) -> ConfigError:
    options = _literal_options(target)
    wanted = "one of: " + ", ".join(options) if options else _describe(expected)
    problem = f"expected {wanted}" + (f", got {_describe(got)}" if got else "")
    if got == "null":
        fix = "an empty key is null in YAML; remove the key or give it a value"
    elif got == "str" and any(kind in expected for kind in ("int", "float", "bool")):
        fix = "write a number" if "bool" not in expected else "write true or false"
    elif "object" in expected:
        fix = "indent the settings of this section under its key"
    else:
        fix = f"give {wanted}"
    return ConfigError(problem, file=file, key=key or None, fix=fix)


def _describe(kinds: str) -> str:
    return " or ".join(_KINDS.get(kind.strip(), kind.strip()) for kind in kinds.split("|"))


def _dotted(path: str) -> str:
    """The dotted key of a msgspec path: ``$.limits.n`` -> ``limits.n``, ``$.a[1]`` -> ``a[1]``."""
    out = ""
    for name, index in _SEGMENT.findall(path.removeprefix("$")):
        out += f".{name}" if name else f"[{index}]"
    return out.removeprefix(".")


def _type_at(schema: Any, path: str) -> Any:
    """The declared type at ``path`` inside ``schema``, or ``None`` when it cannot be told."""
    current: Any = schema
    for name, _index in _SEGMENT.findall(path.removeprefix("$")):
        current = unwrap_optional(current)
        if name and is_struct(current):
            fields = {field.name: field.type for field in msgspec.structs.fields(current)}
            current = fields.get(name)
        elif not name and typing.get_origin(current) in (list, dict):
            current = typing.get_args(current)[-1]
        else:
            return None
    return unwrap_optional(current)






def _literal_options(tp: Any) -> list[str]:
    return [str(arg) for arg in typing.get_args(tp)] if typing.get_origin(tp) is Literal else []
