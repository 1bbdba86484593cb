"""A local fake of the GitHub REST API's pulls endpoint, for Open PR offline.

`FakeGitHub` is a real aiohttp server on 127.0.0.1 (port 0) answering what
`tunnels.git.github.PullRequests` calls, as GitHub documents it
(docs.github.com/rest/pulls/pulls): `POST /repos/{owner}/{repo}/pulls` (201 with the new pull
request; 422 "A pull request already exists for owner:branch." for an open one of the same head and
base; 401 "Bad credentials" without the right token) and `GET` of the same path filtered by `head`,
`base` and `state`. Every request is kept (`requests`) for the test to inspect.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from types import TracebackType
from typing import Any

from aiohttp import web


@dataclass
class PullCall:
    """One request the fake received."""

    method: str
    owner: str
    repo: str
    headers: dict[str, str]
    query: dict[str, str]
    body: dict[str, Any] = field(default_factory=dict)


class FakeGitHub:
    """`async with FakeGitHub(token) as github:` then point `git.github.api_url` at `github.api_url`."""

    def __init__(self, token: str) -> None:
        self.token = token
        self.requests: list[PullCall] = []
        self.pulls: list[dict[str, Any]] = []
        self._runner: web.AppRunner | None = None
        self._port = 0

    async def __aenter__(self) -> FakeGitHub:
        app = web.Application()
        app.router.add_route("*", "/repos/{owner}/{repo}/pulls", self._pulls)
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=1.0)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", 0).start()
        self._port = self._runner.addresses[0][1]
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    @property
    def api_url(self) -> str:
        """The API's base URL (what `git.github.api_url` is set to)."""
        return f"http://127.0.0.1:{self._port}"

    def opened(self) -> list[PullCall]:
        """The POSTs that asked to open a pull request."""
        return [call for call in self.requests if call.method == "POST"]

    async def _pulls(self, request: web.Request) -> web.Response:
        owner, repo = request.match_info["owner"], request.match_info["repo"]
        body = await request.json() if request.method == "POST" and request.can_read_body else {}
        self.requests.append(PullCall(request.method, owner, repo, dict(request.headers), dict(request.query), body))
        if request.headers.get("Authorization") != f"Bearer {self.token}":
            return web.json_response({"message": "Bad credentials", "status": "401"}, status=401)
        if request.method == "GET":
            found = [p for p in self.pulls if p["_repo"] == (owner, repo) and _matches(p, request.query)]
            return web.json_response([_public(p) for p in found])
        if request.method != "POST":
            return web.json_response({"message": "Not Found"}, status=404)
        missing = [key for key in ("title", "head", "base") if not isinstance(body.get(key), str) or not body[key]]
        if missing:
            return web.json_response({"message": "Validation Failed", "errors": [{"field": k, "code": "missing_field"} for k in missing]}, status=422)
        if any(p["_repo"] == (owner, repo) and p["head"]["ref"] == body["head"] and p["base"]["ref"] == body["base"] for p in self.pulls):
            return web.json_response({"message": "Validation Failed", "errors": [
                {"resource": "PullRequest", "code": "custom", "message": f"A pull request already exists for {owner}:{body['head']}."},
            ]}, status=422)
        number = len(self.pulls) + 1
        pull = {
            "_repo": (owner, repo), "number": number, "state": "open", "title": body["title"], "body": body.get("body", ""),
            "html_url": f"https://github.example/{owner}/{repo}/pull/{number}",
            "head": {"ref": body["head"], "label": f"{owner}:{body['head']}"}, "base": {"ref": body["base"]},
        }
        self.pulls.append(pull)
        return web.json_response(_public(pull), status=201)


def _matches(pull: dict[str, Any], query: Any) -> bool:
    return (query.get("head") in (None, pull["head"]["label"]) and query.get("base") in (None, pull["base"]["ref"])
            and query.get("state", "open") in ("all", pull["state"]))


def _public(pull: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in pull.items() if not key.startswith("_")}
