"""Block Kit for plan approval: the plan as a section with Approve / Cancel buttons."""

from __future__ import annotations

from typing import Any

APPROVE_ACTION = "tunnels_approve"
CANCEL_ACTION = "tunnels_cancel"
ACTIONS = {APPROVE_ACTION: "approve", CANCEL_ACTION: "cancel"}
"""Button `action_id` -> the `MessageReceived.action` it stands for; the button's value is the request id."""

ACTIONS_BLOCK_ID = "tunnels_approval"


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
