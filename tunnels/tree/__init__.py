"""The tree of projects and workspaces on disk, and safe names."""

from tunnels.tree.discover import discover
from tunnels.tree.errors import (
    DuplicateWorkspace,
    TreeError,
    UnknownProject,
    UnknownWorkspace,
    UnsafeName,
)
from tunnels.tree.model import Project, Skipped, Tree, Workspace, remote_workspace
from tunnels.tree.names import safe_within, slug, validate_name

__all__ = [
    "DuplicateWorkspace",
    "Project",
    "Skipped",
    "Tree",
    "TreeError",
    "UnknownProject",
    "UnknownWorkspace",
    "UnsafeName",
    "Workspace",
    "discover",
    "remote_workspace",
    "safe_within",
    "slug",
    "validate_name",
]
