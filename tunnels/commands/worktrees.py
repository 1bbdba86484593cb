"""`tunnels worktrees` and `tunnels worktrees prune`: what the orchestrator made in git, and
removing what is stale (`tunnels.git.retention` says what is).

The list shows, per repository, each branch of ours with its request's and task's state (from the
event log), its age, the worktree that has it checked out, and what `prune` would do with it;
then every entry of `<state_dir>/worktrees`. `prune` removes what is stale (`--dry-run`: only say
it; `--all`: everything of ours that no open request needs). Safe beside a running orchestrator:
what the event log shows running is never touched.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from claude_tunnels.actors.tree import TreeError
from claude_tunnels.config.loader import LoadedSettings
from claude_tunnels.projections import RequestsView
from claude_tunnels.projections.requests import RequestState
from claude_tunnels.tunnels.backbone import open_backbone
from claude_tunnels.tunnels.discovery import discover
from claude_tunnels.tunnels.errors import UserError
from claude_tunnels.tunnels.git.inventory import our_repositories, task_folders
from claude_tunnels.tunnels.git.prune import Item, Survey, prune, summary, survey
from claude_tunnels.tunnels.git.retention import Policy, age, task_of_branch


async def list_worktrees(loaded: LoadedSettings, args: argparse.Namespace) -> int:
    """Print what the orchestrator made in git (or JSON lines with --json)."""
    found = await _survey(loaded, everything=False)
    if args.json:
        for item in found.items:
            print(json.dumps(_as_json(item, loaded)))
        return 0
    _print_table(found, loaded)
    print(f"prune: {summary(found.stale(), dry_run=True)} (tunnels worktrees prune; --all: everything no open request needs)")
    return 0


async def prune_worktrees(loaded: LoadedSettings, args: argparse.Namespace) -> int:
    """Remove what is stale (or say what would be, with --dry-run); exit 1 if something could not be removed."""
    found = await _survey(loaded, everything=args.all)
    stale = found.stale()
    if args.dry_run:
        for item in stale:
            print(f"would remove {_what(item, loaded)} ({item.verdict.why})")
        print(summary(stale, dry_run=True))
        return 0
    removed = await prune(found, loaded.state_dir / "worktrees")
    for item in removed:
        print(f"removed {_what(item, loaded)} ({item.verdict.why})")
    failed = [item for item in stale if item.error]
    for item in failed:
        print(f"could not remove {_what(item, loaded)}: {_safe(item.error)}", file=sys.stderr)
    print(summary(removed))
    return 1 if failed else 0


async def _survey(loaded: LoadedSettings, *, everything: bool) -> Survey:
    settings = loaded.settings.git
    folder = loaded.state_dir / "worktrees"
    folders = await asyncio.to_thread(task_folders, folder)  # before the log (see `survey`)
    requests = await _requests(loaded)
    try:
        tree = discover(loaded.root, exclude=[loaded.state_dir, loaded.archive_dir, loaded.task_log_dir])
        workspaces = [w.path for w in tree.workspaces() if w.path is not None]
    except TreeError as err:
        raise UserError(str(err)) from None
    repos = await our_repositories(loaded.root, workspaces, requests.values())
    policy = Policy(
        now=datetime.now(UTC), keep_failed_days=settings.keep_failed_days, prefix=settings.branch_prefix, folder=folder,
        everything=everything,
    )
    return await survey(repos, requests, policy, folders)


async def _requests(loaded: LoadedSettings) -> dict[str, RequestState]:
    """Every request of the event log: the orchestrator's checkpoint, caught up with the stream."""
    async with open_backbone(loaded, role="reader", name="tunnels-worktrees") as backbone:
        store = backbone.store
        view = RequestsView(loaded.state_dir / "projections" / "requests.sqlite")
        try:
            view.load()
        except Exception:  # an unreadable checkpoint: the stream alone says it all
            view = RequestsView()
        if view.position > await store.last_seq():  # a checkpoint of another stream
            view = RequestsView()
        await store.replay(view.apply, start_seq=view.position + 1)
        return view.requests


def _print_table(found: Survey, loaded: LoadedSettings) -> None:
    folder = loaded.state_dir / "worktrees"
    branches = [item for item in found.items if item.kind == "branch"]
    for inventory in found.repos:
        mine = [item for item in branches if item.repo == inventory.repo]
        if inventory.problem:
            print(f"repository {_label(inventory.repo, loaded)}: cannot be read: {_safe(inventory.problem)}")
            continue
        if not mine:
            continue
        print(f"repository {_label(inventory.repo, loaded)}")
        rows: list[tuple[str, ...]] = [("BRANCH", "REQUEST", "TASK", "AGE", "WORKTREE", "PRUNE")]
        for item in mine:
            assert item.branch is not None
            worktree = item.branch.checked_out
            where = "-" if worktree is None else _safe(str(worktree.relative_to(folder) if worktree.is_relative_to(folder) else worktree))
            rows.append((
                item.name, _request_state(item.request), _task_state(item, loaded), age(datetime.now(UTC) - item.branch.tip_at),
                where, f"{'remove' if item.verdict.remove else 'keep'}: {item.verdict.why}",
            ))
        _table(rows)
    entries = [item for item in found.items if item.kind != "branch"]
    if not any(item.branches for item in found.repos) and not entries:
        print(f"nothing of ours: no branch named {loaded.settings.git.branch_prefix}… in {len(found.repos)} repositor"
              f"{'y' if len(found.repos) == 1 else 'ies'}, nothing in {folder}")
        return
    if entries:
        print(f"worktrees folder {folder}")
        entry_rows: list[tuple[str, ...]] = [("ENTRY", "REQUEST", "REPOSITORY", "PRUNE")]
        for item in entries:
            repo = "-" if item.repo is None else _label(item.repo, loaded)
            entry_rows.append((_safe(item.name), _request_state(item.request), repo, f"{'remove' if item.verdict.remove else 'keep'}: {item.verdict.why}"))
        _table(entry_rows)


def _table(rows: list[tuple[str, ...]]) -> None:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    for row in rows:
        print("  " + "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip())


def _as_json(item: Item, loaded: LoadedSettings) -> dict[str, Any]:
    branch = item.branch
    return {
        "kind": item.kind, "name": item.name, "repo": str(item.repo) if item.repo else None,
        "request": (item.request.request_id if item.request else (branch.request if branch else item.name.split("/")[0])),
        "request_status": item.request.status if item.request else None,
        "task_status": _task_status(item, loaded),
        "tip": branch.tip if branch else None, "tip_at": branch.tip_at.isoformat() if branch else None,
        "worktree": str(branch.checked_out) if branch and branch.checked_out else (str(item.path) if item.path else None),
        "prune": item.verdict.remove, "why": item.verdict.why,
    }


def _request_state(request: RequestState | None) -> str:
    if request is None:
        return "not in the log"
    return {"completed": "finished", "executing": "running"}.get(request.status, request.status.replace("_", " "))


def _task_status(item: Item, loaded: LoadedSettings) -> str | None:
    if item.request is None or item.branch is None:
        return None
    task = task_of_branch(item.request, item.branch, loaded.settings.git.branch_prefix)
    return task.status if task is not None else None


def _task_state(item: Item, loaded: LoadedSettings) -> str:
    return (_task_status(item, loaded) or "-").replace("_", " ")


def _what(item: Item, loaded: LoadedSettings) -> str:
    if item.kind == "branch":
        return f"branch {item.name} of {_label(item.repo, loaded)}"
    return f"{loaded.state_dir.name}/worktrees/{_safe(item.name)}"


def _label(repo: Path | None, loaded: LoadedSettings) -> str:
    if repo is None:
        return "?"
    root = loaded.root.resolve()
    return str(repo.relative_to(root)) if repo.is_relative_to(root) and repo != root else str(repo)


def _safe(text: str) -> str:
    """`text` with control characters (a hostile folder name's newline) written as escapes."""
    return "".join(ch if ch.isprintable() else ch.encode("unicode_escape").decode() for ch in text)
