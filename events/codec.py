"""JSON on the wire: one reusable encoder and one decoder per union, built once."""

from __future__ import annotations

from typing import Any, Generic, TypeVar

import msgspec

from claude_tunnels.events.catalogue import AnyEvent, RequestFamily, SessionFamily
from claude_tunnels.events.upcasting import SCHEMA_VERSION, UPCASTERS, Upcasters

E = TypeVar("E")

_encoder = msgspec.json.Encoder()


class EventDecodeError(ValueError):
    """A stored message is not an event this code can read (names the reason)."""


def encode(event: Any) -> bytes:
    """An event as compact JSON."""
    return _encoder.encode(event)


class Decoder(Generic[E]):
    """Decodes JSON into one union of events, upcasting older schema versions first."""

    def __init__(self, union: Any, upcasters: Upcasters = UPCASTERS) -> None:
        self._typed = msgspec.json.Decoder(union)
        self._raw = msgspec.json.Decoder(dict[str, Any])
        self._union = union
        self._upcasters = upcasters

    def decode(self, data: bytes, version: int = SCHEMA_VERSION) -> E:
        """Decode one event stored under schema `version`."""
        try:
            if version == self._upcasters.current:
                return self._typed.decode(data)
            if version > self._upcasters.current:
                raise EventDecodeError(
                    f"event written by a newer version (schema {version} > {self._upcasters.current}); upgrade claude-tunnels"
                )
            obj = self._upcasters.upcast(self._raw.decode(data), version)
            return msgspec.convert(obj, self._union)
        except msgspec.ValidationError as err:
            raise EventDecodeError(f"not a known event: {err}") from err
        except msgspec.DecodeError as err:
            raise EventDecodeError(f"not JSON: {err}") from err


EVENTS: Decoder[AnyEvent] = Decoder(AnyEvent)
SESSION_EVENTS: Decoder[SessionFamily] = Decoder(SessionFamily)
REQUEST_EVENTS: Decoder[RequestFamily] = Decoder(RequestFamily)
