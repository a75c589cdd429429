"""The objects HEXA_SANDBOX=kubernetes sends, checked against Kubernetes' own schema."""

from __future__ import annotations

import re
from pathlib import PurePosixPath

import kubernetes_validate  # type: ignore[import-untyped]
import pytest

from hexa.kube.specs import PodPlan, label_value, objects, pod_name

DNS_1123 = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?")


def plan(notebook_id: str = "Sales_Q3", cpus: float = 1.0) -> PodPlan:
    return PodPlan(
        notebook_id=notebook_id,
        owner="ann",
        owner_id=7,
        notebook_path=PurePosixPath("reports/sales.py"),
        replica="hexa-7d9f-abcde",
        image="registry.example.com/hexa-notebook:1",
        port=41234,
        uid=200007,
        group=10001,
        memory_bytes=2048 * 1024**2,
        cpus=cpus,
        claim="hexa-notebooks",
    )


@pytest.mark.parametrize("cpus", [1.0, 0.0])
def test_every_object_is_valid_kubernetes(cpus: float) -> None:
    for obj in objects(plan(cpus=cpus), "the-token"):
        kubernetes_validate.validate(obj, "1.32.0", strict=True)


def test_an_unknown_field_is_caught_by_the_same_check() -> None:
    _, pod, _ = objects(plan(), "t")
    pod["spec"]["containers"][0]["imagePullPolicyy"] = "Always"
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(pod, "1.32.0", strict=True)


def test_names_are_dns_labels_and_ids_differing_by_case_get_different_pods() -> None:
    names = {pod_name(i) for i in ("Sales_Q3", "sales_q3", "sales-q3", "x" * 64, "___")}
    assert len(names) == 5
    assert all(DNS_1123.fullmatch(n) and len(n) <= 53 for n in names)
    assert label_value("-a b.c_") == "a-b.c"


def test_the_pod_sees_only_its_users_folders_and_no_api_credentials() -> None:
    secret, pod, service = objects(plan(), "the-token")
    spec = pod["spec"]
    container = spec["containers"][0]
    assert spec["automountServiceAccountToken"] is False
    assert spec["restartPolicy"] == "Never"
    assert [(m["mountPath"], m.get("subPath")) for m in container["volumeMounts"]] == [
        ("/home/ann", ".home/ann"),
        ("/home/ann/notebooks", "ann"),
        ("/var/run/hexa", None),
        ("/tmp", None),
    ]
    assert container["command"][4] == "/home/ann/notebooks/reports/sales.py"
    assert "the-token" not in str(pod) + str(service)
    assert secret["data"]["token"] == "dGhlLXRva2Vu"
    assert service["spec"]["selector"] == {"hexa.dev/pod": pod["metadata"]["name"]}
