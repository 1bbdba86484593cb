"""Reading the workspaces' manifests into the dependency graph (one small module per ecosystem:
`python`, `node`, `go`, `cargo`; `graph` matches what they declare to workspaces)."""

from claude_tunnels.tunnels.manifests.graph import manifest_graph

__all__ = ["manifest_graph"]
