"""Pull requests through the GitHub REST API (`POST /repos/{owner}/{repo}/pulls`), and where a
remote's repository is on its web host (owner and name parsed from the remote's URL).

The API's base URL is configurable (`git.github.api_url`: GitHub Enterprise Server's is
`https://HOST/api/v3`). The token is sent only as the `Authorization` header; no error message,
log line or event ever holds it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, urlsplit

import aiohttp

from claude_tunnels.config.credentials import Secret

_SCP_LIKE = re.compile(r"(?:[^@/\s]+@)?(?P<host>[^:/\s]+):(?P<path>[^\s]+)")
_API_VERSION = "2022-11-28"


class GitHubError(Exception):
    """The API refused or could not be reached; `message` says what it answered (never the token)."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


@dataclass(frozen=True)
class HostedRepo:
    """A repository on a code host: `https://<host>/<owner>/<name>`."""

    host: str
    owner: str
    name: str

    @property
    def web_url(self) -> str:
        """The repository's page."""
        return f"https://{self.host}/{self.owner}/{self.name}"

    def compare_url(self, base: str, head: str) -> str:
        """The page that opens a pull request of `head` into `base` by hand."""
        return f"{self.web_url}/compare/{quote(base, safe='/')}...{quote(head, safe='/')}?expand=1"


def parse_remote(url: str) -> HostedRepo | None:
    """The host, owner and name of a remote URL (`git@github.com:acme/web.git`,
    `https://github.com/acme/web`, `ssh://git@ghe.example:22/acme/web.git`); None for a local path
    or anything that does not name `<owner>/<name>`."""
    url = url.strip()
    if "://" in url:
        parts = urlsplit(url)
        host, path = parts.hostname or "", parts.path
    elif (match := _SCP_LIKE.fullmatch(url)) is not None:
        host, path = match["host"], match["path"]
    else:
        return None
    segments = [segment for segment in path.strip("/").removesuffix(".git").split("/") if segment]
    if not host or len(segments) != 2 or any(s in (".", "..") for s in segments):
        return None
    return HostedRepo(host=host.lower(), owner=segments[0], name=segments[1])


class PullRequests:
    """Opens pull requests with one token against one API base URL."""

    def __init__(self, api_url: str, token: Secret, *, timeout_s: float = 30.0) -> None:
        self.api_url = api_url.rstrip("/")
        self._token = token
        self._timeout = aiohttp.ClientTimeout(total=timeout_s)

    def _headers(self) -> dict[str, str]:
        return {
            "Authorization": f"Bearer {self._token.reveal()}", "Accept": "application/vnd.github+json",
            "X-GitHub-Api-Version": _API_VERSION, "User-Agent": "claude-tunnels",
        }

    async def open(self, repo: HostedRepo, *, head: str, base: str, title: str, body: str) -> tuple[str, int]:
        """Open a pull request of branch `head` into `base`: its page and number. One already open
        for the same branches is found and returned instead (opening again after a crash)."""
        pulls = f"{self.api_url}/repos/{quote(repo.owner)}/{quote(repo.name)}/pulls"
        try:
            async with aiohttp.ClientSession(timeout=self._timeout, headers=self._headers()) as http:
                async with http.post(pulls, json={"title": title, "head": head, "base": base, "body": body}) as response:
                    answer = await _json(response)
                    if response.status == 201:
                        return str(answer.get("html_url", "")), int(answer.get("number", 0))
                    if response.status != 422 or "already exists" not in _said(answer):
                        raise GitHubError(f"GitHub answered {response.status} to opening the pull request: {_said(answer)}")
                query = {"head": f"{repo.owner}:{head}", "base": base, "state": "open"}
                async with http.get(pulls, params=query) as response:
                    found = await _json(response)
                    if response.status == 200 and isinstance(found, list) and found:
                        return str(found[0].get("html_url", "")), int(found[0].get("number", 0))
                    raise GitHubError(f"GitHub says a pull request for {head} exists but did not list it ({response.status})")
        except aiohttp.ClientError as err:
            raise GitHubError(f"GitHub's API at {self.api_url} could not be reached ({type(err).__name__})") from None
        except TimeoutError:
            raise GitHubError(f"GitHub's API at {self.api_url} did not answer in time") from None


async def _json(response: aiohttp.ClientResponse) -> Any:
    try:
        return await response.json(content_type=None)
    except ValueError:
        return {}


def _said(answer: Any) -> str:
    """GitHub's own words: the message and the first errors' messages, bounded."""
    if not isinstance(answer, dict):
        return "no message"
    words = [str(answer.get("message") or "no message")]
    for error in (answer.get("errors") or [])[:3]:
        if isinstance(error, dict) and error.get("message"):
            words.append(str(error["message"]))
    return "; ".join(words)[:300]
