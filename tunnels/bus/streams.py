"""Streams and consumers, declared in `nats/jetstream.yaml` and created idempotently at start."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

import yaml
from nats.errors import Error as NatsError
from nats.js import JetStreamContext
from nats.js.api import (
    AckPolicy,
    ConsumerConfig,
    DeliverPolicy,
    DiscardPolicy,
    KeyValueConfig,
    RetentionPolicy,
    StorageType,
    StreamConfig,
)
from nats.js.errors import BucketNotFoundError, NotFoundError

from claude_tunnels.tunnels.bus.errors import StreamMisconfigured
from claude_tunnels.tunnels.natsconf import nats_config_file


@dataclass(frozen=True)
class Layout:
    """The names every component uses, filled from settings into the declarations."""

    prefix: str = "tunnels"
    stream: str = "TUNNELS_EVENTS"
    retention_days: float = 30
    duplicate_window_s: float = 86400
    replicas: int = 1
    """Copies kept of each stream, consumer and key-value bucket (`nats.replicas`)."""

    def values(self) -> dict[str, str]:
        """The placeholder values of `nats/jetstream.yaml`."""
        return {
            "prefix": self.prefix,
            "stream": self.stream,
            "replicas": str(self.replicas),
            "retention_s": str(int(self.retention_days * 86400)),
            # JetStream refuses a duplicate window longer than the stream's max age.
            "duplicate_window_s": str(int(min(self.duplicate_window_s, self.retention_days * 86400))),
        }


def _fill(value: Any, values: dict[str, str]) -> Any:
    if isinstance(value, str):
        for key, replacement in values.items():
            value = value.replace("{" + key + "}", replacement)
        return value
    if isinstance(value, list):
        return [_fill(item, values) for item in value]
    if isinstance(value, dict):
        return {key: _fill(item, values) for key, item in value.items()}
    return value


def declarations(layout: Layout) -> dict[str, Any]:
    """The declarations of `nats/jetstream.yaml` with the layout's names filled in."""
    return _fill(yaml.safe_load(nats_config_file("jetstream.yaml")), layout.values())


def stream_config(spec: dict[str, Any]) -> StreamConfig:
    """A nats-py StreamConfig from one declared stream."""
    return StreamConfig(
        name=spec["name"],
        subjects=list(spec["subjects"]),
        storage=StorageType(spec.get("storage", "file")),
        retention=RetentionPolicy(spec.get("retention", "limits")),
        discard=DiscardPolicy(spec.get("discard", "old")),
        max_age=float(spec["max_age_s"]),
        duplicate_window=float(spec.get("duplicate_window_s", 120)),
        allow_direct=bool(spec.get("allow_direct", False)),
        deny_delete=bool(spec.get("deny_delete", False)),
        num_replicas=int(spec.get("replicas", 1)),
    )


def consumer_config(spec: dict[str, Any]) -> ConsumerConfig:
    """A durable, explicitly acknowledged consumer that starts with what arrives after it is created."""
    return ConsumerConfig(
        durable_name=spec["durable"],
        filter_subject=spec["filter"],
        ack_policy=AckPolicy.EXPLICIT,
        deliver_policy=DeliverPolicy.NEW,
        ack_wait=float(spec.get("ack_wait_s", 30)),
        max_ack_pending=int(spec.get("max_ack_pending", 1000)),
        num_replicas=int(spec.get("replicas", 1)),
    )


async def ensure_consumer(js: JetStreamContext, stream: str, config: ConsumerConfig, *, create: bool = True) -> None:
    """Create a durable consumer (unless `create` is False: a push subscription makes its own, with
    its deliver subject), or bring an existing one to `config`'s replicas (idempotent)."""
    assert config.durable_name is not None
    try:
        info = await js.consumer_info(stream, config.durable_name)
    except NotFoundError:
        if create:
            await js.add_consumer(stream, config)
        return
    if (info.config.num_replicas or 1) != (config.num_replicas or 1):
        # A consumer's replicas may change in place; its position and pending acks are kept.
        await js.add_consumer(stream, replace(info.config, num_replicas=config.num_replicas))


async def ensure_bucket(js: JetStreamContext, config: KeyValueConfig) -> Any:
    """The key-value bucket `config.bucket`, created, or brought to `config.replicas` (idempotent)."""
    try:
        kv = await js.key_value(config.bucket)
    except BucketNotFoundError:
        return await js.create_key_value(config)
    stream = f"KV_{config.bucket}"
    info = await js.stream_info(stream)
    if (info.config.num_replicas or 1) != config.replicas:
        await js.update_stream(replace(info.config, num_replicas=config.replicas))
    return kv


async def ensure_streams(js: JetStreamContext, layout: Layout) -> dict[str, Any]:
    """Create or update every declared stream; return the declarations."""
    decl = declarations(layout)
    for spec in decl["streams"].values():
        config = stream_config(spec)
        name = str(spec["name"])
        try:
            info = await js.stream_info(name)
        except NotFoundError:
            await js.add_stream(config)
            continue
        # A stream made before a subject was added (the term markers) gets it; others are refused.
        if not set(info.config.subjects or []) <= set(config.subjects or []):
            raise StreamMisconfigured(
                f"stream {config.name} exists with subjects {info.config.subjects}, expected "
                f"{config.subjects}; use another nats.stream name or remove the old stream"
            )
        if info.config.retention != config.retention:
            raise StreamMisconfigured(
                f"stream {config.name} exists with retention {info.config.retention}; expected {config.retention}"
            )
        try:
            await js.update_stream(config)
        except NatsError as err:
            raise StreamMisconfigured(f"stream {config.name} could not be updated: {err}") from err
    return decl
