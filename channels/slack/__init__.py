"""The Slack channel (slack-bolt over Socket Mode): a thread is a conversation."""

from channels.slack.channel import SlackChannel

__all__ = ["SlackChannel"]
