"""A Kubernetes manifest for an agent: a Secret with its credentials and a one-replica Deployment.

The pod mounts the workspace from a PersistentVolumeClaim, the Secret as read-only files (the
agent reads its seed from a file, never from an argument or an environment variable), and keeps
its session homes on an `emptyDir`. It opens no port and has no Service: it dials out to NATS.
`Recreate` makes sure two agents never serve the workspace at once during a rollout.
"""

from __future__ import annotations

import base64
import hashlib
import re
from dataclasses import dataclass
from typing import Any

import yaml

from claude_tunnels.config.credentials import Secret

SECRET_DIR = "/var/run/secrets/tunnels-agent"
STATE_DIR = "/var/lib/tunnels-agent"
_NOT_DNS = re.compile(r"[^a-z0-9]+")


@dataclass(frozen=True)
class K8sTarget:
    """What to deploy; `path` is where the workspace volume is mounted in the container."""

    workspace: str
    nats: str
    image: str
    pvc: str | None = None
    namespace: str | None = None
    path: str = "/workspace"
    prefix: str = "tunnels"
    stream: str = "TUNNELS_EVENTS"
    js_domain: str | None = None
    """The hub's JetStream domain, when `nats` is a leaf node."""
    drain_timeout_s: float = 60.0
    cpu_request: str = "250m"
    memory_request: str = "512Mi"
    cpu_limit: str = "2"
    memory_limit: str = "2Gi"

    @property
    def name(self) -> str:
        """`tunnels-agent-<workspace slug>-<hash>`: a valid, unique, stable resource name."""
        slug = _NOT_DNS.sub("-", self.workspace.lower()).strip("-")[:40].strip("-")
        digest = hashlib.sha256(self.workspace.encode()).hexdigest()[:6]
        return f"tunnels-agent-{slug}-{digest}"

    @property
    def claim(self) -> str:
        """The PersistentVolumeClaim holding the workspace."""
        return self.pvc or f"{self.name}-workspace"


def manifest(target: K8sTarget, seed: Secret, env_file: Secret | None = None) -> list[dict[str, Any]]:
    """The Secret and the Deployment of the agent of `target.workspace`."""
    labels = {
        "app.kubernetes.io/name": "tunnels-agent",
        "app.kubernetes.io/instance": target.name,
        "app.kubernetes.io/part-of": "claude-tunnels",
    }
    meta: dict[str, Any] = {"name": target.name, "labels": labels, "annotations": {"claude-tunnels/workspace": target.workspace}}
    if target.namespace:
        meta["namespace"] = target.namespace
    data = {"seed.nk": _b64(seed.reveal() + "\n")}
    args = [
        "--nats", target.nats, "--workspace", target.workspace, "--path", target.path,
        "--nkey-seed-file", f"{SECRET_DIR}/seed.nk", "--state-dir", STATE_DIR,
        "--prefix", target.prefix, "--stream", target.stream, "--drain-timeout-s", f"{target.drain_timeout_s:g}",
    ]
    if target.js_domain:
        args += ["--js-domain", target.js_domain]
    if env_file is not None:
        data["agent.env"] = _b64(env_file.reveal())
        args += ["--env-file", f"{SECRET_DIR}/agent.env"]
    secret = {"apiVersion": "v1", "kind": "Secret", "metadata": meta, "type": "Opaque", "data": data}
    container = {
        "name": "agent",
        "image": target.image,
        "command": ["tunnels-agent"],
        "args": args,
        "resources": {
            "requests": {"cpu": target.cpu_request, "memory": target.memory_request},
            "limits": {"cpu": target.cpu_limit, "memory": target.memory_limit},
        },
        "securityContext": {"allowPrivilegeEscalation": False, "capabilities": {"drop": ["ALL"]}},
        "volumeMounts": [
            {"name": "workspace", "mountPath": target.path},
            {"name": "credentials", "mountPath": SECRET_DIR, "readOnly": True},
            {"name": "state", "mountPath": STATE_DIR},
        ],
    }
    deployment = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": meta,
        "spec": {
            "replicas": 1,
            "strategy": {"type": "Recreate"},
            "selector": {"matchLabels": {k: labels[k] for k in ("app.kubernetes.io/name", "app.kubernetes.io/instance")}},
            "template": {
                "metadata": {"labels": labels, "annotations": {"claude-tunnels/workspace": target.workspace}},
                "spec": {
                    "automountServiceAccountToken": False,
                    "terminationGracePeriodSeconds": int(target.drain_timeout_s) + 30,
                    "securityContext": {"runAsNonRoot": True, "runAsUser": 1000, "runAsGroup": 1000, "fsGroup": 1000},
                    "containers": [container],
                    "volumes": [
                        {"name": "workspace", "persistentVolumeClaim": {"claimName": target.claim}},
                        {"name": "credentials", "secret": {"secretName": target.name, "defaultMode": 0o400}},
                        {"name": "state", "emptyDir": {}},
                    ],
                },
            },
        },
    }
    return [secret, deployment]


def to_yaml(documents: list[dict[str, Any]]) -> str:
    """The manifest as YAML documents, ready for `kubectl apply -f -`."""
    header = "# tunnels-agent: generated by `tunnels deploy k8s`. The Secret holds the agent's nkey seed.\n"
    return header + yaml.dump_all(documents, Dumper=_PlainDumper, sort_keys=False, explicit_start=True)


class _PlainDumper(yaml.SafeDumper):
    """No `&id001` anchors for the dicts the manifest shares: kubectl users read this file."""

    def ignore_aliases(self, data: Any) -> bool:
        return True


def _b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()
