"""Errors of the workspace tree. None is retryable: a name or the folders must change."""

from __future__ import annotations

from collections.abc import Sequence


class TreeError(Exception):
    """Base of every workspace-tree error."""


class UnsafeName(TreeError, ValueError):
    """A project, workspace or file name that could escape the root or hide something."""

    def __init__(self, name: str, reason: str) -> None:
        self.name = name
        self.reason = reason
        super().__init__(f"unsafe name {name!r}: {reason}")


class UnknownProject(TreeError, LookupError):
    """No project of that name in the tree."""

    def __init__(self, name: str, known: Sequence[str], suggestion: str | None = None) -> None:
        self.name = name
        self.known = tuple(known)
        self.suggestion = suggestion
        super().__init__(_unknown("project", name, self.known, suggestion))


class UnknownWorkspace(TreeError, LookupError):
    """No workspace of that qualified name (``project/path`` or ``project``) in the tree."""

    def __init__(self, name: str, known: Sequence[str], suggestion: str | None = None) -> None:
        self.name = name
        self.known = tuple(known)
        self.suggestion = suggestion
        super().__init__(_unknown("workspace", name, self.known, suggestion))


class DuplicateWorkspace(TreeError):
    """Two workspaces (e.g. a local and a remote one) claim the same qualified name."""

    def __init__(self, qualified: str) -> None:
        self.qualified = qualified
        super().__init__(
            f"workspace {qualified!r} is already in the tree; give the remote one another name"
        )


def _unknown(kind: str, name: str, known: tuple[str, ...], suggestion: str | None) -> str:
    text = f"unknown {kind} {name!r}"
    if suggestion:
        text += f"; did you mean {suggestion!r}?"
    if not known:
        return text + f"; no {kind}s were discovered (is the root right?)"
    shown = ", ".join(known[:20]) + (f", … ({len(known) - 20} more)" if len(known) > 20 else "")
    return text + f"; known: {shown}"
