"""Scaling beyond one machine: the in-flight HPA and its prometheus-adapter rule
(deploy/k8s/scaling), KServe's concurrency target, and the KubeRay RayJob of the
nightly batch (deploy/ray). Core resources are validated strictly against the
Kubernetes API schemas; the RayJob is a custom resource (no schema), so its pod
templates are validated as Pod specs and its fields asserted, and its entrypoint is
parsed by the rnncast command's own parser."""

from __future__ import annotations

import re
import shlex
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml

from app.api.metrics import IN_FLIGHT
from app.cli import _parser
from tests.deploy.test_k8s import VERSIONS
from tests.deploy.tools import REPO, project_version

Doc = dict[str, Any]
SCALING = REPO / "deploy" / "k8s" / "scaling"


def _doc(path: Path) -> Doc:
    (doc,) = [doc for doc in yaml.safe_load_all(path.read_text()) if doc]
    return doc  # type: ignore[no-any-return]


@pytest.fixture(scope="module")
def hpa() -> Doc:
    return _doc(SCALING / "hpa-in-flight.yaml")


@pytest.fixture(scope="module")
def rayjob() -> Doc:
    return _doc(REPO / "deploy" / "ray" / "rayjob.yaml")


@pytest.mark.parametrize("version", VERSIONS)
@pytest.mark.parametrize("name", ["hpa-in-flight.yaml", "prometheus-adapter.yaml"])
def test_scaling_manifests_are_valid_strictly(name: str, version: str) -> None:
    kubernetes_validate.validate(_doc(SCALING / name), version, strict=True)


def test_the_hpa_scales_the_deployment_on_the_servers_in_flight_gauge(hpa: Doc) -> None:
    deployment = _doc(REPO / "deploy" / "k8s" / "deployment.yaml")
    target = hpa["spec"]["scaleTargetRef"]
    assert (target["apiVersion"], target["kind"], target["name"]) == (
        deployment["apiVersion"], "Deployment", deployment["metadata"]["name"])
    (metric,) = hpa["spec"]["metrics"]
    assert metric["type"] == "Pods" and metric["pods"]["target"]["type"] == "AverageValue"
    (gauge,) = IN_FLIGHT.describe()
    assert metric["pods"]["metric"]["name"] == gauge.name == "rnncast_requests_in_flight"
    assert 2 <= hpa["spec"]["minReplicas"] < hpa["spec"]["maxReplicas"]


def test_the_adapter_serves_that_gauge_per_pod(hpa: Doc) -> None:
    config = yaml.safe_load(_doc(SCALING / "prometheus-adapter.yaml")["data"]["config.yaml"])
    (rule,) = config["rules"]
    name = hpa["spec"]["metrics"][0]["pods"]["metric"]["name"]
    assert rule["seriesQuery"].startswith(name + "{")
    assert rule["name"]["as"] == name and re.fullmatch(rule["name"]["matches"], name)
    assert {key: value["resource"] for key, value in rule["resources"]["overrides"].items()} == {
        "namespace": "namespace", "pod": "pod"}


def test_kserve_targets_the_same_concurrency(hpa: Doc) -> None:
    predictor = _doc(REPO / "deploy" / "k8s" / "kserve" / "inferenceservice.yaml")["spec"]["predictor"]
    assert predictor["scaleMetric"] == "concurrency"
    assert predictor["scaleTarget"] == int(hpa["spec"]["metrics"][0]["pods"]["target"]["averageValue"])


def _pod_templates(rayjob: Doc) -> list[Doc]:
    cluster = rayjob["spec"]["rayClusterSpec"]
    return [cluster["headGroupSpec"]["template"], *(group["template"] for group in cluster["workerGroupSpecs"])]


@pytest.mark.parametrize("version", VERSIONS)
def test_rayjob_pods_are_valid_pod_specs(rayjob: Doc, version: str) -> None:
    for template in _pod_templates(rayjob):
        pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "ray"}, "spec": template["spec"]}
        kubernetes_validate.validate(pod, version, strict=True)


def test_rayjob_runs_rnncast_batch_on_ray_with_the_pinned_ray(rayjob: Doc) -> None:
    assert (rayjob["apiVersion"], rayjob["kind"]) == ("ray.io/v1", "RayJob")
    spec = rayjob["spec"]
    assert spec["shutdownAfterJobFinishes"] is True
    words = shlex.split(spec["entrypoint"])
    assert words[:2] == ["rnncast", "batch"]
    args = _parser().parse_args(words[1:])
    assert args.engine == "ray" and args.address is None, "KubeRay sets RAY_ADDRESS for the entrypoint"
    pins = dict(line.split("==") for line in (REPO / "constraints.txt").read_text().splitlines()
                if "==" in line and not line.startswith("#"))
    assert spec["rayClusterSpec"]["rayVersion"] == pins["ray"]
    assert spec["rayClusterSpec"]["headGroupSpec"]["rayStartParams"]["num-cpus"] == "0", "the head only schedules"
    # The model is the one the image bakes in; input and output are on the volume every pod mounts.
    assert re.search(rf"COPY .*models/default/model.pt .* {args.model.parent}/\n", (REPO / "Dockerfile").read_text())
    for template in _pod_templates(rayjob):
        (container,) = template["spec"]["containers"]
        assert container["image"] == f"rnncast-ray:{project_version()}"
        assert container["resources"]["requests"] == container["resources"]["limits"], "Ray counts what it gets"
        mounts = [Path(mount["mountPath"]) for mount in container["volumeMounts"]]
        for path in (args.input, args.output):
            assert any(path.is_relative_to(mount) for mount in mounts), path
