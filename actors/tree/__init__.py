"""The tree of projects and workspaces and the dependency graph between them (the model;
`tunnels.discovery` reads it from disk), and safe names."""

from claude_tunnels.actors.tree.errors import (
    DuplicateWorkspace,
    TreeError,
    UnknownProject,
    UnknownWorkspace,
    UnsafeName,
)
from claude_tunnels.actors.tree.graph import Edge, Graph
from claude_tunnels.actors.tree.model import Project, Skipped, Tree, Workspace, remote_workspace
from claude_tunnels.actors.tree.names import safe_within, validate_name

__all__ = [
    "DuplicateWorkspace",
    "Edge",
    "Graph",
    "Project",
    "Skipped",
    "Tree",
    "TreeError",
    "UnknownProject",
    "UnknownWorkspace",
    "UnsafeName",
    "Workspace",
    "remote_workspace",
    "safe_within",
    "validate_name",
]
