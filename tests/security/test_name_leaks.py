"""Names of projects a user may not see do not leak through metadata rules, unit policies or a
form's "in use" conflict: they appear as ``project:hidden:<id>`` (as lineage hides datasets,
ADR 0010). Members, owners of the project's unit and administrators see the name.
Error messages carry no absolute server path. On SQLite and PostgreSQL."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from lakehold.api.app import create_app
from lakehold.api.errors import redacted_error
from lakehold.catalog.project_names import HIDDEN
from lakehold.catalog.tables import DataSource
from lakehold.errors import Conflict, Invalid, NotFound
from lakehold.lakehouse.tables import DeltaTables
from lakehold.redaction import Redactor
from tests.conftest import SCENARIOS
from tests.sharing import client_for, new_user

FORM = [{"name": "Region", "type": "text", "required": True}]


@pytest.fixture
def org(runtime, admin):
    """Domain Sales: project ledger (unit Finance, user fin) is secret to buyer (project buyers,
    root unit). Rule "r" on the root unit names both; ledger and buyers hold create_form."""
    rt = runtime
    fin, _ = new_user(rt, admin, "fin")
    buyer, buyer_token = new_user(rt, admin, "buyer")
    rt.catalog.create_domain(admin, "Sales")
    rt.organisation.create_unit(admin, "Sales", "Finance")
    rt.catalog.create_project(admin, "ledger", "Sales", domain_unit="Finance")
    rt.organisation.add_member(admin, "ledger", "owner", user="fin")
    rt.table_service.create_table(
        fin, "ledger", "customer", DataSource(SCENARIOS / "retail_customer.csv")
    )
    rt.catalog.create_project(buyer, "buyers", "Sales")
    rt.forms.create_form(admin, "Sales", "publish_form", FORM)
    rule = rt.rules.create_rule(
        admin, "Sales", "r", "publish", "publish_form", projects=["ledger", "buyers"]
    )
    rt.unit_policies.grant(admin, "Sales", "create_form", "ledger")
    rt.unit_policies.grant(admin, "Sales", "create_form", "buyers")
    return rt, admin, fin, buyer, buyer_token, rule


def test_rules_show_hidden_projects_as_placeholders(org) -> None:
    rt, admin, fin, buyer, buyer_token, rule = org
    assert rt.rules.get_rule(admin, rule.id).projects == ["buyers", "ledger"]
    (seen,) = rt.rules.list_rules(buyer)
    assert "ledger" not in seen.projects and "buyers" in seen.projects
    (placeholder,) = [p for p in seen.projects if p.startswith(HIDDEN)]
    assert len(placeholder) == len(HIDDEN) + 16
    assert rt.rules.get_rule(buyer, rule.id).projects == seen.projects  # stable
    assert "ledger" in rt.rules.get_rule(fin, rule.id).projects  # a member
    with client_for(rt, buyer_token) as http:
        listed = http.get("/api/v1/metadata-rules")
        one = http.get(f"/api/v1/metadata-rules/{rule.id}")
    assert listed.status_code == one.status_code == 200
    assert "ledger" not in listed.text and "ledger" not in one.text
    assert placeholder in listed.text
    # A listing read back and written back keeps the hidden project.
    kept = rt.rules.update_rule(admin, rule.id, projects=seen.projects)
    assert kept.projects == ["buyers", "ledger"]
    with pytest.raises(NotFound):
        rt.rules.update_rule(admin, rule.id, projects=[HIDDEN + "0" * 16])


def test_unit_policies_show_hidden_projects_as_placeholders(org) -> None:
    rt, admin, fin, buyer, buyer_token, _rule = org
    policies = rt.unit_policies.list_policies(buyer, "Sales")
    names = {p.project for p in policies}
    assert "buyers" in names and "ledger" not in names
    assert any(n.startswith(HIDDEN) for n in names)
    with client_for(rt, buyer_token) as http:
        listed = http.get(f"/api/v1/domain-units/{policies[0].unit_id}/policies")
    assert listed.status_code == 200 and "ledger" not in listed.text
    assert {p["project"] for p in listed.json()} == names
    assert {p.project for p in rt.unit_policies.list_policies(fin, "Sales")} >= {"ledger"}
    assert {p.project for p in rt.unit_policies.list_policies(admin, "Sales")} == {
        "ledger",
        "buyers",
    }


def test_a_form_in_use_does_not_name_hidden_assets(org) -> None:
    rt, admin, fin, buyer, *_ = org
    rt.forms.set_values(fin, "ledger", "customer", "publish_form", {"Region": "EMEA"})
    with pytest.raises(Conflict) as caught:
        rt.forms.delete_form(buyer, "publish_form", domain="Sales")
    assert "ledger" not in caught.value.message and "ledger" not in str(caught.value.details)
    assert any(a.startswith(HIDDEN) for a in caught.value.details["assets"])
    with pytest.raises(Conflict) as caught:
        rt.forms.delete_form(admin, "publish_form", domain="Sales")
    assert caught.value.details["assets"] == ["ledger.customer"]


def test_engine_errors_name_tables_not_paths(tmp_path: Path) -> None:
    tables = DeltaTables(tmp_path / "warehouse")
    path = tables.path_for("p", "t")
    data = DataSource(SCENARIOS / "retail_customer.csv").read()
    tables.create(path, data, committer="test")
    with pytest.raises(Conflict) as caught:
        tables.create(path, data, committer="test")
    assert str(tmp_path) not in caught.value.message and "p.t" in caught.value.message
    with pytest.raises(NotFound) as missing:
        tables.snapshot(tables.path_for("p", "nope"))
    assert str(tmp_path) not in missing.value.message
    with pytest.raises(NotFound) as unread:
        DataSource(tmp_path / "secret" / "gone.csv").read()
    assert str(tmp_path) not in unread.value.message and "gone.csv" in unread.value.message


def test_the_api_redacts_server_paths_from_any_error(runtime, settings) -> None:
    home = str(settings.home)
    warehouse = str(settings.warehouse_path)
    error = Invalid(f"cannot read {warehouse}/p/t/x.parquet", field="source", path=f"{home}/f")
    rendered = redacted_error(Redactor.of(settings), error)
    assert home not in str(rendered) and warehouse not in str(rendered)
    assert rendered["message"] == "cannot read <warehouse>/p/t/x.parquet"
    assert rendered["path"] == "<home>/f" and rendered["field"] == "source"


def test_a_leaking_error_reaches_the_client_redacted(runtime, admin_token, settings) -> None:
    with client_for(runtime, admin_token) as http:
        http.post("/api/v1/domains", json={"name": "Retail"})
        http.post("/api/v1/projects", json={"name": "retail", "domain": "Retail"})
        with (SCENARIOS / "retail_customer.csv").open("rb") as data:
            first = http.post(
                "/api/v1/projects/retail/tables",
                data={"name": "customer"},
                files={"file": ("customer.csv", data)},
            )
        assert first.status_code in (200, 201), first.text
        # A table folder no asset knows (an orphan) does not block the name: it is moved to
        # the quarantine (ADR 19); the Conflict of a second create must not show a path.
        target = runtime.tables.path_for("retail", "again")
        runtime.tables.create(
            target, DataSource(SCENARIOS / "retail_customer.csv").read(), committer="t"
        )
        for expected in (201, 409):
            with (SCENARIOS / "retail_customer.csv").open("rb") as data:
                again = http.post(
                    "/api/v1/projects/retail/tables",
                    data={"name": "again"},
                    files={"file": ("again.csv", data)},
                )
            assert again.status_code == expected, again.text
    assert str(settings.home) not in again.text
    assert str(settings.warehouse_path) not in again.text


def test_the_error_handler_redacts_a_path_a_raise_forgot(runtime, settings) -> None:
    """The safety net: whatever an error says, no server path reaches the client."""
    app = create_app(runtime)
    leaky = f"cannot open {settings.warehouse_path}/retail/customer/_delta_log"

    def boom() -> None:
        raise Conflict(leaky, location=str(settings.home / "staging" / "x"))

    app.add_api_route("/test-boom", boom, methods=["GET"])
    with TestClient(app) as http:
        answer = http.get("/test-boom")
    assert answer.status_code == 409
    assert str(settings.home) not in answer.text
    assert answer.json()["message"] == "cannot open <warehouse>/retail/customer/_delta_log"
    assert answer.json()["location"] == "<home>/staging/x"
