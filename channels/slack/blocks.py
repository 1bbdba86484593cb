"""Block Kit for answers: a plan with Approve / Cancel buttons, a permission question with Allow /
Deny, a request's changes with Merge / Open PR / Discard per repository."""

from __future__ import annotations

from typing import Any

APPROVE_ACTION = "tunnels_approve"
CANCEL_ACTION = "tunnels_cancel"
ALLOW_ACTION = "tunnels_allow"
DENY_ACTION = "tunnels_deny"
MERGE_ACTION = "tunnels_merge"
PR_ACTION = "tunnels_pr"
DISCARD_ACTION = "tunnels_discard"
ACTIONS = {
    APPROVE_ACTION: "approve", CANCEL_ACTION: "cancel", ALLOW_ACTION: "approve", DENY_ACTION: "cancel",
    MERGE_ACTION: "merge", PR_ACTION: "pr", DISCARD_ACTION: "discard",
}
"""Button `action_id` -> the `MessageReceived.action` it stands for. A plan's buttons carry the
request id as their value; a question's carry `<request id>:<permission id>`; a request's changes'
carry `<request id>:<repository>`."""
QUESTION_ACTIONS = frozenset({ALLOW_ACTION, DENY_ACTION})
CHANGES_ACTIONS = frozenset({MERGE_ACTION, PR_ACTION, DISCARD_ACTION})
MAX_CHANGES_BUTTON_ROWS = 20
"""Repositories given buttons in one message (Slack allows 50 blocks); the rest are decided in words."""

ACTIONS_BLOCK_ID = "tunnels_approval"
QUESTION_BLOCK_ID = "tunnels_question"


def section(mrkdwn: str) -> dict[str, Any]:
    """A section of (already escaped) mrkdwn text; at most `SECTION_LIMIT` characters."""
    return {"type": "section", "text": {"type": "mrkdwn", "text": mrkdwn}}


def approval_blocks(mrkdwn: str, request_id: str) -> list[dict[str, Any]]:
    """The plan text followed by Approve (primary) and Cancel (danger) buttons for `request_id`."""
    return [section(mrkdwn), {
        "type": "actions", "block_id": ACTIONS_BLOCK_ID,
        "elements": [
            _button("Approve", APPROVE_ACTION, request_id, "primary"),
            _button("Cancel", CANCEL_ACTION, request_id, "danger"),
        ],
    }]


def _button(label: str, action_id: str, request_id: str, style: str | None) -> dict[str, Any]:
    button: dict[str, Any] = {"type": "button", "action_id": action_id, "value": request_id, "text": {"type": "plain_text", "text": label[:75]}}
    return {**button, "style": style} if style else button


def question_blocks(mrkdwn: str, request_id: str, permission_id: str) -> list[dict[str, Any]]:
    """A permission question followed by Allow (primary) and Deny (danger) buttons."""
    value = f"{request_id}:{permission_id}"
    return [section(mrkdwn), {
        "type": "actions", "block_id": QUESTION_BLOCK_ID,
        "elements": [_button("Allow", ALLOW_ACTION, value, "primary"), _button("Deny", DENY_ACTION, value, "danger")],
    }]


def changes_blocks(mrkdwn: str, request_id: str, repos: list[str]) -> list[dict[str, Any]]:
    """A request's changes followed, per repository, by Merge (primary), Open PR and Discard (danger)
    buttons (named after the repository when there are several)."""
    blocks = [section(mrkdwn)]
    for index, repo in enumerate(repos[:MAX_CHANGES_BUTTON_ROWS]):
        suffix, value = (f" {repo}" if len(repos) > 1 else ""), f"{request_id}:{repo}"
        blocks.append({"type": "actions", "block_id": f"tunnels_changes_{index}", "elements": [
            _button(f"Merge{suffix}", MERGE_ACTION, value, "primary"), _button(f"Open PR{suffix}", PR_ACTION, value, None),
            _button(f"Discard{suffix}", DISCARD_ACTION, value, "danger"),
        ]})
    return blocks
