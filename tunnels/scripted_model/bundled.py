"""Scenarios that ship with the package, found by name: `--scripted-model example`."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

from claude_tunnels.tunnels.scripted_model.scenario import Scenario, ScenarioError, load_scenario, parse_scenario

BUNDLED = {
    "example": ("claude_tunnels.tunnels", "scripted_model/scenarios/example.yaml"),
    "demo": ("claude_tunnels.tunnels.demo", "scenario.yaml"),
}
"""Name -> (package, file) of each scenario shipped with claude-tunnels."""


def find_scenario(value: str) -> Scenario:
    """The scenario in the file `value`, or the bundled one named `value` when no such file exists.

    Raises:
        ScenarioError: neither, or the scenario is not valid (the message names the key path).
    """
    if Path(value).exists() or value not in BUNDLED:
        if not Path(value).exists():
            raise ScenarioError(f"{value}: no such scenario file (bundled scenarios: {', '.join(BUNDLED)})")
        return load_scenario(Path(value))
    package, name = BUNDLED[value]
    return parse_scenario(resources.files(package).joinpath(name).read_text(encoding="utf-8"), f"{value} ({name})")
