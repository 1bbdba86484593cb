"""The Bash splitter behind the permission policy: commands, substitutions, redirections."""

from __future__ import annotations

import pytest

from claude_tunnels.tunnels.claude.bash_parse import Unparseable, parse_command


@pytest.mark.parametrize(
    ("command", "commands", "targets"),
    [
        ("ls -la", [["ls", "-la"]], []),
        ("a && b || c; d | e & f\ng", [["a"], ["b"], ["c"], ["d"], ["e"], ["f"], ["g"]], []),
        ("echo \"a; b\" 'c | d'", [["echo", "a; b", "c | d"]], []),
        ("echo a\\;b", [["echo", "a;b"]], []),
        ("(cd sub && make)", [["cd", "sub"], ["make"]], []),
        (
            "git log $(git rev-parse HEAD)",
            [["git", "rev-parse", "HEAD"], ["git", "log", "$(git rev-parse HEAD)"]],
            [],
        ),
        ('echo "`whoami`"', [["whoami"], ["echo", "`whoami`"]], []),
        ("diff <(ls a) b", [["ls", "a"], ["diff", "<(…)", "b"]], []),
        ("echo hi>out.txt", [["echo", "hi"]], ["out.txt"]),
        ("cmd 2>err.log >>out.log", [["cmd"]], ["err.log", "out.log"]),
        ("cmd 2>&1 >&2 <in.txt", [["cmd"]], []),
        ("cmd >& both.log", [["cmd"]], ["both.log"]),
        ('cmd > "my file"', [["cmd"]], ["my file"]),
        ('bash -c "echo x > /etc/y"', [["bash", "-c", "echo x > /etc/y"]], []),
        ("line one \\\n continued", [["line", "one", "continued"]], []),
    ],
)
def test_parse(command: str, commands: list[list[str]], targets: list[str]) -> None:
    parsed = parse_command(command)

    assert parsed.commands == commands
    assert parsed.write_targets == targets


@pytest.mark.parametrize(
    "command",
    [
        "echo 'open",
        'echo "open',
        "echo $(open",
        "echo `open",
        "cat <<EOF\nx\nEOF",
        "echo >",
        "ls \\",
    ],
)
def test_what_cannot_be_followed_is_unparseable(command: str) -> None:
    with pytest.raises(Unparseable):
        parse_command(command)
