"""The alerting rules: ``promtool check rules``, their unit tests under ``promtool test
rules`` (tests/deploy/rnncast.rules.test.yml), and where they are wired in: the
Prometheus config and compose file, and the Prometheus Operator's PrometheusRule."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import yaml

from tests.deploy.prometheus_server import PROMETHEUS_YML, tool
from tests.deploy.tools import REPO

RULES = REPO / "deploy" / "prometheus" / "rnncast.rules.yml"
RULE_TESTS = Path(__file__).with_name("rnncast.rules.test.yml")
OPERATOR_RULE = REPO / "deploy" / "k8s" / "prometheus-operator" / "prometheusrule.yaml"
ALERTS = {"RnncastDown", "RnncastHighErrorRatio", "RnncastHighLatencyP99", "RnncastNotReady",
          "RnncastModelReloadFailed"}


def promtool(*args: str) -> str:
    result = subprocess.run([tool("promtool"), *args], capture_output=True, text=True, timeout=60,
                            check=False, cwd=RULE_TESTS.parent)
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    return output


def load(path: Path) -> Any:
    return yaml.safe_load(path.read_text())


def test_promtool_checks_the_rules() -> None:
    output = promtool("check", "rules", str(RULES))
    assert f"SUCCESS: {len(ALERTS)} rules found" in output
    (group,) = load(RULES)["groups"]
    assert {rule["alert"] for rule in group["rules"]} == ALERTS


def test_every_alert_is_unit_tested_firing_and_quiet() -> None:
    output = promtool("test", "rules", str(RULE_TESTS))
    assert "SUCCESS" in output and "FAILED" not in output
    cases = [case for test in load(RULE_TESTS)["tests"] for case in test["alert_rule_test"]]
    fired = {case["alertname"] for case in cases if case["exp_alerts"]}
    quiet = {case["alertname"] for case in cases if not case["exp_alerts"]}
    assert fired == quiet == ALERTS, "each alert: a case where it fires and one where it must not"
    assert load(RULE_TESTS)["rule_files"] == [str(Path("..", "..", RULES.relative_to(REPO)))]


def test_the_prometheus_config_and_compose_load_the_rules() -> None:
    """promtool resolves rule_files against the config's directory; compose mounts
    deploy/prometheus/ at the same place beside the config inside the container."""
    output = promtool("check", "config", str(PROMETHEUS_YML))
    assert "SUCCESS: 1 rule files found" in output and str(RULES) in output
    (pattern,) = load(PROMETHEUS_YML)["rule_files"]
    assert sorted(PROMETHEUS_YML.parent.glob(pattern)) == [RULES]
    prom = load(REPO / "deploy" / "compose.yaml")["services"]["prometheus"]
    mounts = {target: source for source, target, *_ in (v.split(":") for v in prom["volumes"])}
    (config_file,) = [arg.split("=", 1)[1] for arg in prom["command"] if arg.startswith("--config.file=")]
    assert mounts[config_file] == f"./{PROMETHEUS_YML.name}"
    config_dir = Path(config_file).parent
    rules_dir = Path(pattern).parent
    assert mounts[str(config_dir / rules_dir)] == f"./{RULES.parent.relative_to(PROMETHEUS_YML.parent)}"


def test_the_operator_resource_holds_the_same_rules() -> None:
    resource = load(OPERATOR_RULE)
    assert (resource["apiVersion"], resource["kind"]) == ("monitoring.coreos.com/v1", "PrometheusRule")
    assert resource["spec"]["groups"] == load(RULES)["groups"]
    monitor = load(OPERATOR_RULE.with_name("servicemonitor.yaml"))
    assert resource["metadata"]["labels"] == monitor["metadata"]["labels"], "selected like the ServiceMonitor"
