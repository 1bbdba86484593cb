"""The environment of a child process we start: an allowlist, never our whole environment.

The orchestrator's own environment may hold chat tokens (`SLACK_BOT_TOKEN`,
`TELEGRAM_BOT_TOKEN`), model keys (`ANTHROPIC_API_KEY`) and whatever else the person who
started it had exported. A child (nats-server, a Claude Code CLI, a helper tool) gets only the
variables it needs to run: `child_environment()` keeps the allowlisted names found in our
environment and adds what the caller passes explicitly.

    env = child_environment()                                # PATH, locale, time zone
    env = child_environment({"HOME": str(home)}, keep=(*DEFAULT_KEEP, "TMPDIR"))
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping

DEFAULT_KEEP: tuple[str, ...] = ("PATH", "LANG", "LANGUAGE", "LC_*", "TZ")
"""What any child needs to find programs and format text and time; nothing that grants access."""


def child_environment(
    extra: Mapping[str, str] | None = None,
    *,
    keep: Iterable[str] = DEFAULT_KEEP,
    source: Mapping[str, str] | None = None,
) -> dict[str, str]:
    """An environment for a child process: the `keep` variables of `source`, then `extra`.

    Args:
        extra: variables the child must have; they win over kept ones.
        keep: names to copy from `source`; a name ending in `*` copies every variable with
            that prefix (`LC_*`).
        source: where kept variables come from (default: this process's environment).

    Raises:
        ValueError: a name in `extra` is empty or holds `=` or a NUL byte (the OS cannot pass it).
    """
    source = os.environ if source is None else source
    exact = set()
    prefixes = []
    for name in keep:
        if name.endswith("*"):
            prefixes.append(name[:-1])
        else:
            exact.add(name)
    env = {
        name: value for name, value in source.items()
        if name in exact or any(name.startswith(prefix) for prefix in prefixes)
    }
    for name, value in (extra or {}).items():
        if not name or "=" in name or "\0" in name or "\0" in value:
            raise ValueError(
                f"cannot pass the environment variable {name!r} to a child process: "
                "names must be non-empty without `=` or NUL, values without NUL"
            )
        env[name] = value
    return env
