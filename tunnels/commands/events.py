"""`tunnels events tail`, `tunnels replay`, `tunnels projections rebuild`."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import AsyncIterator

from claude_tunnels.config.loader import LoadedSettings
from claude_tunnels.events.catalogue import REQUEST_ENDED, AnyEvent
from claude_tunnels.events.codec import encode
from claude_tunnels.events.log import Stored
from claude_tunnels.events.planning import ClarificationNeeded
from claude_tunnels.projections import rebuild
from claude_tunnels.tunnels.backbone import open_backbone, standard_projections
from claude_tunnels.tunnels.bus.store import EventStore
from claude_tunnels.tunnels.errors import UserError
from claude_tunnels.tunnels.following import follow_until_gone
from claude_tunnels.tunnels.timeline import Nesting, line


def _print(stored: Stored, as_json: bool) -> None:
    if as_json:
        sys.stdout.write(encode(stored.event).decode() + "\n")
    else:
        sys.stdout.write(line(stored.seq, stored.event) + "\n")
    sys.stdout.flush()


async def tail(loaded: LoadedSettings, args: argparse.Namespace) -> int:
    """Follow the stream live (optionally one request or one session) until the server goes away.

    With `--request`, the request is shown from its start (as `replay` shows it) and the command
    ends once the request has ended; while it runs, it keeps following. An unknown id is refused.
    """
    async with open_backbone(loaded, role="reader", name="tunnels-tail") as backbone:
        store = backbone.store
        if args.request:
            start = await store.last_seq()  # before the timeline is read: nothing falls between
            timeline = await request_timeline(store, args.request)
            if not timeline:
                raise UserError(f"no request {args.request} in the event log (see `tunnels events tail` for ids)")
            for stored in timeline:
                if stored.seq <= start:
                    _print(stored, args.json)
            if any(stored.seq <= start and _ends(stored.event, args.request) for stored in timeline):
                return 0
            # A request's conversation facts (its approval, its opening) live on the session
            # subjects; following everything and filtering keeps one ordered stream.
            events = _of_request(store.follow(store.subjects.events, start_seq=start + 1), args.request)
        else:
            subject = store.subjects.session(args.session) if args.session else store.subjects.events
            events = store.follow(subject, start_seq=1 if args.from_start else None)
        gone = await follow_until_gone(events, lambda stored: _print(stored, args.json), backbone, loaded, debug=args.debug)
    if gone:
        print(f"tunnels: {gone}; stopped following", file=sys.stderr)
        return 1
    return 0


def _ends(event: AnyEvent, request_id: str) -> bool:
    """Whether `event` is the last one of the request (its end, or a question that ended it)."""
    return isinstance(event, (*REQUEST_ENDED, ClarificationNeeded)) and getattr(event, "request_id", None) == request_id


async def _of_request(events: AsyncIterator[Stored], request_id: str) -> AsyncIterator[Stored]:
    async for stored in events:  # the subscription ends with the backbone, right after
        if getattr(stored.event, "request_id", None) == request_id:
            yield stored
            if _ends(stored.event, request_id):
                return


async def replay(loaded: LoadedSettings, args: argparse.Namespace) -> int:
    """Print one request's timeline from the stream, one line per event."""
    async with open_backbone(loaded, role="reader", name="tunnels-replay") as backbone:
        timeline = await request_timeline(backbone.store, args.request_id)
        if not timeline:
            raise UserError(f"no request {args.request_id} in the event log (see `tunnels events tail` for ids)")
        nesting = Nesting()  # a child orchestrator's reported lines under its task
        for stored in timeline:
            if args.json:
                _print(stored, True)
            else:
                sys.stdout.write(nesting.line(stored.seq, stored.event) + "\n")
        sys.stdout.flush()
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
        count = sum(1 for _ in requests.every())  # the finished ones out of memory too
        if args.json:
            print(json.dumps({"projections": len(views), "last_seq": last, "sessions": len(sessions.sessions),
                              "requests": count, "task_log": str(loaded.task_log_dir)}))
        else:
            print(
                f"rebuilt {len(views)} projections up to event #{last}: "
                f"{len(sessions.sessions)} sessions, {count} requests; task log in {loaded.task_log_dir}"
            )
    return 0
