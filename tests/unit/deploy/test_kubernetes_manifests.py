"""deploy/kubernetes: the base and the example overlay, rendered by `kubectl kustomize`,
every resource checked against Kubernetes' OpenAPI schema (strict: an unknown field
fails), and the properties Hexa relies on asserted on what would reach the cluster."""

from __future__ import annotations

import copy
import re
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import kubernetes_validate  # type: ignore[import-untyped]
import pytest
import yaml  # type: ignore[import-untyped]

from hexa.config import Settings
from hexa.kube.specs import NOTEBOOK_APP

Resource = dict[str, Any]

ROOT = Path(__file__).resolve().parents[3]
KUBERNETES = ROOT / "deploy" / "kubernetes"
BASE = KUBERNETES / "base"
OVERLAY = KUBERNETES / "overlays" / "example"

# The kubectl that renders these (its client is 1.32), and the newest schema bundled with
# kubernetes_validate: an API removed since 1.32 fails there.
VERSIONS = ["1.32.0", kubernetes_validate.latest_version()]

NAMESPACE = "hexa"
SERVER = {"app.kubernetes.io/name": "hexa", "app.kubernetes.io/component": "server"}
NOTEBOOK = {"app.kubernetes.io/name": NOTEBOOK_APP}
ROLE_RULES = {
    "pods": {"get", "list", "create", "delete"},
    "pods/log": {"get"},
    "services": {"get", "list", "create", "delete"},
    "secrets": {"get", "create", "delete"},
}
EXPECTED = {
    ("ServiceAccount", "hexa"),
    ("Role", "hexa-notebooks"),
    ("RoleBinding", "hexa-notebooks"),
    ("PersistentVolumeClaim", "hexa-notebooks"),
    ("Deployment", "hexa"),
    ("Service", "hexa"),
    ("PodDisruptionBudget", "hexa"),
    ("NetworkPolicy", "hexa-notebooks"),
    ("NetworkPolicy", "hexa-server"),
    ("Ingress", "hexa"),
}


def _kubectl() -> str:
    kubectl = shutil.which("kubectl")
    if kubectl is None:
        pytest.skip("kubectl is not installed: it renders the kustomizations (not in apt)")
    return kubectl


def _render_text(folder: Path) -> str:
    done = subprocess.run(
        [_kubectl(), "kustomize", str(folder)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def _parse(text: str) -> list[Resource]:
    return [doc for doc in yaml.safe_load_all(text) if doc]


@pytest.fixture(scope="module")
def overlay_text() -> str:
    return _render_text(OVERLAY)


@pytest.fixture(scope="module")
def overlay(overlay_text: str) -> list[Resource]:
    return _parse(overlay_text)


@pytest.fixture(scope="module")
def base() -> list[Resource]:
    return _parse(_render_text(BASE))


def _one(resources: list[Resource], kind: str, name: str) -> Resource:
    found = [r for r in resources if r["kind"] == kind and r["metadata"]["name"] == name]
    assert len(found) == 1, f"{kind}/{name}: {len(found)} rendered"
    return found[0]


def _container(deployment: Resource) -> Resource:
    containers: list[Resource] = deployment["spec"]["template"]["spec"]["containers"]
    assert [c["name"] for c in containers] == ["hexa"]
    return containers[0]


def _env(container: Resource) -> dict[str, Resource]:
    return {e["name"]: e for e in container.get("env", [])}


def _selects(selector: Resource, labels: dict[str, str]) -> bool:
    """A LabelSelector of matchLabels only (what these files use) against pod labels."""
    assert set(selector) <= {"matchLabels"}, selector
    return all(labels.get(k) == v for k, v in selector["matchLabels"].items())


def _strings(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for k, v in value.items():
            yield str(k)
            yield from _strings(v)
    elif isinstance(value, list):
        for v in value:
            yield from _strings(v)


# Schema


@pytest.mark.parametrize("version", VERSIONS)
@pytest.mark.parametrize("which", ["base", "overlay"])
def test_every_resource_is_valid_against_the_schema(
    which: str, version: str, request: pytest.FixtureRequest
) -> None:
    resources: list[Resource] = request.getfixturevalue(which)
    assert resources
    for resource in resources:
        where = f"{resource['kind']}/{resource['metadata']['name']}"
        try:
            checked = kubernetes_validate.validate(resource, version, strict=True)
        except kubernetes_validate.ValidationError as e:
            path = ".".join(str(p) for p in e.path)
            pytest.fail(f"{where} against {version}: {path}: {e.message}")
        except kubernetes_validate.SchemaNotFoundError as e:
            # A kind the schema does not know is a failure, never a silent pass.
            pytest.fail(f"{where}: {e.message}")
        assert checked == ".".join(version.split(".")[:2])


def test_the_versions_are_bundled() -> None:
    bundled = kubernetes_validate.utils.all_versions()
    for version in VERSIONS:
        assert version in bundled


@pytest.mark.parametrize(
    ("where", "field", "value"),
    [
        # Unknown fields, at the top of the spec and deep in the pod template.
        ("spec", "replicass", 3),
        ("container", "imagePullPolicyy", "Always"),
        ("securityContext", "readOnlyRootFilesytem", True),
        # A known field of the wrong type.
        ("spec", "replicas", "three"),
    ],
)
@pytest.mark.parametrize("version", VERSIONS)
def test_the_schema_check_fails_on_a_wrong_deployment(
    overlay: list[Resource], version: str, where: str, field: str, value: Any
) -> None:
    deployment = copy.deepcopy(_one(overlay, "Deployment", "hexa"))
    # The untouched one passes: the failure below is the change's.
    kubernetes_validate.validate(deployment, version, strict=True)
    target = {
        "spec": deployment["spec"],
        "container": _container(deployment),
        "securityContext": _container(deployment)["securityContext"],
    }[where]
    target[field] = value
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(deployment, version, strict=True)


# What is rendered


def test_the_resources_and_their_namespace(overlay: list[Resource], base: list[Resource]) -> None:
    assert {(r["kind"], r["metadata"]["name"]) for r in base} == EXPECTED
    assert {(r["kind"], r["metadata"]["name"]) for r in overlay} == EXPECTED | {
        ("Namespace", NAMESPACE)
    }
    for resource in overlay:
        labels = resource["metadata"]["labels"]
        assert labels["app.kubernetes.io/part-of"] == "hexa", resource["kind"]
        if resource["kind"] != "Namespace":
            assert resource["metadata"]["namespace"] == NAMESPACE, resource["kind"]
    for resource in base:
        assert "namespace" not in resource["metadata"]
    # Pods that are not restricted (root, capabilities, privilege escalation) are refused.
    namespace = _one(overlay, "Namespace", NAMESPACE)["metadata"]["labels"]
    assert namespace["pod-security.kubernetes.io/enforce"] == "restricted"


def test_the_deployment_runs_several_replicas_and_rolls_without_a_gap(
    overlay: list[Resource], base: list[Resource]
) -> None:
    for resources in (base, overlay):
        deployment = _one(resources, "Deployment", "hexa")
        spec = deployment["spec"]
        assert spec["replicas"] >= 2
        assert spec["selector"] == {"matchLabels": SERVER}
        assert _selects(spec["selector"], spec["template"]["metadata"]["labels"])
        assert spec["strategy"] == {
            "type": "RollingUpdate",
            "rollingUpdate": {"maxUnavailable": 0, "maxSurge": 1},
        }
        pod = spec["template"]["spec"]
        assert pod["terminationGracePeriodSeconds"] == 30
        assert pod["serviceAccountName"] == "hexa"
        # The Service `hexa` would put HEXA_PORT=tcp://… in the environment.
        assert pod["enableServiceLinks"] is False
        anti = pod["affinity"]["podAntiAffinity"]
        term = anti["preferredDuringSchedulingIgnoredDuringExecution"][0]["podAffinityTerm"]
        assert term["topologyKey"] == "kubernetes.io/hostname"
        assert _selects(term["labelSelector"], spec["template"]["metadata"]["labels"])
        container = _container(deployment)
        assert container["ports"] == [{"name": "http", "containerPort": 8000, "protocol": "TCP"}]
        for probe in ("readinessProbe", "livenessProbe"):
            assert container[probe]["httpGet"] == {"path": "/health", "port": "http"}
        assert container["resources"] == {
            "requests": {"cpu": "250m", "memory": "512Mi"},
            "limits": {"memory": "1Gi"},
        }
    assert _one(overlay, "Deployment", "hexa")["spec"]["replicas"] == 3


def test_the_pdb_and_the_service_select_the_deployments_pods(overlay: list[Resource]) -> None:
    deployment = _one(overlay, "Deployment", "hexa")
    labels = deployment["spec"]["template"]["metadata"]["labels"]
    pdb = _one(overlay, "PodDisruptionBudget", "hexa")
    assert pdb["apiVersion"] == "policy/v1"
    assert pdb["spec"]["maxUnavailable"] == 1
    assert pdb["spec"]["selector"] == deployment["spec"]["selector"]
    assert _selects(pdb["spec"]["selector"], labels)

    service = _one(overlay, "Service", "hexa")
    assert service["spec"]["type"] == "ClusterIP"
    assert _selects({"matchLabels": service["spec"]["selector"]}, labels)
    assert service["spec"]["ports"] == [
        {"name": "http", "port": 80, "targetPort": "http", "protocol": "TCP"}
    ]
    port_names = {p["name"] for p in _container(deployment)["ports"]}
    assert service["spec"]["ports"][0]["targetPort"] in port_names


def test_the_role_is_exactly_what_notebook_pods_need_in_the_namespace(
    overlay: list[Resource],
) -> None:
    kinds = {r["kind"] for r in overlay}
    assert not kinds & {"ClusterRole", "ClusterRoleBinding"}
    role = _one(overlay, "Role", "hexa-notebooks")
    assert role["metadata"]["namespace"] == NAMESPACE
    granted: dict[str, set[str]] = {}
    for rule in role["rules"]:
        assert set(rule) == {"apiGroups", "resources", "verbs"}, rule
        assert rule["apiGroups"] == [""], rule
        assert "*" not in rule["verbs"], rule
        assert "*" not in rule["resources"], rule
        for resource in rule["resources"]:
            granted.setdefault(resource, set()).update(rule["verbs"])
    assert granted == ROLE_RULES

    binding = _one(overlay, "RoleBinding", "hexa-notebooks")
    assert binding["metadata"]["namespace"] == NAMESPACE
    assert binding["roleRef"] == {
        "apiGroup": "rbac.authorization.k8s.io",
        "kind": "Role",
        "name": "hexa-notebooks",
    }
    account = _one(overlay, "ServiceAccount", "hexa")["metadata"]
    assert binding["subjects"] == [
        {"kind": "ServiceAccount", "name": account["name"], "namespace": NAMESPACE}
    ]
    pod = _one(overlay, "Deployment", "hexa")["spec"]["template"]["spec"]
    assert pod["serviceAccountName"] == account["name"]


def test_only_the_server_pods_reach_notebook_pods(overlay: list[Resource]) -> None:
    server_labels = _one(overlay, "Deployment", "hexa")["spec"]["template"]["metadata"]["labels"]
    policy = _one(overlay, "NetworkPolicy", "hexa-notebooks")["spec"]
    assert policy["podSelector"] == {"matchLabels": NOTEBOOK}
    assert not _selects(policy["podSelector"], server_labels)
    assert policy["policyTypes"] == ["Ingress"]
    # One rule, one peer: pods of this namespace with the server's labels, on any port.
    assert policy["ingress"] == [{"from": [{"podSelector": {"matchLabels": SERVER}}]}]
    assert _selects(policy["ingress"][0]["from"][0]["podSelector"], server_labels)

    server = _one(overlay, "NetworkPolicy", "hexa-server")["spec"]
    assert _selects(server["podSelector"], server_labels)
    assert not _selects(server["podSelector"], NOTEBOOK)
    assert server["policyTypes"] == ["Ingress"]
    assert server["ingress"] == [{"ports": [{"port": 8000, "protocol": "TCP"}]}]


def test_the_environment_and_the_secret(overlay: list[Resource], overlay_text: str) -> None:
    container = _container(_one(overlay, "Deployment", "hexa"))
    env = _env(container)
    values = {name: e.get("value") for name, e in env.items()}
    assert values["HEXA_SANDBOX"] == "kubernetes"
    assert values["HEXA_HOST"] == "0.0.0.0"
    assert values["HEXA_PORT"] == "8000"
    assert values["HEXA_DATA_DIR"] == "/data"
    assert values["HEXA_KUBERNETES_NOTEBOOKS_CLAIM"] == "hexa-notebooks"
    assert env["HEXA_KUBERNETES_NAMESPACE"]["valueFrom"] == {
        "fieldRef": {"fieldPath": "metadata.namespace"}
    }
    assert env["HEXA_REPLICA_ID"]["valueFrom"] == {"fieldRef": {"fieldPath": "metadata.name"}}
    # The database URL, the token and model keys come from the Secret, made by hand.
    assert container["envFrom"] == [{"secretRef": {"name": "hexa-secrets"}}]
    for secret in ("HEXA_DATABASE_URL", "HEXA_TOKEN", "HEXA_OPENAI_API_KEY"):
        assert secret not in env
    assert "Secret" not in {r["kind"] for r in overlay}
    assert not re.search(r"[a-z+]+://[^/\s:@]*:[^@\s]*@", overlay_text), "a URL with a password"
    assert "postgresql" not in overlay_text
    assert "password" not in overlay_text.lower()


def test_the_overlay_rewrites_both_images(overlay: list[Resource], base: list[Resource]) -> None:
    container = _container(_one(base, "Deployment", "hexa"))
    assert container["image"] == "hexa:latest"
    assert _env(container)["HEXA_NOTEBOOK_IMAGE"]["value"] == "hexa-notebook:latest"

    container = _container(_one(overlay, "Deployment", "hexa"))
    assert container["image"] == "registry.example.com/hexa:0.1.0"
    env = _env(container)
    assert env["HEXA_NOTEBOOK_IMAGE"] == {
        "name": "HEXA_NOTEBOOK_IMAGE",
        "value": "registry.example.com/hexa-notebook:0.1.0",
    }
    # Nothing anywhere still names the unpushed local images.
    for text in _strings(overlay):
        assert not re.search(r"(^|[^/])hexa(-notebook)?:latest", text), text


def test_the_pods_run_as_non_root_on_a_read_only_root(
    overlay: list[Resource], base: list[Resource]
) -> None:
    for resources in (base, overlay):
        pod = _one(resources, "Deployment", "hexa")["spec"]["template"]["spec"]
        context = pod["securityContext"]
        assert context["runAsNonRoot"] is True
        assert context["runAsUser"] == 10001
        assert context["runAsGroup"] == 10001
        assert context["fsGroup"] == 10001
        assert context["seccompProfile"] == {"type": "RuntimeDefault"}
        for host in ("hostNetwork", "hostPID", "hostIPC"):
            assert host not in pod
        for container in pod["containers"] + pod.get("initContainers", []):
            own = container["securityContext"]
            assert own.get("runAsNonRoot", True) is True
            assert own.get("runAsUser", context["runAsUser"]) != 0
            assert own["allowPrivilegeEscalation"] is False
            assert own["readOnlyRootFilesystem"] is True
            assert own["capabilities"] == {"drop": ["ALL"]}
            assert own.get("privileged", False) is False


def test_the_volumes(overlay: list[Resource], base: list[Resource]) -> None:
    for resources in (base, overlay):
        deployment = _one(resources, "Deployment", "hexa")
        pod = deployment["spec"]["template"]["spec"]
        volumes = {v["name"]: v for v in pod["volumes"]}
        mounts = {m["mountPath"]: m["name"] for m in _container(deployment)["volumeMounts"]}
        assert mounts == {
            "/data": "data",
            "/data/notebooks": "notebooks",
            "/tmp": "tmp",
            "/home/hexa": "home",
        }
        for writable in ("data", "tmp", "home"):
            assert "emptyDir" in volumes[writable]
        claim = volumes["notebooks"]["persistentVolumeClaim"]["claimName"]
        pvc = _one(resources, "PersistentVolumeClaim", claim)
        assert pvc["spec"]["accessModes"] == ["ReadWriteMany"]
        assert pvc["spec"]["resources"]["requests"]["storage"] == "50Gi"
        # Hexa mounts the same claim in notebook pods, by this name.
        assert _env(_container(deployment))["HEXA_KUBERNETES_NOTEBOOKS_CLAIM"]["value"] == claim
    assert "storageClassName" not in _one(base, "PersistentVolumeClaim", "hexa-notebooks")["spec"]
    overlay_pvc = _one(overlay, "PersistentVolumeClaim", "hexa-notebooks")
    assert overlay_pvc["spec"]["storageClassName"] == "nfs-client"


def test_the_ingress(overlay: list[Resource], base: list[Resource]) -> None:
    service = _one(overlay, "Service", "hexa")
    for resources, host in ((base, "hexa.example.com"), (overlay, "hexa.example.org")):
        ingress = _one(resources, "Ingress", "hexa")
        assert ingress["apiVersion"] == "networking.k8s.io/v1"
        annotations = ingress["metadata"]["annotations"]
        assert annotations["nginx.ingress.kubernetes.io/proxy-read-timeout"] == "3600"
        assert annotations["nginx.ingress.kubernetes.io/proxy-send-timeout"] == "3600"
        [rule] = ingress["spec"]["rules"]
        assert rule["host"] == host
        assert ingress["spec"]["tls"] == [{"hosts": [host], "secretName": "hexa-tls"}]
        [path] = rule["http"]["paths"]
        assert path["path"] == "/"
        assert path["pathType"] == "Prefix"
        backend = path["backend"]["service"]
        assert backend["name"] == service["metadata"]["name"]
        assert backend["port"] == {"number": service["spec"]["ports"][0]["port"]}


def test_the_manifests_match_what_hexa_creates(overlay: list[Resource]) -> None:
    """The notebook pods' label is hexa.kube.specs'; Hexa's group is its setting's default."""
    assert NOTEBOOK_APP == "hexa-notebook"
    policy = _one(overlay, "NetworkPolicy", "hexa-notebooks")["spec"]
    assert policy["podSelector"]["matchLabels"]["app.kubernetes.io/name"] == NOTEBOOK_APP
    context = _one(overlay, "Deployment", "hexa")["spec"]["template"]["spec"]["securityContext"]
    group = Settings.model_fields["kubernetes_group"].default
    assert context["runAsGroup"] == context["fsGroup"] == group
    claim = Settings.model_fields["kubernetes_notebooks_claim"].default
    assert _one(overlay, "PersistentVolumeClaim", claim)
