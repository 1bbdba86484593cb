"""Two questions about the settings' type annotations, asked by the error messages (`_explain`) and
by `tunnels config explain` (`keys`)."""

from __future__ import annotations

import types
import typing
from typing import Any

import msgspec


def unwrap_optional(tp: Any) -> Any:
    """`X` for `X | None` (or `Optional[X]`); any other annotation as it is."""
    if typing.get_origin(tp) in (typing.Union, types.UnionType):
        members = [arg for arg in typing.get_args(tp) if arg is not type(None)]
        if len(members) == 1:
            return members[0]
    return tp


def is_struct(tp: Any) -> bool:
    """Whether `tp` is a settings section (a msgspec Struct class)."""
    return isinstance(tp, type) and issubclass(tp, msgspec.Struct)
