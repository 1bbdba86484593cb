"""The Slack channel (slack-bolt over Socket Mode): a thread is a conversation."""

from claude_tunnels.channels.slack.channel import SlackChannel

__all__ = ["SlackChannel"]
