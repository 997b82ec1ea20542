"""Scenario 1: insurance policies, full load then CDC upserts and deletes (through the API)."""

from __future__ import annotations

from tests.scenarios.helpers import create_table, ok, query, setup_project, write

ORDERED = "select * from insurance.policies{at} order by policy_id"


def rows_by_key(rows: list[dict]) -> dict[int, dict]:
    return {r["policy_id"]: r for r in rows}


def test_insurance_full_load_then_cdc(client) -> None:
    setup_project(client, "insurance")
    created = create_table(client, "insurance", "policies", "insurance_full_load.csv", "policy_id")
    assert created["asset"]["row_count"] == 25
    assert created["asset"]["key_columns"] == ["policy_id"]
    loaded = rows_by_key(query(client, ORDERED.format(at="")))
    assert len(loaded) == 25

    first = ok(write(client, "insurance", "policies", "insurance_cdc_1.csv", mode="cdc"))
    assert first["asset"]["row_count"] == 27
    assert (first["result"]["rows_inserted"], first["result"]["rows_updated"]) == (2, 3)
    after = rows_by_key(query(client, ORDERED.format(at="")))
    assert len(after) == 27
    assert str(after[100462]["expiry_date"]) == "2024-12-31"
    assert after[100463]["insured_value"] == 1000000
    assert after[100475]["flood"] == "Y"
    assert {110001, 110002} <= after.keys()
    assert after[110001]["region_name"] == "WEST" and after[110002]["state_code"] == "FL"
    changed = {100462, 100463, 100475, 110001, 110002}
    assert {k: v for k, v in after.items() if k not in changed} == {
        k: v for k, v in loaded.items() if k not in changed
    }
    assert "op" not in after[100462]

    # Time travel to the version before the merge returns the old values.
    before = first["result"]["version"] - 1
    old = rows_by_key(query(client, ORDERED.format(at=f" version as of {before}")))
    assert old == loaded
    assert str(old[100462]["expiry_date"]) == "2023-03-25"

    # Merging the same file again changes nothing.
    again = ok(write(client, "insurance", "policies", "insurance_cdc_1.csv", mode="cdc"))
    assert again["result"]["rows_inserted"] == again["result"]["rows_updated"] == 0
    assert rows_by_key(query(client, ORDERED.format(at=""))) == after

    second = ok(
        write(
            client, "insurance", "policies", "insurance_cdc_2.csv", mode="cdc", order_column="seq"
        )
    )
    assert second["asset"]["row_count"] == 26
    final = rows_by_key(query(client, ORDERED.format(at="")))
    assert len(final) == 26
    assert 200242 not in final and 999999 not in final
    assert final[110001]["insured_value"] == 260000
    assert final[110001]["flood"] == "Y"
    assert str(final[110001]["expiry_date"]) == "2024-09-30"
    assert "seq" not in final[110001] and "op" not in final[110001]
    columns = [c["name"] for c in second["asset"]["columns"]]
    assert "seq" not in columns and "op" not in columns

    total = query(client, "select count(*) as n, sum(insured_value) as s from insurance.policies")
    expected_sum = sum(r["insured_value"] for r in final.values())
    assert total == [{"n": 26, "s": expected_sum}]

    history = ok(client.get("/api/v1/projects/insurance/tables/policies/history"))
    assert [h["operation"] for h in history][-1] == "CREATE"
    assert all(h["committer"] == "admin" for h in history)
