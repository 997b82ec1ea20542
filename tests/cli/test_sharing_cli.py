"""``lakehold publish``, ``listing``, ``filter``, ``subscription`` and ``grant``, in-process."""

from __future__ import annotations

import json
import re

import pytest
from typer.testing import CliRunner

from lakehold.cli.main import app
from tests.conftest import SCENARIOS


def test_publish_request_approve_with_filters_and_revoke(cli) -> None:
    cli("domain", "create", "Retail")
    cli("project", "create", "retail", "--domain", "Retail")
    cli("project", "create", "analysts", "--domain", "Retail")
    for table in ("customer", "store_sales"):
        cli("table", "create", f"retail.{table}", str(SCENARIOS / f"retail_{table}.csv"))
    assert "revision 1" in cli("publish", "retail.store_sales")
    cli("publish", "retail.customer")
    listed = json.loads(cli("listing", "list", "--project", "retail", "--json"))
    assert [entry["asset"] for entry in listed] == ["customer", "store_sales"]

    cli("filter", "create", "retail.store_sales", "widget_a", "--row", "prod_id = 1")
    bad = cli("filter", "create", "retail.store_sales", "bad", "--row", "upper(x) = 1", code=2)
    assert "expression" in bad
    cli("filter", "create", "retail.customer", "no_email", "-c", "cust_id", "-c", "cust_name")
    assert "widget_a" in cli("filter", "list", "retail.store_sales")

    out = cli(
        "subscription",
        "request",
        "retail.store_sales",
        "retail.customer",
        "--project",
        "analysts",
        "--reason",
        "need this data for analysis",
    )
    request_id = re.search(r"([0-9a-f]{32})", out).group(1)
    incoming = json.loads(cli("subscription", "list", "--incoming", "--json"))
    assert [r["id"] for r in incoming] == [request_id]
    assert "analysis" in cli("subscription", "list", "--outgoing")
    out = cli(
        "subscription",
        "approve",
        request_id,
        "--row-filter",
        "store_sales=widget_a",
        "--column-filter",
        "retail.customer=no_email",
    )
    assert "with widget_a" in out and "with no_email" in out
    cli("subscription", "reject", request_id, code=5)  # already decided: Conflict

    listed = json.loads(cli("grant", "list", "--project", "analysts", "--json"))
    assert {(g["asset"], g["row_filter"], g["column_filter"]) for g in listed} == {
        ("retail.store_sales", "widget_a", None),
        ("retail.customer", None, "no_email"),
    }
    grant_id = listed[0]["id"]
    assert "revoked" in cli("grant", "revoke", grant_id)
    cli("grant", "revoke", grant_id, code=5)


@pytest.mark.parametrize(
    "args",
    [
        ["publish"],
        ["unpublish"],
        ["listing", "list"],
        ["filter", "create"],
        ["filter", "list"],
        ["filter", "update"],
        ["filter", "delete"],
        ["subscription", "request"],
        ["subscription", "list"],
        ["subscription", "approve"],
        ["subscription", "reject"],
        ["grant", "list"],
        ["grant", "revoke"],
        ["grant", "unsubscribe"],
    ],
)
def test_every_sharing_command_has_an_example(args) -> None:
    result = CliRunner().invoke(app, [*args, "--help"], env={"COLUMNS": "200"})
    assert result.exit_code == 0 and "Example:" in result.output, result.output
