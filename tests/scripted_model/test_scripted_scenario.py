"""Scenario files: the shipped example loads; every mistake names the file and the key path."""

from __future__ import annotations

from pathlib import Path

import pytest

from claude_tunnels.tunnels import scripted_model
from claude_tunnels.tunnels.scripted_model import (
    ScenarioError,
    ScriptedError,
    ToolUse,
    Turn,
    load_scenario,
    parse_scenario,
)

EXAMPLE = Path(scripted_model.__file__).parent / "scenarios" / "example.yaml"


def test_the_shipped_example_loads() -> None:
    scenario = load_scenario(EXAMPLE)

    names = [script.name for script in scenario.scripts]
    assert names == ["router", "router-no-project", "planner", "alpha-api", "direct", "slow", "stuck", "overloaded"]
    workspace = scenario.scripts[3]
    assert workspace.turns[0].tool_uses[0] == ToolUse(
        name="Write",
        input={"file_path": "{cwd}/health.py", "content": "def health():\n    return 'ok'\n"},
    )
    assert workspace.turns[2].structured_output["test_result"] == "pass"
    assert scenario.scripts[6].turns == [Turn(hang=True)]
    assert scenario.scripts[7].turns[0].error == ScriptedError(
        status=529, type="overloaded_error", message="scripted overload"
    )
    # Played end to end on a tree set up by `tunnels init`: tests/cli/test_example_scenario.py


def test_an_empty_file_is_an_empty_scenario() -> None:
    assert parse_scenario("").scripts == []


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "scripts:\n  - name: a\n    match: [x]\n    turns:\n      - txt: hi\n",
            "unknown field `txt` - at `$.scripts[0].turns[0]`",
        ),
        (
            "scripts:\n  - name: a\n    match: [x]\n    turns:\n      - delay_s: soon\n",
            "Expected `float`, got `str` - at `$.scripts[0].turns[0].delay_s`",
        ),
        (
            "scripts:\n  - name: a\n    turns: []\n",
            "missing required field `match` - at `$.scripts[0]`",
        ),
        (
            "scripts:\n  - name: a\n    match: []\n",
            "needs at least one non-empty string - at `$.scripts[0].match`",
        ),
        (
            "scripts:\n  - {name: a, match: [x]}\n  - {name: a, match: [y]}\n",
            "duplicate script name 'a' - at `$.scripts[1].name`",
        ),
        (
            "scripts:\n  - name: a\n    match: [x]\n    turns: [{delay_s: 1}]\n",
            "a turn needs `text`, `tool_uses`, `structured_output`, `error` or `hang`"
            " - at `$.scripts[0].turns[0]`",
        ),
        (
            "scripts:\n  - name: a\n    match: [x]\n    turns: [{text: hi, hang: true}]\n",
            "cannot be combined with anything else - at `$.scripts[0].turns[0]`",
        ),
        (
            "scripts:\n  - name: a\n    match: [x]\n    turns: [{error: {status: 200}}]\n",
            "must be 400..599, got 200 - at `$.scripts[0].turns[0].error.status`",
        ),
        (
            "scripts:\n  - name: a\n    match: [x]\n    turns: [{error: {status: 500, kind: x}}]\n",
            "unknown field `kind` - at `$.scripts[0].turns[0].error`",
        ),
        (
            "scripts:\n  - name: a\n    match: [x]\n    turns: [{tool_uses: [{name: W, a: 1}]}]\n",
            "unknown field `a` - at `$.scripts[0].turns[0].tool_uses[0]`",
        ),
        (
            "scripts:\n  - name: a\n    match: [x]\n    turns: [{delay_s: -1, text: x}]\n",
            "must be >= 0, got -1.0 - at `$.scripts[0].turns[0].delay_s`",
        ),
        ("script:\n  - name: a\n", "unknown field `script` - at `$`"),
        ("scripts: [\n", "not valid YAML"),
        ("- just a list\n", "Expected `object`, got `array`"),
    ],
)
def test_mistakes_name_the_source_and_the_key_path(text: str, expected: str) -> None:
    with pytest.raises(ScenarioError) as caught:
        parse_scenario(text, "broken.yaml")

    assert str(caught.value).startswith("broken.yaml: ")
    assert expected in str(caught.value)


def test_a_file_error_names_the_file(tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text("scripts:\n  - name: a\n    match: [x]\n    turns: [{txt: hi}]\n")

    with pytest.raises(ScenarioError, match=r"bad\.yaml: .*unknown field `txt`"):
        load_scenario(path)
    with pytest.raises(ScenarioError, match=r"missing\.yaml: cannot read scenario"):
        load_scenario(tmp_path / "missing.yaml")
