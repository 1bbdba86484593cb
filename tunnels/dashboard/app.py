"""The aiohttp application: the pages, the JSON API, the event streams (SSE) and `/metrics`.

Routes (README "Dashboard and HTTP API"):

    GET  /                              the requests page         GET /requests/{id}   one request's page
    GET  /login?token=…                 keep the token in a cookie, then the requests page
    GET  /api/requests?status=&q=       summary rows, newest first
    POST /api/requests                  {"text", "conversation"?}: open a request (the api channel)
    GET  /api/requests/{id}             the request in full
    POST /api/requests/{id}/approve     approve its plan     POST /api/requests/{id}/cancel   cancel it
    POST /api/requests/{id}/answer      {"text"}: say something in its conversation
    POST /api/requests/{id}/changes     {"decision": merge|pr|discard, "repo"}: decide its changes
    GET  /api/requests/{id}/events      its events as SSE: the stored ones, then live, until it ends
    GET  /api/requests/{id}/timeline    its timeline, one line per event, as `tunnels replay` prints it
    GET  /api/overview                  cost by project and day; remote agents and child orchestrators
    GET  /api/conversations/{name}/replies?after=SEQ   what the orchestrator said in an api conversation
    GET  /api/stream                    every row that changes, as SSE (the requests page)
    GET  /metrics                       Prometheus text
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from importlib import resources
from typing import Any

import msgspec
from aiohttp import web

from claude_tunnels.channels import api as api_channel
from claude_tunnels.events.catalogue import REQUEST_ENDED, AnyEvent
from claude_tunnels.events.changes import DECISIONS
from claude_tunnels.events.codec import encode
from claude_tunnels.events.planning import ClarificationNeeded
from claude_tunnels.tunnels.dashboard.auth import COOKIE, Auth
from claude_tunnels.tunnels.dashboard.metrics import CONTENT_TYPE, render_metrics
from claude_tunnels.tunnels.dashboard.service import DashboardService, Outcome
from claude_tunnels.tunnels.timeline import line

SERVICE = web.AppKey("service", DashboardService)
AUTH = web.AppKey("auth", Auth)
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
_OPEN_PATHS = ("/login", "/static/")


def _json(value: Any, status: int = 200) -> web.Response:
    return web.Response(body=msgspec.json.encode(value), status=status, content_type="application/json")


def _error(status: int, message: str) -> web.Response:
    return _json({"error": message}, status)


@web.middleware
async def _authenticate(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Every call but the login and the static files needs a known token when users are configured;
    without users (loopback only) reads are open and actions refused."""
    auth = request.app[AUTH]
    if not auth.host_allowed(request.headers.get("Host")):
        return _error(403, "without dashboard.users the dashboard answers only calls to localhost or 127.0.0.1")
    identity = auth.identity(request)
    if identity is None and auth.required and not request.path.startswith(_OPEN_PATHS):
        if request.path.startswith(("/api/", "/metrics")):
            return _error(401, "a token is needed: send Authorization: Bearer <token> (dashboard.users)")
        raise web.HTTPFound("/login")
    if request.method == "POST" and identity is None:
        return _error(403, "acting needs a known user: add one to dashboard.users (`tunnels dashboard token IDENTITY`)")
    return await handler(request)


def _identity(request: web.Request) -> str:
    """The caller's identity (the middleware let only known callers act: "" is a reader on loopback)."""
    return request.app[AUTH].identity(request) or ""


def build_app(service: DashboardService, auth: Auth) -> web.Application:
    """The application, its routes and its authentication."""
    app = web.Application(middlewares=[_authenticate], client_max_size=256 * 1024)
    app[SERVICE] = service
    app[AUTH] = auth
    app.router.add_get("/", _page("requests.html"))
    app.router.add_get("/requests/{id}", _page("request.html"))
    app.router.add_get("/login", _login)
    app.router.add_get("/static/{name}", _static)
    app.router.add_get("/api/requests", _list)
    app.router.add_post("/api/requests", _open)
    app.router.add_get("/api/requests/{id}", _detail)
    app.router.add_post("/api/requests/{id}/approve", _action("approve"))
    app.router.add_post("/api/requests/{id}/cancel", _action("cancel"))
    app.router.add_post("/api/requests/{id}/answer", _answer)
    app.router.add_post("/api/requests/{id}/changes", _changes)
    app.router.add_get("/api/requests/{id}/events", _request_events)
    app.router.add_get("/api/requests/{id}/timeline", _timeline)
    app.router.add_get("/api/overview", _overview)
    app.router.add_get("/api/conversations/{name}/replies", _replies)
    app.router.add_get("/api/stream", _rows_stream)
    app.router.add_get("/metrics", _metrics)
    app.router.add_get("/api/me", _me)
    return app


# -- pages ---------------------------------------------------------------------------------

_STATIC_TYPES = {".html": "text/html", ".css": "text/css", ".js": "text/javascript", ".svg": "image/svg+xml"}


def _asset(name: str) -> bytes | None:
    if "/" in name or name.startswith(".") or not any(name.endswith(ext) for ext in _STATIC_TYPES):
        return None
    item = resources.files("claude_tunnels.tunnels.dashboard").joinpath("static", name)
    return item.read_bytes() if item.is_file() else None


def _page(name: str) -> Handler:
    async def page(request: web.Request) -> web.StreamResponse:
        body = _asset(name)
        assert body is not None, name
        return web.Response(body=body, content_type="text/html", headers={"Cache-Control": "no-store"})

    return page


async def _static(request: web.Request) -> web.StreamResponse:
    name = request.match_info["name"]
    body = _asset(name)
    if body is None:
        raise web.HTTPNotFound()
    kind = next(t for ext, t in _STATIC_TYPES.items() if name.endswith(ext))
    return web.Response(body=body, content_type=kind)


async def _login(request: web.Request) -> web.StreamResponse:
    token = request.query.get("token", "")
    if not token:
        body = (b"<!doctype html><title>tunnels: sign in</title><form method=get action=/login>"
                b"<label>Token <input name=token type=password autofocus></label> <button>Sign in</button></form>")
        return web.Response(body=body, content_type="text/html")
    if request.app[AUTH].identity_of(token) is None:
        return web.Response(status=401, text="unknown token", content_type="text/plain")
    response = web.HTTPFound("/")
    response.set_cookie(COOKIE, token, httponly=True, samesite="Strict", path="/")
    raise response


async def _me(request: web.Request) -> web.StreamResponse:
    return _json({"identity": _identity(request) or None})


# -- the JSON API --------------------------------------------------------------------------


async def _list(request: web.Request) -> web.StreamResponse:
    service = request.app[SERVICE]
    try:
        limit = min(1000, max(1, int(request.query.get("limit", "200"))))
    except ValueError:
        return _error(400, "limit must be a number")
    rows = service.view.rows_matching(status=request.query.get("status", ""), query=request.query.get("q", ""), limit=limit)
    return _json({"requests": rows, "total": len(service.view.rows), "by_status": service.view.by_status()})


async def _detail(request: web.Request) -> web.StreamResponse:
    detail = await request.app[SERVICE].detail(request.match_info["id"])
    if detail is None:
        return _error(404, f"no request {request.match_info['id'][:80]}")
    return _json(detail)


async def _timeline(request: web.Request) -> web.StreamResponse:
    service = request.app[SERVICE]
    if service.row(request.match_info["id"]) is None:
        return _error(404, f"no request {request.match_info['id'][:80]}")
    return _json({"lines": [line(s.seq, s.event) for s in await service.timeline(request.match_info["id"])]})


async def _overview(request: web.Request) -> web.StreamResponse:
    service = request.app[SERVICE]
    cost = [{"project": p, "day": d, "cost_usd": round(usd, 6)} for (p, d), usd in sorted(service.view.cost_by_project_day.items())]
    agents = None
    if service.presence is not None:
        agents = [
            {"workspace": w, "kind": p.kind, "host": p.host, "version": p.version, "draining": p.draining}
            for w, p in sorted(service.presence().items())
        ]
    return _json({"cost": cost, "agents": agents})


async def _body(request: web.Request) -> dict[str, Any]:
    try:
        body = await request.json() if request.can_read_body else {}
    except json.JSONDecodeError as err:
        raise web.HTTPBadRequest(text=json.dumps({"error": f"the body is not JSON: {err}"}), content_type="application/json") from None
    if not isinstance(body, dict):
        raise web.HTTPBadRequest(text=json.dumps({"error": "the body must be a JSON object"}), content_type="application/json")
    return body


def _outcome(outcome: Outcome) -> web.Response:
    status = 403 if outcome.refused else 202 if outcome.kind == "pending" else 200
    return _json({"outcome": outcome.kind, "text": outcome.text, "request_id": outcome.request_id,
                  "session_key": outcome.session_key, "refused": outcome.refused}, status)


async def _open(request: web.Request) -> web.StreamResponse:
    body = await _body(request)
    text = body.get("text")
    if not isinstance(text, str) or not text.strip():
        return _error(400, 'give "text": what to do')
    try:
        session_key = api_channel.conversation_key(_identity(request), str(body.get("conversation", "default")))
    except api_channel.ConversationNameError as err:
        return _error(400, str(err))
    return _outcome(await request.app[SERVICE].say(session_key=session_key, identity=_identity(request), text=text))


def _action(action: str) -> Handler:
    async def act(request: web.Request) -> web.StreamResponse:
        service = request.app[SERVICE]
        row = service.row(request.match_info["id"])
        if row is None:
            return _error(404, f"no request {request.match_info['id'][:80]}")
        return _outcome(await service.say(
            session_key=row.session_key, identity=_identity(request), text=action, action=action, request_id=row.request_id,
        ))

    return act


async def _answer(request: web.Request) -> web.StreamResponse:
    service = request.app[SERVICE]
    row = service.row(request.match_info["id"])
    if row is None:
        return _error(404, f"no request {request.match_info['id'][:80]}")
    text = (await _body(request)).get("text")
    if not isinstance(text, str) or not text.strip():
        return _error(400, 'give "text": the answer')
    return _outcome(await service.say(session_key=row.session_key, identity=_identity(request), text=text))


async def _changes(request: web.Request) -> web.StreamResponse:
    """A Merge / Open PR / Discard button: the changes gate checks who, as for a chat's button."""
    service = request.app[SERVICE]
    row = service.row(request.match_info["id"])
    if row is None:
        return _error(404, f"no request {request.match_info['id'][:80]}")
    body = await _body(request)
    decision, repo = body.get("decision"), body.get("repo", "")
    if decision not in DECISIONS or not isinstance(repo, str):
        return _error(400, f'give "decision": one of {", ".join(DECISIONS)}, and "repo": the repository (as the request lists it)')
    return _outcome(await service.say(
        session_key=row.session_key, identity=_identity(request), text=decision, action=decision, request_id=row.request_id, repo=repo,
    ))


async def _replies(request: web.Request) -> web.StreamResponse:
    try:
        session_key = api_channel.conversation_key(_identity(request) or "anonymous", request.match_info["name"])
        after = int(request.query.get("after", "0"))
    except (api_channel.ConversationNameError, ValueError) as err:
        return _error(400, str(err))
    return _json({"session_key": session_key, "replies": await request.app[SERVICE].replies(session_key, after)})


async def _metrics(request: web.Request) -> web.StreamResponse:
    service = request.app[SERVICE]
    presence = service.presence() if service.presence is not None else None
    return web.Response(body=render_metrics(service.view, presence).encode(), headers={"Content-Type": CONTENT_TYPE})


# -- server-sent events --------------------------------------------------------------------


async def _sse(request: web.Request) -> web.StreamResponse:
    response = web.StreamResponse(headers={"Content-Type": "text/event-stream", "Cache-Control": "no-store", "X-Accel-Buffering": "no"})
    await response.prepare(request)
    await response.write(b": connected\n\n")
    return response


def _frame(name: str | None, seq: int, data: bytes) -> bytes:
    """One SSE message; without a name it is a plain `message` event."""
    head = b"event: " + name.encode() + b"\n" if name else b""
    return head + b"id: " + str(seq).encode() + b"\ndata: " + data + b"\n\n"


def _ends(event: AnyEvent, request_id: str) -> bool:
    return isinstance(event, (*REQUEST_ENDED, ClarificationNeeded)) and getattr(event, "request_id", None) == request_id


async def _request_events(request: web.Request) -> web.StreamResponse:
    """The request's events: the stored ones (unless `history=0`), then live ones until it ends.
    Each is named by its type (`plain=1`: unnamed, for a page that only reloads on each)."""
    service = request.app[SERVICE]
    plain = request.query.get("plain") == "1"
    request_id = request.match_info["id"]
    if service.row(request_id) is None:
        return _error(404, f"no request {request_id[:80]}")
    queue = service.hub.open()  # before reading what is stored: nothing falls between
    try:
        response = await _sse(request)
        last = 0
        if request.query.get("history", "1") != "0":
            for stored in await service.timeline(request_id):
                await response.write(_frame(None if plain else stored.event.type, stored.seq, encode(stored.event)))
                last = stored.seq
                if _ends(stored.event, request_id):
                    await response.write(_frame("end", stored.seq, b"{}"))
                    return response
        while (item := await queue.get()) is not None:
            seq, event = item
            if seq <= last or getattr(event, "request_id", None) != request_id:
                continue
            await response.write(_frame(None if plain else event.type, seq, encode(event)))
            if _ends(event, request_id):
                await response.write(_frame("end", seq, b"{}"))
                break
        return response
    except ConnectionResetError:  # the client went away
        return web.Response()
    finally:
        service.hub.close(queue)


async def _rows_stream(request: web.Request) -> web.StreamResponse:
    """Every summary row that changes (the requests page keeps itself current with it)."""
    service = request.app[SERVICE]
    queue = service.hub.open()
    try:
        response = await _sse(request)
        while (item := await queue.get()) is not None:
            seq, event = item
            row = service.row(getattr(event, "request_id", None) or "")
            if row is not None:
                await response.write(_frame("row", seq, msgspec.json.encode(row)))
        return response
    except ConnectionResetError:  # the client went away
        return web.Response()
    finally:
        service.hub.close(queue)
