"""Which git commands a workspace agent may run.

In a task's worktree the agent works on its own branch, through a git directory of its own
(`tunnels.git.agent_gitdir`): it may look at anything (status, diff, log, show, blame, grep…),
stage and commit on its branch, restore files, and move its branch within its own history
(`reset HEAD~1`). It may not reach a remote (push, fetch, pull, remote, clone, submodule), change
other branches or leave its own (checkout or switch of a branch, branch -d/-m/-f, tag, update-ref,
merge, rebase or reset onto other refs, cherry-pick, stash), change what every branch shares
(config, worktree, gc, `-c` overrides), or point git somewhere else (`-C`, `--git-dir`,
`--work-tree`, `GIT_DIR=` and other assignments but the locale). Outside a task's worktree (a
workspace edited in place) the checkout is the person's: git is read-only there.

The command is read as the shell would run it: after assignments and wrappers (`env`, `command`,
`sudo`, `timeout`…), as `/usr/bin/git` or `git-push`, inside `eval` and `find -exec` (`sh -c`
bodies reach here as commands of their own). Git behind `xargs` cannot be checked and is refused.

These rules are not the wall: a program the agent may run can call git however it likes. The wall
is the OS sandbox, where the repository's shared `.git` is read-only (`tunnels.claude.options`).
"""

from __future__ import annotations

import os
import re
import shlex
from collections.abc import Iterator, Sequence

from claude_tunnels.tunnels.claude.bash_parse import Unparseable, parse_command

_ASSIGNMENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*=")
_LOCALE = re.compile(r"(LC_[A-Z]+|LANG|LANGUAGE|TZ|TERM|NO_COLOR|COLUMNS)=")
_OWN_REVISION = re.compile(r"(HEAD|@)([~^][0-9]*)*")
"""A revision within the task's own history: HEAD, HEAD~2, @^…"""

_WRAPPERS: dict[str, frozenset[str]] = {
    "command": frozenset(), "builtin": frozenset(), "exec": frozenset({"-a"}), "nohup": frozenset(),
    "time": frozenset(), "setsid": frozenset(), "chronic": frozenset(), "unbuffer": frozenset(),
    "nice": frozenset({"-n", "--adjustment"}), "ionice": frozenset({"-c", "-n", "-p", "--class", "--classdata"}),
    "timeout": frozenset({"-s", "-k", "--signal", "--kill-after"}), "stdbuf": frozenset({"-i", "-o", "-e"}),
    "sudo": frozenset({"-u", "-g", "-C", "-D", "-h", "-p", "-r", "-t", "-T", "-U", "--user", "--group"}),
    "doas": frozenset({"-u", "-C"}), "env": frozenset({"-u", "--unset", "-C", "--chdir"}),
    "watch": frozenset({"-n", "-d", "--interval", "--differences"}), "flock": frozenset({"-w", "-E", "--timeout"}),
    "xargs": frozenset({"-a", "-d", "-E", "-I", "-L", "-n", "-P", "-s", "--arg-file", "--delimiter", "--max-args"}),
}  # fmt: skip
"""Commands that run the rest of their words as a command, and their options that take a value."""
_ONE_POSITIONAL = frozenset({"timeout", "flock"})
"""Wrappers with one positional word (a duration, a lock file) before the command."""

_GLOBAL_FLAGS = frozenset({
    "--no-pager", "-P", "-p", "--paginate", "--no-replace-objects", "--literal-pathspecs", "--glob-pathspecs",
    "--noglob-pathspecs", "--icase-pathspecs", "--no-optional-locks", "--no-lazy-fetch", "--version", "-v",
    "--help", "-h", "--html-path", "--man-path", "--info-path", "--exec-path",
})  # fmt: skip
_GLOBAL_ESCAPES = {
    "-c": "`-c` overrides the repository's configuration",
    "--config-env": "`--config-env` overrides the repository's configuration",
    "-C": "`-C` runs git in another folder",
    "--git-dir": "`--git-dir` points git at another repository",
    "--work-tree": "`--work-tree` points git at another folder",
    "--namespace": "`--namespace` reaches other refs",
    "--exec-path": "`--exec-path=` runs git's commands from another folder",
    "--super-prefix": "`--super-prefix` is internal to git",
    "--bare": "`--bare` treats the repository as bare",
    "--attr-source": "`--attr-source` reads attributes from another tree",
}

READS = frozenset({
    "status", "diff", "log", "show", "blame", "annotate", "grep", "ls-files", "ls-tree", "rev-parse", "rev-list",
    "shortlog", "describe", "cat-file", "diff-tree", "diff-files", "diff-index", "for-each-ref", "show-ref",
    "merge-base", "name-rev", "whatchanged", "check-ignore", "check-attr", "check-ref-format", "count-objects",
    "show-branch", "range-diff", "cherry", "version", "help", "var", "format-patch", "fsck", "verify-commit",
    "verify-tag", "stripspace", "reflog", "branch", "tag",
})  # fmt: skip
"""Commands that only look (branch, tag and reflog in their listing forms)."""
OWN_BRANCH = frozenset({
    "add", "rm", "mv", "commit", "restore", "apply", "clean", "update-index", "checkout", "reset", "merge", "rebase",
})  # fmt: skip
"""Commands that change the worktree, its index or its own branch (checkout of paths, reset,
merge and rebase within its own history)."""
_REMOTE = frozenset({
    "push", "fetch", "pull", "clone", "remote", "submodule", "ls-remote", "request-pull", "send-email", "send-pack",
    "fetch-pack", "upload-pack", "receive-pack", "daemon", "http-backend", "credential", "bundle", "archive", "svn", "p4",
})  # fmt: skip
_SHARED = frozenset({
    "config", "worktree", "gc", "prune", "repack", "pack-refs", "maintenance", "sparse-checkout", "filter-branch",
    "replace", "init", "hook", "commit-graph", "multi-pack-index", "update-server-info", "prune-packed", "lfs",
})  # fmt: skip
_OTHER_REFS = frozenset({
    "update-ref", "symbolic-ref", "switch", "bisect", "notes", "cherry-pick", "revert", "am", "read-tree", "stash",
})  # fmt: skip
_WHY = {
    "remote": "it talks to a remote repository (what is pushed is the person's decision, at the end of the request)",
    "shared": "it changes the repository's configuration or storage, which every branch shares",
    "refs": "it changes other branches or leaves the task's own branch",
    "stash": "stashed changes leave the worktree, and the stash is shared between worktrees",
}
_IN_PLACE = (
    "this workspace is edited in place, so its checkout is the person's own: git may only look here "
    "(a task in a git worktree may add and commit on its own branch)"
)


def git_refusal(words: Sequence[str], *, own_branch: bool) -> str | None:
    """Why the simple command `words` may not run, when it runs git in a way these rules refuse;
    None when it runs no git, or git as allowed. `own_branch`: the agent works in a task's
    worktree on a branch of its own (else the workspace is edited in place)."""
    for assignments, argv, via in _invocations(list(words), depth=0):
        if not argv:
            continue
        name = os.path.basename(argv[0])
        if name != "git" and not name.startswith("git-"):
            continue
        if via == "unparseable":
            return "the command around git cannot be checked; run git directly"
        if via == "xargs":
            return "git run through xargs cannot be checked (its arguments come from the input); run git directly"
        if why := _judge(assignments, name, argv[1:], own_branch):
            return why
    return None


def _invocations(words: list[str], depth: int) -> Iterator[tuple[list[str], list[str], str | None]]:
    """(assignments, the command's words, how it was reached) for each command `words` runs."""
    if depth > 4:
        yield [], ["git"], "unparseable"  # nested too deep to follow: judged as unknowable git
        return
    assignments: list[str] = []
    rest, via = list(words), None
    while rest:
        head = rest[0]
        if _ASSIGNMENT.match(head) and not head.startswith("-"):
            assignments.append(rest.pop(0))
            continue
        name = os.path.basename(head)
        if name == "command" and len(rest) > 1 and rest[1] in ("-v", "-V"):
            return  # `command -v git` looks git up, it does not run it
        if name == "env" and any(word in ("-S", "--split-string") or word.startswith("--split-string=") for word in rest[1:]):
            yield from _split_string(rest, depth)
            return
        if name == "eval":
            yield from _nested(" ".join(rest[1:]), depth)
            return
        if name == "find":
            yield from _find_exec(rest, depth)
            return
        if name not in _WRAPPERS:
            break
        via = "xargs" if name == "xargs" else via
        rest = _after_wrapper(name, rest[1:])
    yield assignments, rest, via


def _after_wrapper(name: str, words: list[str]) -> list[str]:
    takes_value = _WRAPPERS[name]
    rest = list(words)
    while rest and rest[0].startswith("-") and rest[0] != "-":
        option = rest.pop(0)
        if option == "--":
            break
        if option in takes_value and rest:
            rest.pop(0)
    if name in _ONE_POSITIONAL and rest:
        rest.pop(0)
    return rest


def _split_string(words: list[str], depth: int) -> Iterator[tuple[list[str], list[str], str | None]]:
    # `env -S 'git push'`: the string is split into the command's words.
    for index, word in enumerate(words):
        if word in ("-S", "--split-string") and index + 1 < len(words):
            text = words[index + 1]
        elif word.startswith("--split-string="):
            text = word.partition("=")[2]
        else:
            continue
        try:
            inner = shlex.split(text)
        except ValueError:
            yield [], ["git"], "unparseable"
            return
        yield from _invocations([*inner, *words[index + 2 :]], depth + 1)
        return


def _nested(text: str, depth: int) -> Iterator[tuple[list[str], list[str], str | None]]:
    try:
        parsed = parse_command(text)
    except Unparseable:
        yield [], ["git"], "unparseable"
        return
    for words in parsed.commands:
        yield from _invocations(words, depth + 1)


def _find_exec(words: list[str], depth: int) -> Iterator[tuple[list[str], list[str], str | None]]:
    # `find . -exec git push \;`: the words after -exec, up to `;` or `+`, are a command.
    index = 0
    while index < len(words):
        if words[index] in ("-exec", "-execdir", "-ok", "-okdir"):
            end = index + 1
            while end < len(words) and words[end] not in (";", "+"):
                end += 1
            yield from _invocations(words[index + 1 : end], depth + 1)
            index = end
        index += 1


def _judge(assignments: list[str], name: str, args: list[str], own_branch: bool) -> str | None:
    """Why `git ARGS` (or `git-<sub> ARGS`) may not run, or None."""
    for assignment in assignments:
        if not _LOCALE.match(assignment):
            return f"setting {assignment.partition('=')[0]} for git is not allowed (only the locale may be set)"
    if name.startswith("git-"):
        sub: str | None = name.removeprefix("git-")
        rest = args
    else:
        sub, rest = None, []
        for index, word in enumerate(args):
            key = word.partition("=")[0]
            if key in _GLOBAL_ESCAPES and (key != "--exec-path" or "=" in word):
                return f"`git {word}` is not allowed: {_GLOBAL_ESCAPES[key]}"
            if word in _GLOBAL_FLAGS:
                continue
            if word.startswith("-"):
                return f"`git {word}` is not allowed: an option of git itself that these rules do not know"
            sub, rest = word, args[index + 1 :]
            break
    if sub is None:
        return None  # `git --version`, `git --help`
    return _judge_sub(sub, rest, own_branch)


def _judge_sub(sub: str, args: list[str], own_branch: bool) -> str | None:
    shown = f"`git {sub}`"
    if sub in _REMOTE:
        return f"{shown} is not allowed: {_WHY['remote']}"
    if sub in _SHARED:
        return f"{shown} is not allowed: {_WHY['shared']}"
    if sub == "stash":
        return f"{shown} is not allowed: {_WHY['stash']}"
    if sub in _OTHER_REFS:
        return f"{shown} is not allowed: {_WHY['refs']}"
    if sub in READS:
        return _judge_read(sub, args)
    if sub in OWN_BRANCH:
        if not own_branch:
            return f"{shown} is not allowed: {_IN_PLACE}"
        return _judge_own(sub, args)
    return f"{shown} is not allowed: it is not among the git commands an agent may run in its worktree"


def _judge_read(sub: str, args: list[str]) -> str | None:
    if sub == "grep" and any(a == "-O" or a.startswith(("-O", "--open-files-in-pager")) for a in args):
        return "`git grep -O` is not allowed: it runs a program on the files found"
    if sub == "reflog" and args and args[0] in ("expire", "delete", "drop"):
        return f"`git reflog {args[0]}` is not allowed: {_WHY['shared']}"
    if sub == "branch":
        return _listing(sub, args, {
            "-a", "--all", "-r", "--remotes", "-v", "-vv", "--verbose", "-l", "--list", "--show-current", "-q", "--quiet",
            "-i", "--ignore-case", "--color", "--no-color", "--column", "--no-column", "--omit-empty", "--no-abbrev",
        }, {"--contains", "--no-contains", "--merged", "--no-merged", "--points-at", "--sort", "--format", "--abbrev"})
    if sub == "tag":
        return _listing(sub, args, {"-l", "--list", "-i", "--ignore-case", "--color", "--no-color", "--column", "--no-column", "--omit-empty"},
                        {"--contains", "--no-contains", "--merged", "--no-merged", "--points-at", "--sort", "--format"})
    return None


def _listing(sub: str, args: list[str], flags: set[str], valued: set[str]) -> str | None:
    """`git branch` / `git tag` only in their listing forms (patterns only after `--list`)."""
    listing, positional = False, False
    index = 0
    while index < len(args):
        word = args[index]
        key = word.partition("=")[0]
        if word in ("-l", "--list"):
            listing = True
        elif key in valued:
            if "=" not in word:
                index += 1  # its value is the next word
        elif word in flags or (sub == "tag" and re.fullmatch(r"-n[0-9]*", word)):
            pass
        elif word.startswith("-"):
            return f"`git {sub} {word}` is not allowed: {_WHY['refs']}"
        else:
            positional = True
        index += 1
    if positional and not listing:
        return f"`git {sub}` with a name is not allowed: {_WHY['refs']} (list them with `git {sub} --list`)"
    return None


def _judge_own(sub: str, args: list[str]) -> str | None:
    if sub == "apply" and "--unsafe-paths" in args:
        return "`git apply --unsafe-paths` is not allowed: it writes outside the worktree"
    if sub == "checkout":
        return _checkout(args)
    if sub == "reset":
        return _reset(args)
    if sub == "merge":
        if args and all(a in ("--abort", "--continue", "--quit") for a in args):
            return None
        return f"`git merge` is not allowed: it brings in other branches (upstream tasks' changes are merged in by the orchestrator); {_WHY['refs']}"
    if sub == "rebase":
        return _rebase(args)
    return None


def _checkout(args: list[str]) -> str | None:
    """Only `git checkout [<tree-ish>] -- <paths>`: restoring files, never switching branches."""
    if "--" not in args:
        return ("`git checkout` without `--` is not allowed: switching branches leaves the task's own branch; "
                "restore files with `git restore <path>` or `git checkout -- <path>`")
    before = args[: args.index("--")]
    for word in before:
        if word.startswith("-") and word not in ("-q", "--quiet", "--ours", "--theirs", "-p", "--patch", "--overlay",
                                                  "--no-overlay", "-m", "--merge") and not word.startswith("--conflict="):
            return f"`git checkout {word}` is not allowed: {_WHY['refs']}"
    if len([w for w in before if not w.startswith("-")]) > 1:
        return f"`git checkout` of several revisions is not allowed: {_WHY['refs']}"
    return None


def _reset(args: list[str]) -> str | None:
    """`git reset` of the index or paths, or of the task's branch within its own history (HEAD~n)."""
    before = args[: args.index("--")] if "--" in args else args
    positional = [w for w in before if not w.startswith("-")]
    if not positional or _OWN_REVISION.fullmatch(positional[0]):
        return None
    if "--" in args or any(w in ("--soft", "--mixed", "--hard", "--merge", "--keep") for w in before):
        return f"`git reset {positional[0]}` is not allowed: the task's branch may move only within its own history (HEAD~1, …)"
    return (f"`git reset {positional[0]}` cannot be checked: unstage paths with `git reset -- {positional[0]}`; "
            "the task's branch may move only within its own history (HEAD~1, …)")


def _rebase(args: list[str]) -> str | None:
    if any(a in ("--abort", "--continue", "--skip", "--quit", "--show-current-patch") for a in args):
        return None
    index = 0
    while index < len(args):
        word = args[index]
        if word in ("-x", "--exec") or word.startswith(("--exec=", "-x")):
            return "`git rebase --exec` is not allowed: it runs commands"
        if word == "--onto" and index + 1 < len(args):
            index += 1
            word = args[index]
        elif word.startswith("--onto="):
            word = word.partition("=")[2]
        elif word.startswith("-"):
            index += 1
            continue
        if not _OWN_REVISION.fullmatch(word):
            return f"`git rebase` onto {word} is not allowed: the task's branch may move only within its own history (HEAD~1, …)"
        index += 1
    return None
