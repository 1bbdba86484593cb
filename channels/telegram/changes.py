"""Merge / Open PR / Discard buttons under a request's changes in Telegram. Pure.

A button carries `<decision>:<request id>:<n>`, `n` the repository's place in the request's
proposal (a repository's name may not fit Telegram's 64 bytes of callback data). A press is
checked here first, like a plan's: someone who may not decide is told so and nothing is recorded;
a press on a repository already decided is answered and not recorded.
"""

from __future__ import annotations

from collections.abc import Sequence

from aiogram.types import InlineKeyboardButton, InlineKeyboardMarkup

from claude_tunnels.actors.confirm_policy import may_approve
from claude_tunnels.channels.telegram.addressing import MAX_CALLBACK_BYTES, Press, refusal
from claude_tunnels.config.settings import TelegramChannelSettings
from claude_tunnels.projections.requests import RequestState

CHANGES_ACTIONS = {"merge": ("Merge", "Merging…"), "pr": ("Open PR", "Pushing and opening a pull request…"), "discard": ("Discard", "Discarding…")}
"""A decision -> its button's label and the answer to a press."""
MAX_ROWS = 20


def changes_callback(decision: str, request_id: str, index: int) -> str | None:
    """`merge:<request id>:<n>`, or None when it would not fit Telegram's 64 bytes."""
    data = f"{decision}:{request_id}:{index}"
    return data if decision in CHANGES_ACTIONS and len(data.encode()) <= MAX_CALLBACK_BYTES else None


def parse_changes_callback(data: str | None) -> tuple[str, str, int] | None:
    """(decision, request id, repository's place) of a changes button, or None."""
    decision, request_id, index = ((data or "").split(":") + ["", ""])[:3]
    if decision not in CHANGES_ACTIONS or not request_id or not index.isdigit():
        return None
    return decision, request_id, int(index)


def changes_keyboard(request_id: str, repos: Sequence[tuple[int, str]]) -> InlineKeyboardMarkup | None:
    """One row of Merge / Open PR / Discard per (place, repository), named when there are several."""
    rows = []
    for index, repo in repos[:MAX_ROWS]:
        suffix = f" {repo}" if len(repos) > 1 else ""
        row = [InlineKeyboardButton(text=f"{label}{suffix}"[:64], callback_data=data)
               for decision, (label, _) in CHANGES_ACTIONS.items() if (data := changes_callback(decision, request_id, index))]
        if len(row) == len(CHANGES_ACTIONS):
            rows.append(row)
    return InlineKeyboardMarkup(inline_keyboard=rows) if rows else None


def read_changes_press(
    data: str | None, user_id: int, chat_id: int, request: RequestState | None,
    settings: TelegramChannelSettings, approvers: Sequence[str],
) -> tuple[Press, str]:
    """What to do with a press on a changes button, and the repository it is about ("" when none)."""
    refused = refusal(user_id, chat_id, settings)
    if refused:
        return Press(refused), ""
    parsed = parse_changes_callback(data)
    repos = list(request.changes) if request is not None else []
    if parsed is None or request is None or parsed[1] != request.request_id or parsed[2] >= len(repos):
        return Press("This button no longer works; reply merge, pr or discard instead."), ""
    decision, _, index = parsed
    repo = repos[index]
    state = request.changes[repo]
    if state.status != "open":
        return Press(f"{repo}: {state.status} already."), repo
    if not may_approve(f"telegram:{user_id}", request.requester, approvers):
        return Press(f"Only {request.requester} or an approver can decide about these changes."), repo
    return Press(CHANGES_ACTIONS[decision][1], alert=False, action=decision), repo
