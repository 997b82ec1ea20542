"""The operator's files in deploy/, checked with the real tools.

Prometheus rules: ``promtool check rules``, their unit tests (``promtool test rules``), and
mutations of the thresholds and labels the unit tests must catch. The example Prometheus and
Alertmanager configurations: ``promtool check config``, ``amtool check-config`` and
``amtool config routes test``. The Grafana dashboard's structure. Every PromQL expression of
the rules and the dashboard reads only metric names a real ``GET /metrics`` exports.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from lakehold.config import Settings
from tests.lineage.events import dataset, run_event
from tests.ops.promql_names import exported_names, metric_names, variable_metric_names
from tests.scenarios.helpers import create_table, ok, query, setup_project

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"
RULES = DEPLOY / "prometheus" / "lakehold.rules.yml"
RULE_TESTS = DEPLOY / "prometheus" / "lakehold.rules.test.yml"
PROMETHEUS_CONFIG = DEPLOY / "prometheus" / "prometheus.yml"
ALERTMANAGER_CONFIG = DEPLOY / "alertmanager" / "alertmanager.yml"
DASHBOARD = DEPLOY / "grafana" / "lakehold.json"

PACKAGES = {"promtool": "prometheus", "amtool": "prometheus-alertmanager"}
PROMETHEUS_MADE = frozenset({"up"})
"""Series Prometheus makes itself for every target."""
PROJECT_ALERTS = frozenset(
    {
        "LakeholdProjectStatementFailureRatioHigh",
        "LakeholdSyncLagHigh",
        "LakeholdConnectionCertificateExpiring",
    }
)
"""Alerts about one project: they keep its label, so Alertmanager routes them to its team."""


def run(tool: str, *args: str | Path, cwd: Path | None = None) -> subprocess.CompletedProcess:
    found = shutil.which(tool)
    if found is None:
        pytest.fail(
            f"{tool} is not installed: .ci/run installs it (Debian's {PACKAGES[tool]} package)"
        )
    return subprocess.run(
        [found, *map(str, args)], cwd=cwd, capture_output=True, text=True, timeout=120
    )


def load(path: Path) -> Any:
    return yaml.safe_load(path.read_text())


def rules() -> list[dict]:
    return [rule for group in load(RULES)["groups"] for rule in group["rules"]]


def alert_names() -> set[str]:
    return {rule["alert"] for rule in rules() if "alert" in rule}


# -- rules ----------------------------------------------------------------------------------


def test_promtool_checks_the_rules() -> None:
    checked = run("promtool", "check", "rules", RULES)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert f"SUCCESS: {len(rules())} rules found" in checked.stdout


def test_the_rules_unit_tests_pass() -> None:
    tested = run("promtool", "test", "rules", RULE_TESTS.name, cwd=RULE_TESTS.parent)
    assert tested.returncode == 0, tested.stdout + tested.stderr
    assert "SUCCESS" in tested.stdout


def test_every_alert_is_shipped_with_severity_annotations_and_tests() -> None:
    assert alert_names() == {
        "LakeholdTargetDown",
        "LakeholdHTTPErrorRateHigh",
        "LakeholdHTTPLatencyHigh",
        "LakeholdStatementFailureRatioHigh",
        "LakeholdProjectStatementFailureRatioHigh",
        "LakeholdSyncLagHigh",
        "LakeholdWebhookDeliveriesFailing",
        "LakeholdConnectionCertificateExpiring",
        "LakeholdWarehouseDiskLow",
    }
    cases = [
        case for group in load(RULE_TESTS)["tests"] for case in group.get("alert_rule_test", [])
    ]
    for rule in rules():
        if "alert" not in rule:
            continue
        name, severity = rule["alert"], rule["labels"]["severity"]
        assert severity in {"warning", "critical"}, name
        assert rule.get("for"), f"{name} fires on one evaluation"
        assert {"summary", "description"} <= rule["annotations"].keys(), name
        if name != "LakeholdTargetDown":
            assert "$value" in rule["annotations"]["description"], name
        mine = [case for case in cases if case["alertname"] == name]
        assert any(not case.get("exp_alerts") for case in mine), f"{name}: no quiet case"
        fired = [alert["exp_labels"] for case in mine for alert in case.get("exp_alerts") or []]
        assert any(labels["severity"] == severity for labels in fired), (name, severity)
        if name in PROJECT_ALERTS:
            assert fired and all(labels.get("project") for labels in fired), name


MUTATIONS = {
    "5xx warning threshold": (
        "job:lakehold_http_requests_5xx:ratio_rate5m > 0.05",
        "job:lakehold_http_requests_5xx:ratio_rate5m > 0.07",
    ),
    "HTTP traffic guard": (
        "> 0.05\n          and on (job) job:lakehold_http_requests:rate5m * 60 >= 1",
        "> 0.05\n          and on (job) job:lakehold_http_requests:rate5m * 60 >= 0",
    ),
    "latency threshold": ('tables.*)"} > 1\n', 'tables.*)"} > 2\n'),
    "latency routes left out": ("|projects/[^/]+/tables.*)", ")"),
    "ABORTED counted as failed": (
        'sum by (job) (rate(lakehold_statements_total{state="FAILED"}[15m]))',
        'sum by (job) (rate(lakehold_statements_total{state=~"FAILED|ABORTED"}[15m]))',
    ),
    "project statement threshold": (
        "job_project:lakehold_statements_failed:ratio_rate15m > 0.25",
        "job_project:lakehold_statements_failed:ratio_rate15m > 0.45",
    ),
    "project label dropped": (
        'sum by (job, project) (rate(lakehold_statements_total{state="FAILED"}[15m]))',
        'sum by (job) (rate(lakehold_statements_total{state="FAILED"}[15m]))',
    ),
    "sync lag warning": ("> 6 * 3600", "> 7 * 3600"),
    "sync lag per instance": (
        "max by (job, project) (lakehold_sync_lag_seconds) > 24",
        "lakehold_sync_lag_seconds > 24",
    ),
    "webhook failures": (
        '{outcome="failed"}[30m])) > 0',
        '{outcome="failed"}[30m])) > 1',
    ),
    "webhook failure ratio": (
        "job:lakehold_webhook_deliveries_failed:ratio_rate30m > 0.5",
        "job:lakehold_webhook_deliveries_failed:ratio_rate30m >= 0.5",
    ),
    "certificate warning": ("- time() < 14 * 86400", "- time() < 13 * 86400"),
    "certificate critical": ("- time() < 3 * 86400", "- time() < 2 * 86400"),
    "disk warning boundary": (
        "instance:lakehold_warehouse_disk_free:ratio < 0.10",
        "instance:lakehold_warehouse_disk_free:ratio <= 0.10",
    ),
    "disk critical duration": (
        "ratio < 0.05\n        for: 5m",
        "ratio < 0.05\n        for: 10m",
    ),
    "target down duration": (
        'up{job="lakehold"} == 0\n        for: 2m',
        'up{job="lakehold"} == 0\n        for: 3m',
    ),
}


@pytest.mark.parametrize("mutation", MUTATIONS, ids=list(MUTATIONS))
def test_the_unit_tests_catch_a_changed_rule(mutation: str, tmp_path: Path) -> None:
    old, new = MUTATIONS[mutation]
    text = RULES.read_text()
    assert text.count(old) == 1, f"{old!r} is not in the rules once"
    (tmp_path / RULES.name).write_text(text.replace(old, new))
    shutil.copy(RULE_TESTS, tmp_path)
    checked = run("promtool", "check", "rules", RULES.name, cwd=tmp_path)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    tested = run("promtool", "test", "rules", RULE_TESTS.name, cwd=tmp_path)
    assert tested.returncode != 0, f"the unit tests pass with {mutation}: {new!r}"
    assert "FAILED" in tested.stdout + tested.stderr


# -- Prometheus and Alertmanager configurations ----------------------------------------------


def test_the_prometheus_example_scrapes_lakehold_with_a_token(tmp_path: Path) -> None:
    config = load(PROMETHEUS_CONFIG)
    (scrape,) = [job for job in config["scrape_configs"] if job["job_name"] == "lakehold"]
    assert scrape["metrics_path"] == "/metrics"
    assert scrape["authorization"]["type"] == "Bearer"
    token_file = scrape["authorization"]["credentials_file"]
    port = Settings.model_fields["port"].default
    assert scrape["static_configs"][0]["targets"] == [f"127.0.0.1:{port}"]
    assert config["rule_files"] == [RULES.name]
    assert config["alerting"]["alertmanagers"][0]["static_configs"][0]["targets"]

    for path in (PROMETHEUS_CONFIG, RULES):
        shutil.copy(path, tmp_path)
    missing = run("promtool", "check", "config", PROMETHEUS_CONFIG.name, cwd=tmp_path)
    assert missing.returncode != 0 and token_file in missing.stdout + missing.stderr
    (tmp_path / token_file).write_text("lh_example_token\n")
    checked = run("promtool", "check", "config", PROMETHEUS_CONFIG.name, cwd=tmp_path)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert f"SUCCESS: {len(rules())} rules found" in checked.stdout


def test_amtool_checks_the_alertmanager_example() -> None:
    checked = run("amtool", "check-config", ALERTMANAGER_CONFIG)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert "SUCCESS" in checked.stdout
    config = load(ALERTMANAGER_CONFIG)
    assert config["route"]["group_by"] == ["alertname", "project"]
    (inhibit,) = config["inhibit_rules"]
    assert inhibit["source_matchers"] == ['severity="critical"']
    assert inhibit["target_matchers"] == ['severity="warning"']
    assert {"alertname", "project", "connection"} <= set(inhibit["equal"])
    for receiver in config["receivers"]:
        assert receiver["webhook_configs"], receiver["name"]


@pytest.mark.parametrize(
    ("labels", "receiver"),
    [
        (["project=sales", "severity=warning"], "team-sales"),
        (["project=sales_eu", "severity=critical"], "team-sales"),
        (["project=salesforce", "severity=warning"], "lakehold-operators"),
        (["project=finance", "severity=warning"], "team-finance"),
        (["project=finance", "severity=critical"], "team-finance-pager"),
        (["project=_other", "severity=critical"], "lakehold-operators"),
        (["alertname=LakeholdTargetDown", "severity=critical"], "lakehold-operators"),
    ],
)
def test_alerts_are_routed_by_project(labels: list[str], receiver: str) -> None:
    routed = run(
        "amtool", "config", "routes", "test", f"--config.file={ALERTMANAGER_CONFIG}", *labels
    )
    assert routed.returncode == 0, routed.stdout + routed.stderr
    assert routed.stdout.strip() == receiver


# -- the Grafana dashboard -------------------------------------------------------------------


def dashboard_panels(panels: list[dict]) -> list[dict]:
    """Every panel, those inside collapsed rows too."""
    found = []
    for panel in panels:
        found.append(panel)
        found.extend(dashboard_panels(panel.get("panels", [])))
    return found


def test_the_dashboard_is_well_formed() -> None:
    dashboard = json.loads(DASHBOARD.read_text())
    assert dashboard["schemaVersion"] >= 39
    panels = dashboard_panels(dashboard["panels"])
    ids = [panel["id"] for panel in panels]
    assert len(ids) == len(set(ids)), "panel ids repeat"
    variables = {variable["name"]: variable for variable in dashboard["templating"]["list"]}
    assert variables["DS_PROMETHEUS"]["type"] == "datasource"
    assert variables["DS_PROMETHEUS"]["query"] == "prometheus"
    project = variables["project"]
    assert project["query"]["query"] == "label_values(lakehold_statements_total, project)"
    assert project["includeAll"] and project["multi"]
    data_source = {"type": "prometheus", "uid": "${DS_PROMETHEUS}"}
    for panel in panels:
        position = panel["gridPos"]
        assert position["x"] + position["w"] <= 24, panel["title"]
        if panel["type"] == "row":
            continue
        assert panel["datasource"] == data_source, panel["title"]
        assert panel["targets"], panel["title"]
        for target in panel["targets"]:
            assert target["datasource"] == data_source and target["expr"], panel["title"]
        refs = [target["refId"] for target in panel["targets"]]
        assert len(refs) == len(set(refs)), panel["title"]


def test_the_dashboard_queries_parse_as_promql(tmp_path: Path) -> None:
    """Each target's expression, its Grafana variables given values, checked by promtool as
    the expression of a recording rule."""
    dashboard = json.loads(DASHBOARD.read_text())
    values = {"$__rate_interval": "1m", "$job": "lakehold", "$project": ".*"}
    expressions = []
    for panel in dashboard_panels(dashboard["panels"]):
        for target in panel.get("targets", []):
            expr = target["expr"]
            for variable, value in values.items():
                expr = expr.replace(variable, value)
            assert "$" not in expr, (panel["title"], expr)
            expressions.append(expr)
    rule_file = tmp_path / "dashboard.rules.yml"
    rule_file.write_text(
        yaml.safe_dump(
            {
                "groups": [
                    {
                        "name": "dashboard",
                        "rules": [
                            {"record": f"dashboard:q{i}", "expr": e}
                            for i, e in enumerate(expressions)
                        ],
                    }
                ]
            }
        )
    )
    checked = run("promtool", "check", "rules", rule_file)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert f"SUCCESS: {len(expressions)} rules found" in checked.stdout


def dashboard_expressions() -> dict[str, set[str]]:
    """The metric names each PromQL expression of the dashboard reads, by where it is."""
    dashboard = json.loads(DASHBOARD.read_text())
    found = {
        f"{panel['title']} {target['refId']}": metric_names(target["expr"])
        for panel in dashboard_panels(dashboard["panels"])
        for target in panel.get("targets", [])
    }
    for variable in dashboard["templating"]["list"]:
        if variable["type"] == "query":
            found[f"${variable['name']}"] = variable_metric_names(variable["query"]["query"])
    return found


# -- every name read is exported ------------------------------------------------------------


def test_promql_names_are_read_with_functions_and_labels_left_out() -> None:
    assert metric_names(
        'histogram_quantile(0.95, sum by (method, route, le) (rate(a_bucket{job=~"$job",'
        ' route!~"/x/{id}"}[$__rate_interval])))'
    ) == {"a_bucket"}
    assert metric_names(
        "sum without (instance) (b_total offset 1h) / on (job) group_left (project) c"
        ' and ignoring(le) d:e:rate5m > bool 1e3 unless label_replace(f, "x", "$1", "y", "(.*)")'
    ) == {"b_total", "c", "d:e:rate5m", "f"}
    assert metric_names("up == 0 or vector(1) - time() < 14 * 86400") == {"up"}
    assert metric_names("max_over_time(g[1h:5m]) @ end()") == {"g"}
    assert variable_metric_names("label_values(lakehold_statements_total, project)") == {
        "lakehold_statements_total"
    }
    with pytest.raises(ValueError, match="unknown PromQL function"):
        metric_names("rates(h_total[5m])")
    with pytest.raises(ValueError, match="cannot read"):
        metric_names("sum(i_total) ; drop")


def exported_metric_names(client) -> set[str]:
    """The series names of a real ``GET /metrics`` answer, after a table write, a statement
    and a lineage event (labelled series exist once something happened)."""
    setup_project(client, "ops")
    create_table(client, "ops", "customers", "retail_customer.csv")
    assert query(client, "select count(*) as n from ops.customers")[0]["n"] > 0
    event = run_event("COMPLETE", "etl.load", outputs=[dataset("pg", "public.orders", "id")])
    ok(client.post("/api/v1/lineage", json=event), 201)
    answer = client.get("/metrics")
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"].startswith("text/plain")
    return exported_names(answer.text)


def test_the_rules_and_the_dashboard_read_only_exported_metrics(client) -> None:
    exported = exported_metric_names(client)
    assert {
        "lakehold_http_requests_total",
        "lakehold_statements_total",
        "lakehold_table_writes_total",
        "lakehold_lineage_events_total",
        "lakehold_http_request_duration_seconds_bucket",
    } <= exported
    recorded = {rule["record"] for rule in rules() if "record" in rule}
    for rule in rules():
        read = metric_names(rule["expr"])
        assert read, rule
        unknown = read - exported - recorded - PROMETHEUS_MADE
        assert not unknown, f"{rule.get('alert') or rule.get('record')} reads {unknown}"
    used: set[str] = set()
    for where, read in dashboard_expressions().items():
        assert read, where
        unknown = read - exported - PROMETHEUS_MADE
        assert not unknown, f"the dashboard's {where} reads {unknown}"
        used |= read
    families = {
        re.sub(r"_(bucket|sum|count)$", "", name) for name in used if name.startswith("lakehold_")
    }
    catalogue = {
        re.sub(r"_(bucket|sum|count|created)$", "", name)
        for name in exported
        if name.startswith("lakehold_") and name != "lakehold_build_info"
    }
    assert catalogue - families == set(), "metrics the dashboard does not show"
