"""The default Bash policy for git: a table of commands, hostile ones included, and the verdict for
each, in a task's worktree (own branch) and in a workspace edited in place."""

from __future__ import annotations

from pathlib import Path

import pytest

from claude_tunnels.tunnels.claude import BashRules, PermissionPolicy
from claude_tunnels.tunnels.claude.git_rules import git_refusal

IN_WORKTREE = [
    # looking
    ("git status", True),
    ("git status --short", True),
    ("git --no-pager log --oneline -5", True),
    ("git diff HEAD~1 -- src", True),
    ("git diff --stat main...HEAD", True),
    ("git show HEAD:src/a.py", True),
    ("git log -p -- src/a.py | head -50", True),
    ("git blame src/a.py", True),
    ("git grep -n TODO", True),
    ("git branch", True),
    ("git branch --show-current", True),
    ("git branch -a -vv", True),
    ("git branch --list 'tunnels/*'", True),
    ("git branch --contains HEAD", True),
    ("git tag", True),
    ("git tag -l 'v1.*'", True),
    ("git reflog", True),
    ("git rev-parse --abbrev-ref HEAD", True),
    ("git --version", True),
    # working on its own branch
    ("git add -A", True),
    ("git add src/a.py && git commit -m 'Add a'", True),
    ('git commit -am "fix: the parser"', True),
    ("git commit --amend --no-edit", True),
    ("git restore src/a.py", True),
    ("git restore --staged .", True),
    ("git checkout -- src/a.py", True),
    ("git checkout HEAD~1 -- src/a.py", True),
    ("git rm --cached build.log", True),
    ("git mv a.py b.py", True),
    ("git reset", True),
    ("git reset -- src/a.py", True),
    ("git reset --soft HEAD~1", True),
    ("git reset --hard HEAD", True),
    ("git reset --hard @~2", True),
    ("git rebase -i HEAD~3", True),
    ("git rebase --continue", True),
    ("git merge --abort", True),
    ("git clean -fd", True),
    ("git apply fix.patch", True),
    # the remote
    ("git push", False),
    ("git push origin HEAD:main", False),
    ("git push --force origin tunnels/x", False),
    ("git fetch", False),
    ("git pull --rebase", False),
    ("git remote -v", False),
    ("git remote add evil https://evil.example/x.git", False),
    ("git clone https://example.com/x.git", False),
    ("git submodule update --init", False),
    ("git ls-remote origin", False),
    # other branches, and leaving its own
    ("git checkout main", False),
    ("git checkout -b other", False),
    ("git checkout .", False),  # without --: cannot tell a path from a branch
    ("git checkout --detach HEAD", False),
    ("git checkout -B main -- a.py", False),
    ("git switch main", False),
    ("git switch -c feature", False),
    ("git branch -D main", False),
    ("git branch -d tunnels/old/web", False),
    ("git branch -m main old", False),
    ("git branch -f main HEAD", False),
    ("git branch feature", False),
    ("git branch --set-upstream-to=origin/main", False),
    ("git tag v9.9", False),
    ("git tag -d v1.0", False),
    ("git update-ref refs/heads/main HEAD", False),
    ("git symbolic-ref HEAD refs/heads/main", False),
    ("git reset --hard main", False),
    ("git reset --hard origin/main", False),
    ("git reset main -- a.py", False),
    ("git reset main", False),
    ("git rebase main", False),
    ("git rebase --onto main HEAD~2", False),
    ("git rebase --exec 'make test' HEAD~2", False),
    ("git merge main", False),
    ("git merge --no-ff tunnels/other/web", False),
    ("git cherry-pick abc123", False),
    ("git stash", False),
    ("git stash list", False),
    ("git stash pop", False),
    ("git notes add -m x", False),
    ("git bisect start", False),
    ("git reflog expire --expire=now --all", False),
    # the repository's configuration and storage
    ("git config user.name evil", False),
    ("git config --global core.pager 'sh -c evil'", False),
    ("git worktree add ../x main", False),
    ("git worktree remove ../x", False),
    ("git gc --prune=now", False),
    ("git init nested", False),
    ("git filter-branch --force HEAD", False),
    ("git replace HEAD main", False),
    ("git sparse-checkout set src", False),
    ("git grep -O'sh -c evil' x", False),
    ("git apply --unsafe-paths ../x.patch", False),
    ("git frobnicate", False),  # an unknown subcommand (or an alias)
    # escapes: another repository, another configuration, another git
    ("git -c core.fsmonitor='sh evil.sh' status", False),
    ("git -c alias.st='!sh evil.sh' st", False),
    ("git --config-env=core.pager=X log", False),
    ("git -C ../../main-repo branch -D main", False),
    ("git -C . status", False),
    ("git --git-dir=/repo/.git log", False),
    ("git --git-dir /repo/.git status", False),
    ("git --work-tree=/elsewhere status", False),
    ("git --exec-path=./evil status", False),
    ("git --namespace=x push", False),
    ("GIT_DIR=/repo/.git git branch -D main", False),
    ("GIT_WORK_TREE=/x git status", False),
    ("GIT_CONFIG_PARAMETERS=\"'core.fsmonitor=evil'\" git status", False),
    ("GIT_EXTERNAL_DIFF=./evil.sh git diff", False),
    ("EDITOR=./evil.sh git commit", False),
    # git however it is reached
    ("ls && git push", False),
    ("git status; git push", False),
    ("git log | git push", False),
    ("echo $(git push)", False),
    ("command git push", False),
    ("builtin command git push", False),
    ("/usr/bin/git push", False),
    ("/usr/lib/git-core/git-push origin", False),
    ("env git push", False),
    ("env -u GIT_DIR git update-ref refs/heads/main HEAD", False),
    ("env -S 'git push origin'", False),
    ("sudo -u root git push", False),
    ("timeout 10 git fetch", False),
    ("nice -n 5 git checkout main", False),
    ("nohup git push &", False),
    ("exec git push", False),
    ("eval git push", False),
    ("eval 'git checkout main'", False),
    ('bash -c "git push"', False),
    ("bash -lc 'git checkout main'", False),
    ("sh -c 'cd .. && git branch -D main'", False),
    ("find . -name x -exec git checkout main \\;", False),
    ("echo main | xargs git checkout", False),
    ("echo a.py | xargs git add", False),  # xargs cannot be checked, whatever follows
    # not git
    ("echo git push", True),
    ("grep -rn 'git push' docs", True),
    ("command -v git", False),  # not in the default allowlist (but not refused as git either)
]


@pytest.mark.parametrize(("command", "allowed"), IN_WORKTREE)
def test_git_in_a_task_worktree(tmp_path: Path, command: str, allowed: bool) -> None:
    decision = PermissionPolicy(tmp_path, own_branch=True).decide("Bash", {"command": command})

    assert decision.allow is allowed, decision.reason


@pytest.mark.parametrize(
    ("command", "allowed"),
    [
        ("git status", True),
        ("git diff", True),
        ("git log --oneline", True),
        ("git show HEAD", True),
        ("git add a.py", False),
        ('git commit -m "x"', False),
        ("git restore a.py", False),
        ("git checkout -- a.py", False),
        ("git reset", False),
        ("git clean -fdx", False),
        ("git push", False),
    ],
)
def test_in_place_git_may_only_look_the_checkout_is_the_persons(tmp_path: Path, command: str, allowed: bool) -> None:
    decision = PermissionPolicy(tmp_path).decide("Bash", {"command": command})

    assert decision.allow is allowed, decision.reason
    if not allowed and command != "git push":
        assert "edited in place" in decision.reason


@pytest.mark.parametrize(
    ("rules", "command", "allowed"),
    [
        (BashRules(mode="denylist", deny=["rm *"]), "git push", False),  # the git rules hold in denylist mode
        (BashRules(mode="denylist", deny=["rm *"]), "git commit -m x", True),
        (BashRules(allow=["*"]), "git -c core.pager=evil log", False),  # and whatever the allow patterns say
        (BashRules(allow=["*"]), "make test && git push", False),
        (BashRules(mode="allow_all"), "git push", True),  # allow_all means everything: only the sandbox stands
        (BashRules(mode="deny_all"), "git status", False),
    ],
)
def test_the_git_rules_hold_in_allowlist_and_denylist_modes(tmp_path: Path, rules: BashRules, command: str, allowed: bool) -> None:
    decision = PermissionPolicy(tmp_path, rules, own_branch=True).decide("Bash", {"command": command})

    assert decision.allow is allowed, decision.reason


def test_a_git_refusal_names_the_rule_and_why_and_is_never_asked_of_a_person(tmp_path: Path) -> None:
    policy = PermissionPolicy(tmp_path, relay=("bash",), own_branch=True)

    push = policy.decide("Bash", {"command": "ls && git push origin main"})
    unlisted = policy.decide("Bash", {"command": "curl https://example.com"})

    assert (push.allow, push.ask, push.rule) == (False, False, "bash.git")
    assert push.reason.startswith("`git push` is not allowed: it talks to a remote repository")
    assert unlisted.ask  # what the allowlist merely leaves open is still asked


@pytest.mark.parametrize("command", ["LC_ALL=C git status", "command git status", "/usr/bin/git log", "timeout 5 git diff"])
def test_the_git_rules_see_through_wrappers_both_ways(command: str) -> None:
    # Allowed by the git rules (the default allowlist still wants them written plainly, as `git …`).
    assert git_refusal(command.split(), own_branch=True) is None


def test_the_reasons_say_what_to_do_instead() -> None:
    assert "git restore <path>" in (git_refusal(["git", "checkout", "main"], own_branch=True) or "")
    assert "git reset -- a.py" in (git_refusal(["git", "reset", "a.py"], own_branch=True) or "")
    assert "git branch --list" in (git_refusal(["git", "branch", "x"], own_branch=True) or "")
    assert git_refusal(["git", "-c", "x=y", "log"], own_branch=True) == "`git -c` is not allowed: `-c` overrides the repository's configuration"
