"""``lakehold glossary``, ``term``, ``tag``, ``form``, ``rule`` and ``policy``, in-process."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from lakehold.cli.main import app
from tests.conftest import SCENARIOS


def test_glossary_forms_rules_and_publish(cli) -> None:
    cli("domain", "create", "Sales")
    cli("unit", "create", "Marketing", "--domain", "Sales")
    cli("project", "create", "campaigns", "--domain", "Sales", "--unit", "Sales/Marketing")
    cli("table", "create", "campaigns.customer", str(SCENARIOS / "retail_customer.csv"))

    assert "Sales/Marketing" in cli(
        "glossary", "create", "Sales", "Customer", "--unit", "Marketing"
    )
    cli("term", "create", "Customer", "Email address")
    listed = json.loads(cli("glossary", "list", "Sales", "--json"))
    assert [t["name"] for t in listed[0]["terms"]] == ["Email address"]
    out = cli(
        "term", "attach", "campaigns.customer", "Customer/Email address", "--column", "cust_email"
    )
    assert "Email address" in out
    assert "email, pii" in cli("tag", "set", "campaigns.customer", "cust_email", "pii", "email")

    cli(
        "form",
        "create",
        "Sales",
        "publish_form",
        "--unit",
        "Marketing",
        "-f",
        "Model Year:number:required",
        "-f",
        "Region:text:required:searchable",
        "-f",
        "Compliance Status:one_of:required:values=compliant|pending|non-compliant",
    )
    bad = cli("form", "create", "Sales", "x", "-f", "A:text:mandatory", code=2)
    assert "mandatory" in bad
    listed = json.loads(cli("form", "list", "Sales", "--json"))
    assert listed[0]["fields"][2]["allowed_values"] == ["compliant", "pending", "non-compliant"]

    out = cli("rule", "create", "Sales/Marketing", "needs form", "--form", "publish_form")
    assert "Model Year, Region, Compliance Status" in out
    rules = json.loads(cli("rule", "list", "--unit", "Sales/Marketing", "--json"))
    assert [(r["name"], r["projects"]) for r in rules] == [("needs form", None)]
    refused = cli("publish", "campaigns.customer", code=2)
    assert "Model Year" in refused and "Region" in refused and "Compliance Status" in refused

    bad = cli("form", "set-value", "campaigns.customer", "publish_form", "Model Year=soon", code=2)
    assert "Model Year" in bad and "Region is required" in bad
    cli(
        "form",
        "set-value",
        "campaigns.customer",
        "publish_form",
        "Model Year=2024",
        "Region=EMEA",
        "Compliance Status=compliant",
    )
    assert "revision 1" in cli("publish", "campaigns.customer")

    # a subscription rule: the request needs subscribe_form values (--form form.Field=value)
    cli("project", "create", "buyers", "--domain", "Sales")
    cli("form", "create", "Sales", "subscribe_form", "-f", "Use Case:text:required")
    cli(
        "rule",
        "create",
        "Sales/Marketing",
        "why",
        "--form",
        "subscribe_form",
        "--action",
        "subscription_request",
    )
    request = ("subscription", "request", "campaigns.customer", "--project", "buyers")
    refused = cli(*request, "--reason", "analysis", code=2)
    assert "Use Case is required" in refused
    cli(*request, "--reason", "analysis", "--form", "subscribe_form", code=2)
    cli(*request, "--reason", "analysis", "--form", "subscribe_form.Use Case=churn model")
    (sent,) = json.loads(cli("subscription", "list", "--json"))
    assert sent["form_values"] == {"subscribe_form": {"Use Case": "churn model"}}

    cli("policy", "grant", "Sales/Marketing", "create_form", "campaigns", "--children")
    assert "policies of Sales/Marketing" in cli("policy", "list", "Sales/Marketing")


def test_help_has_examples() -> None:
    runner = CliRunner()
    for group in ("glossary", "term", "tag", "form", "rule", "policy"):
        commands = runner.invoke(app, [group, "--help"]).output
        assert "Usage" in commands
    for command in (
        ["glossary", "create"],
        ["term", "attach"],
        ["tag", "set"],
        ["form", "create"],
        ["form", "set-value"],
        ["rule", "create"],
        ["rule", "list"],
        ["policy", "grant"],
    ):
        assert "Example:" in runner.invoke(app, [*command, "--help"]).output, command
