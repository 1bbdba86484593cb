"""Block Kit for answers: a plan with Approve / Cancel buttons, a permission question with Allow / Deny."""

from __future__ import annotations

from typing import Any

APPROVE_ACTION = "tunnels_approve"
CANCEL_ACTION = "tunnels_cancel"
ALLOW_ACTION = "tunnels_allow"
DENY_ACTION = "tunnels_deny"
ACTIONS = {APPROVE_ACTION: "approve", CANCEL_ACTION: "cancel", ALLOW_ACTION: "approve", DENY_ACTION: "cancel"}
"""Button `action_id` -> the `MessageReceived.action` it stands for. A plan's buttons carry the
request id as their value; a question's carry `<request id>:<permission id>`."""
QUESTION_ACTIONS = frozenset({ALLOW_ACTION, DENY_ACTION})

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


def _button(label: str, action_id: str, request_id: str, style: str) -> dict[str, Any]:
    return {"type": "button", "action_id": action_id, "value": request_id, "style": style,
            "text": {"type": "plain_text", "text": label}}


def question_blocks(mrkdwn: str, request_id: str, permission_id: str) -> list[dict[str, Any]]:
    """A permission question followed by Allow (primary) and Deny (danger) buttons."""
    value = f"{request_id}:{permission_id}"
    return [section(mrkdwn), {
        "type": "actions", "block_id": QUESTION_BLOCK_ID,
        "elements": [_button("Allow", ALLOW_ACTION, value, "primary"), _button("Deny", DENY_ACTION, value, "danger")],
    }]
