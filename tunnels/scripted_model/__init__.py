"""A scripted stand-in for the Anthropic Messages API, so the real Claude Code CLI runs offline.

`ScriptedModelServer` plays a `Scenario` (YAML, see `scenario`) to every CLI pointed at it with
`ScriptedModelServer.env()`; the CLI then really runs the scripted tool calls in its workspace.
"""

from claude_tunnels.tunnels.scripted_model.scenario import (
    Scenario,
    ScenarioError,
    Script,
    ScriptedError,
    ToolUse,
    Turn,
    load_scenario,
    parse_scenario,
)
from claude_tunnels.tunnels.scripted_model.server import RecordedRequest, ScriptedModelServer

__all__ = [
    "RecordedRequest",
    "Scenario",
    "ScenarioError",
    "Script",
    "ScriptedError",
    "ScriptedModelServer",
    "ToolUse",
    "Turn",
    "load_scenario",
    "parse_scenario",
]
