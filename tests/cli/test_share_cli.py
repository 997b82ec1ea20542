"""``lakehold share``: the README's Delta Sharing example, in-process, then read by the real
delta-sharing client from a server on the same home (ADR 37)."""

from __future__ import annotations

import json
import re
import stat
from decimal import Decimal
from pathlib import Path

import pytest

from lakehold.config import Settings
from lakehold.runtime import Runtime
from tests.conftest import SCENARIOS
from tests.delta_sharing.conftest import client_read, total
from tests.servers import served


def test_share_a_table_with_a_recipient_and_read_it(cli, cli_env, tmp_path: Path) -> None:
    cli("domain", "create", "Retail")
    cli("project", "create", "retail", "--domain", "Retail")
    cli("table", "create", "retail.store_sales", str(SCENARIOS / "retail_store_sales.csv"))
    cli("publish", "retail.store_sales")
    cli("filter", "create", "retail.store_sales", "widget_a", "--row", "prod_id = 1")

    assert "created share retail_share" in cli("share", "create", "retail_share", "-p", "retail")
    assert "retail.store_sales" in cli("share", "add-table", "retail_share", "store_sales")
    profile = tmp_path / "acme.share"
    out = cli(
        "share",
        "recipient",
        "create",
        "acme",
        "--project",
        "retail",
        "--organisation",
        "ACME Corp",
        "--profile-file",
        str(profile),
        "--endpoint",
        "http://placeholder/delta-sharing",
    )
    assert "wrote the profile of recipient acme" in out
    assert stat.S_IMODE(profile.stat().st_mode) == 0o600
    written = json.loads(profile.read_text())
    assert written["shareCredentialsVersion"] == 1 and written["bearerToken"].startswith("lhr_")
    assert written["bearerToken"] not in out
    printed = json.loads(cli("share", "recipient", "token", "retail.acme", "--days", "7"))
    assert printed["bearerToken"].startswith("lhr_") and printed["expirationTime"].endswith("Z")

    out = cli("share", "grant", "request", "retail_share", "retail.acme", "--reason", "sales")
    grant_id = re.search(r"grant ([0-9a-f]{32})", out).group(1)
    assert "requested" in out
    out = cli("share", "grant", "approve", grant_id, "--row-filter", "retail.store_sales=widget_a")
    assert "approved" in out and "retail.store_sales: with widget_a" in out
    listed = json.loads(cli("share", "grant", "list", "--share", "retail_share", "--json"))
    assert [g["status"] for g in listed] == ["approved"]

    settings = Settings(
        home=Path(cli_env["LAKEHOLD_HOME"]), database_url=cli_env["LAKEHOLD_DATABASE_URL"]
    )
    runtime = Runtime(settings)
    try:
        with served(runtime) as url:
            profile.write_text(json.dumps({**written, "endpoint": f"{url}/delta-sharing"}))
            frame = client_read("load", profile, "retail_share.retail.store_sales")
    finally:
        runtime.close()
    assert len(frame["rows"]) == 7 and total(frame["rows"]) == Decimal("1500.00")
    assert "revoked" in cli("share", "grant", "revoke", grant_id)


@pytest.mark.parametrize(
    "args",
    [
        ["share", "create"],
        ["share", "list"],
        ["share", "show"],
        ["share", "delete"],
        ["share", "add-table"],
        ["share", "remove-table"],
        ["share", "recipient", "create"],
        ["share", "recipient", "list"],
        ["share", "recipient", "token"],
        ["share", "recipient", "revoke-token"],
        ["share", "recipient", "delete"],
        ["share", "grant", "request"],
        ["share", "grant", "list"],
        ["share", "grant", "approve"],
        ["share", "grant", "reject"],
        ["share", "grant", "revoke"],
    ],
)
def test_every_share_command_has_an_example(cli, args) -> None:
    assert "Example: lakehold share" in cli(*args, "--help")
