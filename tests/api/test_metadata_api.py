"""Business metadata endpoints: glossaries, terms and tags on assets, unit policies, forms,
rules; errors are 4xx naming the field; every endpoint is in the OpenAPI document."""

from __future__ import annotations

from lakehold.api.app import create_app
from tests.scenarios.helpers import create_table, ok
from tests.sharing import add_member, client_for, new_user

PATHS = (
    "/api/v1/glossaries",
    "/api/v1/glossaries/{glossary}",
    "/api/v1/glossaries/{glossary}/terms",
    "/api/v1/glossaries/{glossary}/terms/{term}",
    "/api/v1/projects/{project}/assets/{asset}/metadata",
    "/api/v1/projects/{project}/assets/{asset}/terms",
    "/api/v1/projects/{project}/assets/{asset}/columns/{column}/terms",
    "/api/v1/projects/{project}/assets/{asset}/columns/{column}/tags",
    "/api/v1/metadata-forms",
    "/api/v1/metadata-forms/{form}",
    "/api/v1/projects/{project}/assets/{asset}/forms",
    "/api/v1/projects/{project}/assets/{asset}/forms/{form}",
    "/api/v1/metadata-rules",
    "/api/v1/metadata-rules/{rule_id}",
    "/api/v1/domain-units/{unit}/policies",
    "/api/v1/domain-units/{unit}/policies/{policy_id}",
)


def test_metadata_endpoints(runtime, admin, admin_token) -> None:
    paths = create_app(runtime).openapi()["paths"]
    assert [p for p in PATHS if p not in paths] == []

    bob, bob_token = new_user(runtime, admin, "bob")
    with client_for(runtime, admin_token) as root, client_for(runtime, bob_token) as b:
        ok(root.post("/api/v1/domains", json={"name": "Sales"}), 201)
        unit = ok(root.post("/api/v1/domain-units", json={"domain": "Sales", "name": "Mkt"}), 201)
        body = {"name": "campaigns", "domain": "Sales", "domain_unit": "Mkt"}
        ok(root.post("/api/v1/projects", json=body), 201)
        create_table(root, "campaigns", "customer", "retail_customer.csv")
        add_member(runtime, "campaigns", bob, "contributor")

        # bob needs a policy to create a glossary in Mkt
        glossary = {"domain": "Sales", "name": "Customer", "unit": "Mkt"}
        assert b.post("/api/v1/glossaries", json=glossary).status_code == 403
        policy = {"capability": "create_glossary", "project": "campaigns"}
        assert b.post(f"/api/v1/domain-units/{unit['id']}/policies", json=policy).status_code == 403
        granted = ok(root.post(f"/api/v1/domain-units/{unit['id']}/policies", json=policy), 201)
        wrong = root.post(
            f"/api/v1/domain-units/{unit['id']}/policies", json={**policy, "capability": "x"}
        )
        assert wrong.status_code == 400 and wrong.json()["field"] == "capability"
        created = ok(b.post("/api/v1/glossaries", json=glossary), 201)
        assert created["unit"] == "Sales/Mkt"
        assert (
            b.post(f"/api/v1/glossaries/{created['id']}/terms", json={"name": "Email"}).status_code
            == 403
        )
        ok(root.post(f"/api/v1/glossaries/{created['id']}/terms", json={"name": "Email"}), 201)
        assert [t["name"] for t in ok(b.get(f"/api/v1/glossaries/{created['id']}/terms"))] == [
            "Email"
        ]
        assert (
            ok(b.get("/api/v1/glossaries", params={"domain": "Sales"}))[0]["terms"][0]["name"]
            == "Email"
        )
        policies = ok(b.get(f"/api/v1/domain-units/{unit['id']}/policies"))
        assert [p["id"] for p in policies] == [granted["id"]]
        deleted = root.delete(f"/api/v1/domain-units/{unit['id']}/policies/{granted['id']}")
        assert deleted.status_code == 204

        asset = "/api/v1/projects/campaigns/assets/customer"
        ok(b.put(f"{asset}/terms", json={"terms": ["Customer/Email"]}))
        ok(b.put(f"{asset}/columns/cust_email/terms", json={"terms": ["Customer/Email"]}))
        meta = ok(b.put(f"{asset}/columns/cust_email/tags", json={"tags": ["pii"]}))
        assert meta["glossary_terms"] == ["Email"]
        email = next(c for c in meta["columns"] if c["name"] == "cust_email")
        assert email == {"name": "cust_email", "tags": ["pii"], "glossary_terms": ["Email"]}
        assert ok(b.get(f"{asset}/metadata")) == meta
        missing = b.put(f"{asset}/terms", json={"terms": ["Customer/Nope"]})
        assert missing.status_code == 404 and missing.json()["field"] == "terms[0]"

        # forms: request validation names the field; versions; values
        bad = root.post(
            "/api/v1/metadata-forms",
            json={"domain": "Sales", "name": "f", "fields": [{"name": "A", "type": "colour"}]},
        )
        assert bad.status_code == 400 and bad.json()["field"] == "fields.0.type"
        form = ok(
            root.post(
                "/api/v1/metadata-forms",
                json={
                    "domain": "Sales",
                    "name": "f",
                    "fields": [{"name": "A", "type": "text", "required": True}],
                },
            ),
            201,
        )
        v2 = ok(
            root.put(
                f"/api/v1/metadata-forms/{form['id']}",
                json={"fields": [{"name": "A", "type": "number", "required": True}]},
            )
        )
        assert v2["version"] == 2
        assert (
            ok(b.get(f"/api/v1/metadata-forms/{form['id']}", params={"version": 1}))["fields"][0][
                "type"
            ]
            == "text"
        )
        assert ok(b.get("/api/v1/metadata-forms/f", params={"domain": "Sales"}))["version"] == 2
        assert [
            f["name"] for f in ok(b.get("/api/v1/metadata-forms", params={"domain": "Sales"}))
        ] == ["f"]
        refused = b.put(f"{asset}/forms/f", json={"values": {"A": "x", "B": 1}})
        assert refused.status_code == 400
        assert [p["field"] for p in refused.json()["problems"]] == ["forms.f.B", "forms.f.A"]
        assert ok(b.put(f"{asset}/forms/f", json={"values": {"A": 3}}))["version"] == 2
        assert ok(b.get(f"{asset}/forms/f"))["values"] == {"A": 3}
        assert [v["form"] for v in ok(b.get(f"{asset}/forms"))] == ["f"]
        assert b.delete(f"{asset}/forms/f").status_code == 204
        assert b.get(f"{asset}/forms/f").status_code == 404

        # rules
        rule = {"unit": unit["id"], "name": "r", "action": "publish", "form": "f"}
        assert b.post("/api/v1/metadata-rules", json=rule).status_code == 403
        created_rule = ok(root.post("/api/v1/metadata-rules", json=rule), 201)
        assert ok(b.get(f"/api/v1/metadata-rules/{created_rule['id']}"))["required_fields"] == ["A"]
        assert len(ok(b.get("/api/v1/metadata-rules", params={"unit": "Sales/Mkt"}))) == 1
        refused = b.post(f"{asset}/publish")
        assert refused.status_code == 400 and refused.json()["field"] == "forms.f.A"
        assert root.delete(f"/api/v1/metadata-rules/{created_rule['id']}").status_code == 204
        listing = ok(b.post(f"{asset}/publish"), 201)
        assert listing["glossary_terms"] == ["Email"]
        assert listing["columns"][3]["tags"] == ["pii"]


def test_glossary_form_and_rule_lifecycle_over_http(runtime, admin, admin_token) -> None:
    bob, bob_token = new_user(runtime, admin, "bob")
    with client_for(runtime, admin_token) as root, client_for(runtime, bob_token) as b:
        ok(root.post("/api/v1/domains", json={"name": "Sales"}), 201)
        ok(root.post("/api/v1/domain-units", json={"domain": "Sales", "name": "Mkt"}), 201)
        body = {"name": "campaigns", "domain": "Sales", "domain_unit": "Mkt"}
        ok(root.post("/api/v1/projects", json=body), 201)
        create_table(root, "campaigns", "customer", "retail_customer.csv")
        add_member(runtime, "campaigns", bob, "contributor")
        glossary = ok(root.post("/api/v1/glossaries", json={"domain": "Sales", "name": "G"}), 201)
        url = f"/api/v1/glossaries/{glossary['id']}"
        ok(root.post(f"{url}/terms", json={"name": "Email"}), 201)
        ok(b.put("/api/v1/projects/campaigns/assets/customer/terms", json={"terms": ["G/Email"]}))

        # glossaries and terms
        assert ok(root.patch(url, json={"name": "Words"}))["name"] == "Words"
        assert b.patch(url, json={"description": "x"}).status_code == 403
        assert root.patch(url, json={"name": ""}).json()["field"] == "name"
        term = ok(root.patch(f"{url}/terms/Email", json={"name": "Mail"}))
        assert term["name"] == "Mail"
        assert root.patch(f"{url}/terms/Nope", json={"name": "X"}).json()["field"] == "term"
        refused = root.delete(url)
        assert refused.status_code == 409 and refused.json()["terms"] == 1
        assert b.delete(f"{url}/terms/Mail").status_code == 403
        assert root.delete(f"{url}/terms/Mail").status_code == 204
        metadata = ok(b.get("/api/v1/projects/campaigns/assets/customer/metadata"))
        assert metadata["glossary_terms"] == []
        assert root.delete(url).status_code == 204
        assert root.delete(f"{url}?force=true").status_code == 404

        # forms in use, and rule updates
        fields = [{"name": "Region", "type": "text", "required": True}]
        form = ok(
            root.post(
                "/api/v1/metadata-forms", json={"domain": "Sales", "name": "f", "fields": fields}
            ),
            201,
        )
        ok(
            root.post(
                "/api/v1/metadata-forms", json={"domain": "Sales", "name": "g", "fields": fields}
            ),
            201,
        )
        rule = ok(
            root.post(
                "/api/v1/metadata-rules",
                json={"unit": "Sales/Mkt", "name": "r", "action": "publish", "form": "f"},
            ),
            201,
        )
        refused = root.delete(f"/api/v1/metadata-forms/{form['id']}")
        assert refused.status_code == 409 and refused.json()["rules"] == ["r"]
        assert b.delete(f"/api/v1/metadata-forms/{form['id']}").status_code == 403
        rule_url = f"/api/v1/metadata-rules/{rule['id']}"
        changed = ok(root.patch(rule_url, json={"form": "g", "asset_types": ["lakehouse_table"]}))
        assert changed["form"] == "g" and changed["asset_types"] == ["lakehouse_table"]
        assert ok(root.patch(rule_url, json={"asset_types": None}))["asset_types"] is None
        assert b.patch(rule_url, json={"description": "x"}).status_code == 403
        for change, field in (
            ({"form": "nope"}, "form"),
            ({"projects": ["nope"]}, "projects[0]"),
            ({"asset_types": []}, "asset_types"),
            ({"form": None}, "form"),
            ({"include_children": "maybe"}, "include_children"),
        ):
            answer = root.patch(rule_url, json=change)
            assert answer.status_code in (400, 404) and answer.json()["field"] == field, change
        assert root.delete(f"/api/v1/metadata-forms/{form['id']}").status_code == 204
        assert root.delete("/api/v1/metadata-forms/g?domain=Sales").status_code == 409
