"""A Kubernetes manifest for orchestrators in standby pairs: a Secret and a Deployment of N replicas.

Every replica runs `tunnels serve` on the same root, a ReadWriteMany PersistentVolumeClaim (the
shared-storage case of a standby's tree), against an existing NATS cluster (`nats.url` in the
root's `orchestrator.yaml`; the NATS project's Helm chart runs one). One replica holds the lease
and serves; the others stand by (README, "Running on a cluster"). The Secret holds the
environment of `--env-file` (chat tokens, the model's API key), given to the pods as variables.
"""

from __future__ import annotations

import base64
import re
from dataclasses import dataclass
from typing import Any

from claude_tunnels.config.credentials import Secret

ROOT_PATH = "/srv/tunnels"
_ENV_LINE = re.compile(r"([A-Za-z_][A-Za-z0-9_]*)=(.*)")


@dataclass(frozen=True)
class OrchestratorTarget:
    """What to deploy: the image, the claim holding the root, and how many replicas."""

    image: str
    pvc: str = "tunnels-root"
    namespace: str | None = None
    replicas: int = 2
    name: str = "tunnels-orchestrator"
    cpu_request: str = "500m"
    memory_request: str = "1Gi"
    cpu_limit: str = "4"
    memory_limit: str = "8Gi"


def env_lines(text: str) -> dict[str, str]:
    """KEY=VALUE lines (blank lines and # comments skipped); ValueError names a bad line by number."""
    found: dict[str, str] = {}
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        match = _ENV_LINE.fullmatch(line.strip())
        if match is None:
            raise ValueError(f"line {number} is not KEY=VALUE")
        found[match.group(1)] = match.group(2)
    return found


def orchestrator_manifest(target: OrchestratorTarget, env: Secret | None = None) -> list[dict[str, Any]]:
    """The Secret (when `env` is given) and the Deployment of the orchestrator replicas."""
    labels = {"app.kubernetes.io/name": "tunnels-orchestrator", "app.kubernetes.io/instance": target.name,
              "app.kubernetes.io/part-of": "claude-tunnels"}
    meta: dict[str, Any] = {"name": target.name, "labels": labels}
    if target.namespace:
        meta["namespace"] = target.namespace
    documents: list[dict[str, Any]] = []
    container: dict[str, Any] = {
        "name": "orchestrator",
        "image": target.image,
        "command": ["tunnels"],
        "args": ["--root", ROOT_PATH, "serve"],
        "resources": {
            "requests": {"cpu": target.cpu_request, "memory": target.memory_request},
            "limits": {"cpu": target.cpu_limit, "memory": target.memory_limit},
        },
        "securityContext": {"allowPrivilegeEscalation": False, "capabilities": {"drop": ["ALL"]}},
        "volumeMounts": [{"name": "root", "mountPath": ROOT_PATH}],
    }
    if env is not None:
        data = {key: base64.b64encode(value.encode()).decode() for key, value in env_lines(env.reveal()).items()}
        documents.append({"apiVersion": "v1", "kind": "Secret", "metadata": meta, "type": "Opaque", "data": data})
        container["envFrom"] = [{"secretRef": {"name": target.name}}]
    selector = {k: labels[k] for k in ("app.kubernetes.io/name", "app.kubernetes.io/instance")}
    documents.append({
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": meta,
        "spec": {
            "replicas": target.replicas,
            "selector": {"matchLabels": selector},
            "template": {
                "metadata": {"labels": labels},
                "spec": {
                    "automountServiceAccountToken": False,
                    # A stopping replica releases its lease: the standby takes over at once.
                    "terminationGracePeriodSeconds": 60,
                    "securityContext": {"runAsNonRoot": True, "runAsUser": 1000, "runAsGroup": 1000, "fsGroup": 1000},
                    # Replicas on different nodes, so one node's loss leaves a standby.
                    "affinity": {"podAntiAffinity": {"preferredDuringSchedulingIgnoredDuringExecution": [{
                        "weight": 100,
                        "podAffinityTerm": {"labelSelector": {"matchLabels": selector}, "topologyKey": "kubernetes.io/hostname"},
                    }]}},
                    "containers": [container],
                    "volumes": [{"name": "root", "persistentVolumeClaim": {"claimName": target.pvc}}],
                },
            },
        },
    })
    return documents
