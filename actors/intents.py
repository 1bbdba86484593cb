"""What a message means to a session: approve, cancel, dismiss, status, or plain text. Pure.

`dismiss` ("done", "no thanks", "that's all") closes what waits for an answer, as `cancel` does,
but is never a stop: it drops a plan waiting for approval or a clarifying question, and is no
request to run or to queue; a running request goes on."""

from __future__ import annotations

import re
import unicodedata
from typing import Literal

Intent = Literal["approve", "cancel", "dismiss", "status", "text"]

_APPROVE_PHRASES = {
    "yes", "y", "yeah", "yep", "yup", "ok", "okay", "k", "go", "go ahead", "approve", "approved", "lgtm",
    "sure", "do it", "proceed", "run it", "ship it", "confirm", "confirmed", "yes please", "sounds good",
    "looks good", "go for it", "👍", "✅", "👌", "🚀",
}
_CANCEL_PHRASES = {
    "cancel", "stop", "no", "nope", "n", "abort", "halt", "never mind", "nevermind", "don't", "dont",
    "cancel it", "stop it", "forget it", "❌", "🛑", "👎",
}
_DISMISS_PHRASES = {
    "done", "i'm done", "im done", "all done", "we're done", "nothing", "nothing else", "no thanks", "no thank you",
    "not now", "that's all", "thats all", "that's it", "thats it", "drop it", "drop the plan", "skip it", "leave it",
}
_STATUS_PHRASES = {"status", "progress", "status?", "what's the status", "whats the status", "how is it going"}
_ALLOW_PHRASES = (_APPROVE_PHRASES - {"proceed"}) | {"allow", "allow it", "allowed", "permit", "grant", "grant it", "yes allow"}
_DENY_PHRASES = {"deny", "denied", "deny it", "no", "nope", "n", "refuse", "reject", "don't", "dont", "👎", "❌", "no way"}


def _tokens(text: str) -> list[str]:
    # Emoji and words are tokens; punctuation and skin-tone/variation modifiers are dropped; a
    # typographic apostrophe (phones write "that’s") is the plain one.
    cleaned = "".join(
        char for char in unicodedata.normalize("NFKC", text.lower()).replace("\u2019", "'")
        if unicodedata.category(char) not in ("Sk", "Mn", "Cf") and char not in "\ufe0f"
    )
    return [token for token in re.findall(r"[\w']+|[^\w\s]", cleaned) if token not in set(".,!?:;-—()\"'`*_~")]


def _is(tokens: list[str], phrases: set[str]) -> bool:
    if not tokens:
        return False
    if " ".join(tokens) in phrases:
        return True
    # "ok 👍", "yes, go ahead": every token (or adjacent pair) is itself an answer of that kind.
    i = 0
    while i < len(tokens):
        if i + 1 < len(tokens) and f"{tokens[i]} {tokens[i + 1]}" in phrases:
            i += 2
        elif tokens[i] in phrases:
            i += 1
        else:
            return False
    return True


def intent_of(text: str) -> Intent:
    """Classify a short reply; anything that is not clearly an answer is `text`."""
    tokens = _tokens(text)
    if len(tokens) > 6:
        return "text"
    if _is(tokens, _STATUS_PHRASES):
        return "status"
    if _is(tokens, _APPROVE_PHRASES):
        return "approve"
    if _is(tokens, _DISMISS_PHRASES):
        return "dismiss"
    if _is(tokens, _CANCEL_PHRASES | _DISMISS_PHRASES):
        return "cancel"  # "stop, that's all": a stop word makes it a stop
    return "text"


def answers_a_plan(intent: Intent) -> bool:
    """Whether a message of this intent answers a plan waiting for approval (a yes, a no, a
    dismissal) rather than revising it or asking something else."""
    return intent in ("approve", "cancel", "dismiss")


def permission_answer(text: str) -> bool | None:
    """A short reply to a permission question: True (allow), False (deny), or None (not an answer).

    "stop" and "cancel" are not answers: they still cancel the whole request."""
    tokens = _tokens(text)
    if len(tokens) > 6:
        return None
    if _is(tokens, _DENY_PHRASES):
        return False
    if _is(tokens, _ALLOW_PHRASES):
        return True
    return None
