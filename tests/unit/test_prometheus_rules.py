"""The monitoring profile's Prometheus config and alert rules (deploy/prometheus) are valid for
Prometheus's own checker, and each rule fires on its condition and only then (promtool's rule
tests, tests/unit/prometheus/alert-rules-test.yml). Every rule is listed in docs/operations.md."""

import re
import subprocess

import pytest
import yaml

from tests.harness.promtool import promtool
from tests.harness.repo import REPO

PROMETHEUS = REPO / "deploy" / "prometheus"
RULES = PROMETHEUS / "alert-rules.yml"
RULE_TESTS = REPO / "tests" / "unit" / "prometheus" / "alert-rules-test.yml"


def alert_names() -> list[str]:
    return [rule["alert"] for group in yaml.safe_load(RULES.read_text())["groups"] for rule in group["rules"]]


def run_promtool(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([promtool(), *args], capture_output=True, text=True, timeout=120)


def test_the_rules_pass_promtool_check_rules():
    checked = run_promtool("check", "rules", str(RULES))
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert f"SUCCESS: {len(alert_names())} rules found" in checked.stdout


def test_the_config_passes_promtool_check_config(tmp_path):
    # The image holds the rules beside the config at /etc/dagster-prometheus (deploy/prometheus/Dockerfile).
    config = (PROMETHEUS / "prometheus.yml").read_text().replace("/etc/dagster-prometheus/", f"{PROMETHEUS}/")
    (tmp_path / "prometheus.yml").write_text(config)
    checked = run_promtool("check", "config", str(tmp_path / "prometheus.yml"))
    assert checked.returncode == 0, checked.stdout + checked.stderr


def test_each_rule_fires_on_its_condition_and_only_then():
    tested = {item["alertname"] for case in yaml.safe_load(RULE_TESTS.read_text())["tests"] for item in case["alert_rule_test"]}
    assert tested == set(alert_names()), "every rule has a test"
    result = run_promtool("test", "rules", str(RULE_TESTS))
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("name", alert_names())
def test_each_rule_is_documented(name):
    assert re.search(rf"`{name}`", (REPO / "docs" / "operations.md").read_text()), f"{name} is not in docs/operations.md"
