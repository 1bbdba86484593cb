"""Upcasters: how an event stored under an older schema is read by today's code.

Each message carries its schema version in the `Tunnels-Schema` header. Reading a message of
version `v < SCHEMA_VERSION` decodes it to a plain dict and applies the upcasters registered for
`v`, `v+1`, ... in turn, each taking the JSON object of one version to the next, before the typed
decode. Stored messages are never rewritten.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

SCHEMA_VERSION = 1
"""The version of the event shapes this code writes."""

Upcaster = Callable[[dict[str, Any]], dict[str, Any]]


class Upcasters:
    """A registry of upcasters keyed by the version they upgrade from."""

    def __init__(self, current: int = SCHEMA_VERSION) -> None:
        self.current = current
        self._steps: dict[int, list[Upcaster]] = {}

    def register(self, from_version: int) -> Callable[[Upcaster], Upcaster]:
        """Decorator: `fn(obj) -> obj` upgrades a JSON object from `from_version` to the next."""

        def add(fn: Upcaster) -> Upcaster:
            self._steps.setdefault(from_version, []).append(fn)
            return fn

        return add

    def upcast(self, obj: dict[str, Any], version: int) -> dict[str, Any]:
        """Bring `obj` from `version` up to the current version."""
        for step in range(version, self.current):
            for fn in self._steps.get(step, ()):
                obj = fn(obj)
        return obj


UPCASTERS = Upcasters()
"""The product's registry. Empty while every stored shape is the current one."""
