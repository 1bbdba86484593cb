"""`tunnels events tail`, `tunnels replay`, `tunnels projections rebuild`."""

from __future__ import annotations

import argparse
import sys

from claude_tunnels.config.loader import LoadedSettings
from claude_tunnels.events.catalogue import AnyEvent
from claude_tunnels.events.codec import encode
from claude_tunnels.events.log import Stored
from claude_tunnels.projections import rebuild
from claude_tunnels.tunnels.backbone import open_backbone, standard_projections
from claude_tunnels.tunnels.bus.store import EventStore
from claude_tunnels.tunnels.errors import UserError
from claude_tunnels.tunnels.timeline import line


def _print(stored: Stored, as_json: bool) -> None:
    if as_json:
        sys.stdout.write(encode(stored.event).decode() + "\n")
    else:
        sys.stdout.write(line(stored.seq, stored.event) + "\n")
    sys.stdout.flush()


async def tail(loaded: LoadedSettings, args: argparse.Namespace) -> int:
    """Follow the stream live (optionally one request or one session)."""
    async with open_backbone(loaded, role="reader", name="tunnels-tail") as backbone:
        store = backbone.store
        if args.request:
            subjects = [store.subjects.request(args.request)]
        elif args.session:
            subjects = [store.subjects.session(args.session)]
        else:
            subjects = [store.subjects.events]
        start = 1 if args.from_start else None
        # A request's conversation facts (its approval, its opening) live on the session
        # subjects; following everything and filtering keeps one ordered stream.
        async for stored in store.follow(store.subjects.events if args.request else subjects[0], start_seq=start):
            if args.request and getattr(stored.event, "request_id", None) != args.request:
                continue
            _print(stored, args.json)
    return 0


async def replay(loaded: LoadedSettings, args: argparse.Namespace) -> int:
    """Print one request's timeline from the stream, one line per event."""
    async with open_backbone(loaded, role="reader", name="tunnels-replay") as backbone:
        timeline = await request_timeline(backbone.store, args.request_id)
        if not timeline:
            raise UserError(f"no request {args.request_id} in the event log (see `tunnels events tail` for ids)")
        for stored in timeline:
            _print(stored, args.json)
    return 0


async def request_timeline(store: EventStore, request_id: str) -> list[Stored]:
    """Every event of a request, from both its own subjects and its session's, in stream order."""
    own = await store.read(store.subjects.request(request_id))
    session_key = own[0].event.session_key if own else await _session_of(store, request_id)
    if session_key is None:
        return []
    session = await store.read(store.subjects.session(session_key))
    # The request's own conversation facts, and the messages that caused them.
    mine = [s for s in session if getattr(s.event, "request_id", None) == request_id]
    causes = {s.event.causation_id for s in mine + own}
    conversation = mine + [s for s in session if s.event.id in causes and s not in mine]
    return sorted(own + conversation, key=lambda stored: stored.seq)


async def _session_of(store: EventStore, request_id: str) -> str | None:
    # A request that never got past its opening has only session-subject events: find it.
    found: list[str] = []

    def look(seq: int, event: AnyEvent) -> None:
        if not found and getattr(event, "request_id", None) == request_id:
            found.append(event.session_key)

    await store.replay(look, store.subjects.all_of_type("request.opened"))
    return found[0] if found else None


async def rebuild_projections(loaded: LoadedSettings, args: argparse.Namespace) -> int:
    """Drop every projection and fold the whole stream into it again."""
    async with open_backbone(loaded, role="owner", name="tunnels-rebuild") as backbone:
        views = standard_projections(loaded)
        last = await rebuild(backbone.store, views)
        sessions, requests, _ = views
        print(
            f"rebuilt {len(views)} projections up to event #{last}: "
            f"{len(sessions.sessions)} sessions, {len(requests.requests)} requests; task log in {loaded.task_log_dir}"
        )
    return 0
