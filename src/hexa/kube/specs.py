"""The Kubernetes objects of one notebook, as the JSON sent to the API server.

A pod runs `marimo edit` from the notebook image as the user's uid, with no service account
token, no capabilities, a read-only root and private /tmp; it mounts only its user's two
folders of the shared notebooks volume (`<user>` at ~/notebooks, `.home/<user>` at ~) and
marimo's token from a secret of its own. A service of the same name points at it. Every
object carries the labels Hexa finds them by: the notebook, the user and the replica.
"""

from __future__ import annotations

import base64
import hashlib
import re
from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import Any

NOTEBOOK_APP = "hexa-notebook"
MANAGED_BY = "hexa"
TOKEN_DIR = "/var/run/hexa"
LABEL_NOTEBOOK = "hexa.dev/notebook"
LABEL_USER = "hexa.dev/user"
LABEL_REPLICA = "hexa.dev/replica"
LABEL_POD = "hexa.dev/pod"
_UNSAFE = re.compile(r"[^a-z0-9-]+")
_LABEL_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


@dataclass(frozen=True)
class PodPlan:
    """What one notebook's pod is made of (everything `objects` needs)."""

    notebook_id: str
    owner: str
    owner_id: int
    notebook_path: PurePosixPath  # relative to the user's folder
    replica: str
    image: str
    port: int
    uid: int
    group: int  # Hexa's, shared with the user's folders
    memory_bytes: int
    cpus: float
    claim: str


def pod_name(notebook_id: str) -> str:
    """A DNS-1123 name, unique per notebook id (ids are case-sensitive; names are not)."""
    digest = hashlib.sha256(notebook_id.encode()).hexdigest()[:8]
    stem = _UNSAFE.sub("-", notebook_id.lower()).strip("-")[:40].strip("-")
    return f"nb-{stem}-{digest}" if stem else f"nb-{digest}"


def label_value(value: str) -> str:
    """A label value (63 characters of [A-Za-z0-9._-], alphanumeric at both ends)."""
    cleaned = _LABEL_UNSAFE.sub("-", value)[:63].strip("._-")
    return cleaned or "x"


def labels(plan: PodPlan, name: str) -> dict[str, str]:
    return {
        "app.kubernetes.io/name": NOTEBOOK_APP,
        "app.kubernetes.io/managed-by": MANAGED_BY,
        LABEL_NOTEBOOK: label_value(plan.notebook_id),
        LABEL_USER: str(plan.owner_id),
        LABEL_REPLICA: label_value(plan.replica),
        LABEL_POD: name,
    }


def home(owner: str) -> PurePosixPath:
    return PurePosixPath("/home") / owner


def command(plan: PodPlan) -> list[str]:
    path = home(plan.owner) / "notebooks" / plan.notebook_path
    return [
        "python", "-m", "marimo", "edit", str(path),
        "--headless", "--host", "0.0.0.0", "--port", str(plan.port),
        "--base-url", f"/nb/{plan.notebook_id}",
        "--token-password-file", f"{TOKEN_DIR}/token",
        "--skip-update-check", "--no-skew-protection",
    ]  # fmt: skip


def objects(plan: PodPlan, token: str) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
    """The secret (marimo's token), the pod and the service of one notebook."""
    name = pod_name(plan.notebook_id)
    meta = {"name": name, "labels": labels(plan, name)}
    secret = {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": f"{name}-token", "labels": labels(plan, name)},
        "type": "Opaque",
        "data": {"token": base64.b64encode(token.encode()).decode()},
    }
    return secret, pod(plan, name, meta), service(plan, name, meta)


def pod(plan: PodPlan, name: str, meta: dict[str, Any]) -> dict[str, Any]:
    user_home = home(plan.owner)
    memory = f"{plan.memory_bytes // 1024**2}Mi"
    limits: dict[str, str] = {"memory": memory}
    requests: dict[str, str] = {"memory": f"{max(64, plan.memory_bytes // 1024**2 // 4)}Mi"}
    if plan.cpus > 0:
        limits["cpu"] = f"{int(plan.cpus * 1000)}m"
        requests["cpu"] = f"{max(50, int(plan.cpus * 250))}m"
    env = {
        "HOME": str(user_home),
        "USER": f"hexa-{plan.owner}",
        "LOGNAME": f"hexa-{plan.owner}",
        "XDG_CONFIG_HOME": str(user_home / ".config"),
        "XDG_CACHE_HOME": str(user_home / ".cache"),
        "XDG_STATE_HOME": str(user_home / ".local" / "state"),
        "XDG_DATA_HOME": str(user_home / ".local" / "share"),
        "PIP_TARGET": str(user_home / ".local/lib/hexa-packages"),
        "MARIMO_UV_TARGET": str(user_home / ".local/lib/hexa-packages"),
        "PYTHONPATH": str(user_home / ".local/lib/hexa-packages"),
        "PYTHONUNBUFFERED": "1",
        "PWD": str(user_home / "notebooks"),
    }
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": meta,
        "spec": {
            "restartPolicy": "Never",  # Hexa restarts a notebook with a new pod
            "automountServiceAccountToken": False,  # notebook code gets no API access
            "enableServiceLinks": False,
            "terminationGracePeriodSeconds": 10,
            # The user's own uid; Hexa's group as a supplementary one, so both may write
            # the user's folders (made setgid to that group). No fsGroup: the kubelet
            # would re-group the whole shared volume at every start.
            "securityContext": {
                "runAsUser": plan.uid,
                "runAsGroup": plan.uid,
                "supplementalGroups": [plan.group],
                "runAsNonRoot": True,
                "seccompProfile": {"type": "RuntimeDefault"},
            },
            "containers": [
                {
                    "name": "marimo",
                    "image": plan.image,
                    "command": command(plan),
                    "workingDir": str(user_home / "notebooks"),
                    "env": [{"name": k, "value": v} for k, v in env.items()],
                    "ports": [{"name": "marimo", "containerPort": plan.port}],
                    "readinessProbe": {
                        "httpGet": {"path": f"/nb/{plan.notebook_id}/health", "port": plan.port},
                        "periodSeconds": 2,
                        "failureThreshold": 3,
                    },
                    "resources": {"limits": limits, "requests": requests},
                    "securityContext": {
                        "allowPrivilegeEscalation": False,
                        "readOnlyRootFilesystem": True,
                        "capabilities": {"drop": ["ALL"]},
                    },
                    "volumeMounts": [
                        {
                            "name": "files",
                            "mountPath": str(user_home),
                            "subPath": f".home/{plan.owner}",
                        },
                        {
                            "name": "files",
                            "mountPath": str(user_home / "notebooks"),
                            "subPath": plan.owner,
                        },
                        {"name": "token", "mountPath": TOKEN_DIR, "readOnly": True},
                        {"name": "tmp", "mountPath": "/tmp"},
                    ],
                }
            ],
            "volumes": [
                {"name": "files", "persistentVolumeClaim": {"claimName": plan.claim}},
                {
                    "name": "token",
                    # Readable by the pod's uid without fsGroup; the pod is the only one
                    # that mounts it, and its marimo holds the same token in memory.
                    "secret": {"secretName": f"{name}-token", "defaultMode": 0o444},
                },
                {"name": "tmp", "emptyDir": {}},
            ],
        },
    }


def service(plan: PodPlan, name: str, meta: dict[str, Any]) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": meta,
        "spec": {
            "selector": {LABEL_POD: name},
            "ports": [{"name": "marimo", "port": plan.port, "targetPort": plan.port}],
        },
    }
