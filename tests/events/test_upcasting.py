"""The upcaster hook: an older stored shape is upgraded on read, a newer one is refused."""

from __future__ import annotations

from typing import Any

import pytest

from claude_tunnels.events.catalogue import AnyEvent
from claude_tunnels.events.codec import Decoder, EventDecodeError
from claude_tunnels.events.conversation import MessageReceived
from claude_tunnels.events.upcasting import Upcasters


def test_old_versions_are_upgraded_step_by_step_before_decoding() -> None:
    registry = Upcasters(current=3)

    @registry.register(1)
    def user_became_sender(obj: dict[str, Any]) -> dict[str, Any]:
        obj = dict(obj)
        obj["sender"] = obj.pop("user")
        return obj

    @registry.register(2)
    def ref_added(obj: dict[str, Any]) -> dict[str, Any]:
        return {**obj, "message_ref": obj.get("message_ref", "legacy:" + obj["id"])}

    decoder: Decoder[AnyEvent] = Decoder(AnyEvent, registry)
    v1 = b'{"type":"message.received","id":"01A","at":"2025-01-01T00:00:00Z","session_key":"s","channel":"slack","user":"slack:U1","text":"hi"}'
    event = decoder.decode(v1, version=1)
    assert isinstance(event, MessageReceived)
    assert (event.sender, event.message_ref) == ("slack:U1", "legacy:01A")
    v2 = v1.replace(b'"user"', b'"sender"')
    assert decoder.decode(v2, version=2) == event


def test_an_event_from_a_newer_version_is_refused_with_advice() -> None:
    decoder: Decoder[AnyEvent] = Decoder(AnyEvent, Upcasters(current=1))
    with pytest.raises(EventDecodeError, match="upgrade claude-tunnels"):
        decoder.decode(b"{}", version=2)
