"""The Kubernetes manifests under deploy/k8s.

The core resources (deploy/k8s/*.yaml: Deployment, Service, HorizontalPodAutoscaler,
PodDisruptionBudget) are validated offline by ``kubernetes-validate --strict`` against
the API schemas of the supported Kubernetes minors in ``VERSIONS``.

kubernetes-validate has no schemas for custom resources: for the KServe
InferenceService (deploy/k8s/kserve/) and the Prometheus Operator ServiceMonitor and
PrometheusRule (deploy/k8s/prometheus-operator/) it only prints a warning and exits 0. Those files
are parsed with PyYAML and their key fields asserted instead; the InferenceService's
predictor, which KServe takes as a Kubernetes PodSpec plus its own scaling fields,
is validated strictly as a Pod's spec once those fields are set aside.

The remaining tests tie the files to each other and to the server: ports, probe
paths, RNNCAST_* settings, the termination grace period against the drain time.
"""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml

from app.config import Settings
from app.main import create_app
from tests.deploy.tools import (
    REPO,
    drain_budget,
    find_tool,
    project_version,
    settings_env_names,
    settings_from_env,
)

K8S = REPO / "deploy" / "k8s"
VERSIONS = ("1.35.0", "1.36.0", "1.37.0")
CORE_KINDS = {"Deployment", "Service", "HorizontalPodAutoscaler", "PodDisruptionBudget"}
# ComponentExtensionSpec fields KServe accepts beside the PodSpec of a predictor.
KSERVE_COMPONENT_FIELDS = {
    "minReplicas", "maxReplicas", "scaleTarget", "scaleMetric", "containerConcurrency",
    "timeout", "canaryTrafficPercent", "logger", "batcher", "labels", "annotations",
    "deploymentStrategy",
}
Doc = dict[str, Any]


def _docs(path: Path) -> list[Doc]:
    with path.open() as handle:
        return [doc for doc in yaml.safe_load_all(handle) if doc]


@pytest.fixture(scope="module")
def core() -> dict[str, Doc]:
    """The core resources by kind (one of each)."""
    docs = [doc for path in sorted(K8S.glob("*.yaml")) for doc in _docs(path)]
    by_kind = {doc["kind"]: doc for doc in docs}
    assert len(by_kind) == len(docs), "one resource of each kind expected"
    return by_kind


@pytest.fixture(scope="module")
def isvc() -> Doc:
    (doc,) = _docs(K8S / "kserve" / "inferenceservice.yaml")
    return doc


@pytest.fixture(scope="module")
def service_monitor() -> Doc:
    (doc,) = _docs(K8S / "prometheus-operator" / "servicemonitor.yaml")
    return doc


@pytest.fixture(scope="module")
def get_paths() -> set[str]:
    """Every path the server answers GET on, from its OpenAPI document."""
    paths = create_app(Settings.model_validate({})).openapi()["paths"]
    return {path for path, operations in paths.items() if "get" in operations}


def _validate_cli(paths: list[Path]) -> subprocess.CompletedProcess[str]:
    tool = find_tool("kubernetes-validate")
    assert tool, "kubernetes-validate is missing: install the dev extra"
    versions = [arg for version in VERSIONS for arg in ("-k", version)]
    return subprocess.run([tool, *versions, "--strict", *map(str, paths)],
                          capture_output=True, text=True, timeout=120, check=False)


def test_core_manifests_pass_kubernetes_validate_strict(core: dict[str, Doc]) -> None:
    assert set(core) == CORE_KINDS
    paths = sorted(K8S.glob("*.yaml"))
    result = _validate_cli(paths)
    lines = result.stdout.splitlines()
    passed = [line for line in lines if line.startswith("INFO") and " passed " in line]
    # A resource without a schema only warns and exits 0, so count the passes.
    assert result.returncode == 0, result.stdout + result.stderr
    assert len(passed) == len(core) * len(VERSIONS), result.stdout
    assert not [line for line in lines if not line.startswith("INFO")], result.stdout


def test_custom_resources_are_unknown_to_kubernetes_validate() -> None:
    """Why the CRD-based manifests are checked field by field below."""
    paths = [K8S / "kserve" / "inferenceservice.yaml",
             K8S / "prometheus-operator" / "servicemonitor.yaml",
             K8S / "prometheus-operator" / "prometheusrule.yaml"]
    result = _validate_cli(paths)
    assert result.returncode == 0
    assert result.stdout.count("Couldn't find schema for kind") == len(paths) * len(VERSIONS)


def _container(pod_spec: Doc, name: str) -> Doc:
    (container,) = [c for c in pod_spec["containers"] if c["name"] == name]
    return container


def _env(container: Doc) -> dict[str, str]:
    return {item["name"]: item["value"] for item in container.get("env", [])}


def _probe_port(probe: Doc, container: Doc) -> int:
    port = probe["httpGet"]["port"]
    if isinstance(port, int):
        return port
    (number,) = [p["containerPort"] for p in container["ports"] if p.get("name") == port]
    return int(number)


def _check_hardened(pod_spec: Doc, container: Doc) -> None:
    pod_security = pod_spec["securityContext"]
    security = container["securityContext"]
    assert pod_security["runAsNonRoot"] is True and security["runAsNonRoot"] is True
    assert security["allowPrivilegeEscalation"] is False
    assert security["readOnlyRootFilesystem"] is True
    assert security["capabilities"]["drop"] == ["ALL"]
    assert pod_security["seccompProfile"]["type"] == "RuntimeDefault"
    assert security["seccompProfile"]["type"] == "RuntimeDefault"
    (tmp,) = [m for m in container["volumeMounts"] if m["mountPath"] == "/tmp"]
    (volume,) = [v for v in pod_spec["volumes"] if v["name"] == tmp["name"]]
    assert "emptyDir" in volume, "the only writable path must be a volume"


def _check_probe_paths(container: Doc, get_paths: set[str]) -> None:
    probes = [container[p] for p in ("readinessProbe", "livenessProbe", "startupProbe")
              if p in container]
    assert len(probes) >= 2
    for probe in probes:
        assert probe["httpGet"]["path"] in get_paths


def _check_server_settings(pod_spec: Doc, container: Doc) -> dict[str, str]:
    """RNNCAST_* names exist and parse; the port matches; grace covers the drain."""
    env = _env(container)
    rnncast = {k: v for k, v in env.items() if k.startswith("RNNCAST_")}
    assert set(rnncast) <= settings_env_names(), "a RNNCAST_* name the server does not read"
    settings = settings_from_env(rnncast)
    assert [p["containerPort"] for p in container["ports"]] == [settings.port]
    assert pod_spec["enableServiceLinks"] is False, "a Service link would set RNNCAST_PORT"
    assert pod_spec["terminationGracePeriodSeconds"] > drain_budget(rnncast)
    limits, requests = container["resources"]["limits"], container["resources"]["requests"]
    assert {"cpu", "memory"} <= set(limits) and {"cpu", "memory"} <= set(requests)
    assert 1 <= settings.num_threads <= float(limits["cpu"]), "threads follow the CPU limit"
    readiness = container["readinessProbe"]
    assert readiness["periodSeconds"] * readiness["failureThreshold"] <= settings.drain_seconds, (
        "readiness must notice the drain before the server stops accepting"
    )
    for probe in ("readinessProbe", "livenessProbe", "startupProbe"):
        if probe in container:
            assert _probe_port(container[probe], container) == settings.port
    return rnncast


def test_deployment_probes_security_and_shutdown(
    core: dict[str, Doc], get_paths: set[str]
) -> None:
    deployment = core["Deployment"]
    pod = deployment["spec"]["template"]
    spec = pod["spec"]
    container = _container(spec, "rnncast")
    assert container["image"] == f"rnncast:{project_version()}"
    assert container["startupProbe"]["httpGet"]["path"] == "/health/live"
    assert container["readinessProbe"]["httpGet"]["path"] == "/health/ready"
    assert container["livenessProbe"]["httpGet"]["path"] == "/health/live"
    _check_probe_paths(container, get_paths)
    _check_hardened(spec, container)
    env = _check_server_settings(spec, container)
    assert "RNNCAST_HOST" not in env, "the image's 0.0.0.0 is the one a pod needs"
    labels = pod["metadata"]["labels"]
    assert deployment["spec"]["selector"]["matchLabels"].items() <= labels.items()
    annotations = pod["metadata"]["annotations"]
    assert annotations["prometheus.io/scrape"] == "true"
    assert annotations["prometheus.io/path"] == "/metrics" and "/metrics" in get_paths
    assert int(annotations["prometheus.io/port"]) == settings_from_env(env).port


def test_service_hpa_and_pdb_point_at_the_deployment(core: dict[str, Doc]) -> None:
    deployment, service = core["Deployment"], core["Service"]
    pod = deployment["spec"]["template"]
    labels = pod["metadata"]["labels"]
    container = _container(pod["spec"], "rnncast")
    assert service["spec"]["selector"].items() <= labels.items()
    (port,) = service["spec"]["ports"]
    assert port["targetPort"] in [p["name"] for p in container["ports"]]
    hpa = core["HorizontalPodAutoscaler"]
    target = hpa["spec"]["scaleTargetRef"]
    assert (target["apiVersion"], target["kind"], target["name"]) == (
        deployment["apiVersion"], "Deployment", deployment["metadata"]["name"])
    assert hpa["apiVersion"] == "autoscaling/v2"
    assert 2 <= hpa["spec"]["minReplicas"] < hpa["spec"]["maxReplicas"]
    pdb = core["PodDisruptionBudget"]
    assert pdb["spec"]["selector"]["matchLabels"].items() <= labels.items()
    assert pdb["spec"]["maxUnavailable"] < hpa["spec"]["minReplicas"], "one pod always serves"


def test_service_monitor_scrapes_the_service(core: dict[str, Doc], service_monitor: Doc) -> None:
    service = core["Service"]
    assert (service_monitor["apiVersion"], service_monitor["kind"]) == (
        "monitoring.coreos.com/v1", "ServiceMonitor")
    selector = service_monitor["spec"]["selector"]["matchLabels"]
    assert selector.items() <= service["metadata"]["labels"].items()
    (endpoint,) = service_monitor["spec"]["endpoints"]
    assert endpoint["port"] in [p["name"] for p in service["spec"]["ports"]]
    assert endpoint["path"] == "/metrics"


def test_inference_service_runs_the_image_with_the_v2_protocol(
    isvc: Doc, get_paths: set[str]
) -> None:
    assert (isvc["apiVersion"], isvc["kind"]) == ("serving.kserve.io/v1beta1", "InferenceService")
    predictor = isvc["spec"]["predictor"]
    container = _container(predictor, "kserve-container")
    assert container["image"] == f"rnncast:{project_version()}"
    # KServe reads a custom container's protocol from PROTOCOL (protocolVersion is
    # a field of model/framework predictors only).
    assert _env(container)["PROTOCOL"] == "v2"
    assert [p["containerPort"] for p in container["ports"]] == [8000]
    assert container["readinessProbe"]["httpGet"]["path"] == "/v2/health/ready"
    assert container["livenessProbe"]["httpGet"]["path"] == "/v2/health/live"
    _check_probe_paths(container, get_paths)
    _check_hardened(predictor, container)
    _check_server_settings(predictor, container)


@pytest.mark.parametrize("version", VERSIONS)
def test_inference_service_predictor_is_a_valid_pod_spec(isvc: Doc, version: str) -> None:
    predictor = dict(isvc["spec"]["predictor"])
    extension = {k: predictor.pop(k) for k in list(predictor) if k in KSERVE_COMPONENT_FIELDS}
    assert extension, "the predictor's own scaling fields were expected"
    pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "rnncast"}, "spec": predictor}
    kubernetes_validate.validate(pod, version, strict=True)
