"""The remote workspace agent (`tunnels-agent`): serves one workspace of its host over NATS.

Modules: `protocol` (the wire contract with the orchestrator, imported by both sides, so this
package imports nothing eagerly), `agent` (`WorkspaceAgent`), `settings` (options, secrets),
`link` (its NATS adapter), `reports`, `task`, `credentials` (an agent's nkey and permission
block), `deploy_ssh` and `deploy_k8s` (generated set-ups), `cli` (`tunnels-agent`).
"""
