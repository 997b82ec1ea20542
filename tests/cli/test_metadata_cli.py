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


def test_update_and_delete_glossaries_terms_forms_rules(cli) -> None:
    cli("domain", "create", "Sales")
    cli("unit", "create", "Marketing", "--domain", "Sales")
    cli("project", "create", "campaigns", "--domain", "Sales", "--unit", "Sales/Marketing")
    cli("table", "create", "campaigns.customer", str(SCENARIOS / "retail_customer.csv"))
    cli("user", "create", "bob")
    bob = cli("token", "create", "t", "--user", "bob").strip().splitlines()[-1]
    cli("glossary", "create", "Sales", "Customer")
    cli("term", "create", "Customer", "Email address")
    cli("term", "attach", "campaigns.customer", "Customer/Email address")

    assert "Clients" in cli("glossary", "update", "Customer", "--name", "Clients")
    assert "name" in cli("glossary", "update", "Clients", "--name", "a/b", code=2)
    cli("glossary", "update", "Clients", "--description", "x", token=bob, code=3)
    assert "Clients/Email" in cli("term", "update", "Clients", "Email address", "--name", "Email")
    cli("term", "update", "Clients", "Nope", "--name", "X", code=4)
    assert "1 term" in cli("glossary", "delete", "Clients", code=5)
    cli("term", "delete", "Clients", "Email", token=bob, code=3)
    cli("term", "delete", "Clients", "Email")
    cli("term", "create", "Clients", "Other")
    cli("glossary", "delete", "Clients", "--force")
    cli("glossary", "delete", "Clients", code=4)

    cli("form", "create", "Sales", "f", "-f", "Region:text:required")
    cli("form", "create", "Sales", "g", "-f", "Region:text")
    cli("rule", "create", "Sales/Marketing", "needs f", "--form", "f")
    (rule,) = json.loads(cli("rule", "list", "--json"))
    assert "needs f" in cli("form", "delete", "f", "--domain", "Sales", code=5)
    out = cli("rule", "update", rule["id"], "--form", "g", "--asset-type", "lakehouse_table")
    assert "needs g" in out
    (rule,) = json.loads(cli("rule", "list", "--json"))
    assert rule["form"] == "g" and rule["asset_types"] == ["lakehouse_table"]
    cli("rule", "update", rule["id"], "--all-asset-types", "--no-children")
    (rule,) = json.loads(cli("rule", "list", "--json"))
    assert rule["asset_types"] is None and rule["include_children"] is False
    assert "projects[0]" in cli("rule", "update", rule["id"], "--project", "nope", code=4)
    cli("rule", "update", rule["id"], "--description", "x", token=bob, code=3)
    cli("form", "delete", "f", "--domain", "Sales")
    cli("rule", "delete", rule["id"])
    cli("form", "delete", "g", "--domain", "Sales")
    assert json.loads(cli("form", "list", "Sales", "--json")) == []


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
        ["rule", "update"],
        ["rule", "delete"],
        ["glossary", "update"],
        ["glossary", "delete"],
        ["term", "update"],
        ["term", "delete"],
        ["form", "delete"],
        ["policy", "grant"],
    ):
        assert "Example:" in runner.invoke(app, [*command, "--help"]).output, command
