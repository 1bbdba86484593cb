"""Who may approve, cancel or revise a request. Pure."""

from __future__ import annotations

from collections.abc import Sequence


def may_approve(sender: str, requester: str, approvers: Sequence[str]) -> bool:
    """The requester and the configured approvers (qualified ids like `slack:U123`) may."""
    return sender == requester or sender in approvers


def approvers_for(requester: str, approvers: Sequence[str]) -> list[str]:
    """Everyone who may answer a confirmation of `requester`'s request."""
    return [requester, *[a for a in approvers if a != requester]]


PARENT_CHANNEL = "parent"
"""The channel a parent orchestrator's tasks (and the answers given in its conversation) arrive on."""


def relayed_from_parent(sender: str, delegated: bool) -> bool:
    """An answer about a delegated request (a parent orchestrator's task) that was put to the
    parent's conversation and answered there: the parent's gate checked who may answer it. Only
    the parent link speaks on channel `parent`, so only it sends as `parent:…`."""
    return delegated and sender.startswith(f"{PARENT_CHANNEL}:")
