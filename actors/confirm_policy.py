"""Who may approve, cancel or revise a request. Pure."""

from __future__ import annotations

from collections.abc import Sequence


def may_approve(sender: str, requester: str, approvers: Sequence[str]) -> bool:
    """The requester and the configured approvers (qualified ids like `slack:U123`) may."""
    return sender == requester or sender in approvers


def approvers_for(requester: str, approvers: Sequence[str]) -> list[str]:
    """Everyone who may answer a confirmation of `requester`'s request."""
    return [requester, *[a for a in approvers if a != requester]]
