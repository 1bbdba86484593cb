"""The Slack app manifest this channel needs: `tunnels slack manifest`, pasted at api.slack.com/apps.

Least privilege: one bot scope per thing the channel does (`METHOD_SCOPES` for the Web API
methods it calls, `EVENT_SCOPES` for the events it listens to), Socket Mode (no public URL),
interactivity for the buttons, and the App Home's messages tab for direct messages. The
app-level token (`xapp-…`, scope `connections:write`) cannot be made by a manifest: it is
generated once the app exists (Basic Information → App-Level Tokens).
"""

from __future__ import annotations

from typing import Any

METHOD_SCOPES: dict[str, str | None] = {
    "auth.test": None,                # who the bot is (any token)
    "apps.connections.open": None,    # the Socket Mode URL (the app-level token's connections:write)
    "chat.postMessage": "chat:write",
    "chat.update": "chat:write",      # the status message, buttons removed once answered
    "chat.postEphemeral": "chat:write",  # refusals shown to one person
    "users.info": "users:read",       # people's display names instead of their ids
}
"""Web API method the channel calls -> the bot scope it needs (None: no bot scope)."""

EVENT_SCOPES: dict[str, str] = {
    "app_mention": "app_mentions:read",
    "message.channels": "channels:history",
    "message.groups": "groups:history",    # private channels
    "message.im": "im:history",            # direct messages
    "message.mpim": "mpim:history",        # group direct messages
}
"""Event the channel subscribes to -> the bot scope that delivers it."""


def bot_scopes() -> list[str]:
    """Every bot scope the channel needs, sorted."""
    needed = {scope for scope in METHOD_SCOPES.values() if scope} | set(EVENT_SCOPES.values())
    return sorted(needed)


def manifest(name: str = "claude-tunnels") -> dict[str, Any]:
    """The app manifest (Slack's schema: display_information, features, oauth_config, settings)."""
    return {
        "display_information": {
            "name": name,
            "description": "Drive Claude Code agents across your projects: plans to approve, progress, results.",
        },
        "features": {
            "app_home": {"home_tab_enabled": False, "messages_tab_enabled": True, "messages_tab_read_only_enabled": False},
            "bot_user": {"display_name": name, "always_online": True},
        },
        "oauth_config": {"scopes": {"bot": bot_scopes()}},
        "settings": {
            "event_subscriptions": {"bot_events": list(EVENT_SCOPES)},
            "interactivity": {"is_enabled": True},
            "org_deploy_enabled": False,
            "socket_mode_enabled": True,
            "token_rotation_enabled": False,
        },
    }
