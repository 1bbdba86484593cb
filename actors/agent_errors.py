"""Errors of one agent session, classified by what the caller can do about them."""

from __future__ import annotations

from claude_tunnels.events.values import Usage


class AgentError(Exception):
    """An agent session did not produce a usable answer.

    `message` is one short human line (never a traceback); `retryable` says whether running the
    same session again may succeed (a timeout, an overloaded API) or not (a bad answer, a crash).
    `usage` is what the session cost before it failed, when the CLI reported it (zero otherwise):
    a failed task is still paid for.
    """

    retryable: bool = False

    def __init__(self, message: str, *, retryable: bool | None = None, usage: Usage | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.usage = usage if usage is not None else Usage()
        if retryable is not None:
            self.retryable = retryable

    def __str__(self) -> str:
        return self.message


class AgentTimeout(AgentError):
    """The session gave no final answer within its time limit; its CLI process was stopped."""

    retryable = True

    def __init__(self, timeout_s: float) -> None:
        super().__init__(f"no answer within {timeout_s:g} s")
        self.timeout_s = timeout_s


class AgentFailed(AgentError):
    """The CLI crashed, could not start, or ended with an error result (API error, max turns,
    cost budget reached).

    `api_status` is the HTTP status of the model API error that ended the session, if any.
    """

    def __init__(
        self,
        message: str,
        *,
        api_status: int | None = None,
        retryable: bool | None = None,
        usage: Usage | None = None,
    ) -> None:
        if retryable is None:
            retryable = api_status is not None and (api_status == 429 or api_status >= 500)
        super().__init__(message, retryable=retryable, usage=usage)
        self.api_status = api_status


class AgentOutputInvalid(AgentError):
    """The session ended without the required structured output, or with one that is malformed."""
