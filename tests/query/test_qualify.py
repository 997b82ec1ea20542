"""Name resolution: project.table refs, CTE scoping, aliases, case, time travel."""

from __future__ import annotations

import pytest

from lakehold.errors import Invalid, NotFound
from lakehold.query import TableRef, prepare


def refs(sql: str, **kwargs) -> list[TableRef]:
    return list(prepare(sql, **kwargs).table_refs)


def test_project_dot_table():
    assert refs("SELECT * FROM retail.customer") == [TableRef("retail", "customer")]


def test_refs_are_distinct_in_order_of_appearance():
    sql = """
        SELECT * FROM retail.orders o
        JOIN retail.customer c ON o.customer_id = c.id
        WHERE EXISTS (SELECT 1 FROM retail.orders x WHERE x.order_id = o.order_id)
        UNION ALL SELECT * FROM crm.leads, retail.customer
    """
    assert refs(sql) == [
        TableRef("retail", "orders"),
        TableRef("retail", "customer"),
        TableRef("crm", "leads"),
    ]


def test_names_fold_as_duckdb_folds_them_quoted_or_not():
    assert refs('SELECT * FROM Retail.CUSTOMER, retail."Mixed Case", "RETAIL"."ORDERS"') == [
        TableRef("retail", "customer"),
        TableRef("retail", "mixed case"),
        TableRef("retail", "orders"),
    ]


def test_only_ascii_letters_fold():
    # DuckDB folds ASCII only: the Kelvin sign is not k, and "Ä" is not "ä".
    assert refs('SELECT * FROM retail."\u212aey", retail."Ärger"') == [
        TableRef("retail", "\u212aey"),
        TableRef("retail", "Ärger"),
    ]


@pytest.mark.parametrize(
    "sql",
    [
        'WITH "\u212aey" AS (SELECT 1) SELECT * FROM "key"',
        'WITH "ärger" AS (SELECT 1) SELECT * FROM "Ärger"',
        'WITH "\u0130d" AS (SELECT 1) SELECT * FROM "i\u0307d"',
    ],
)
def test_a_cte_is_only_what_duckdb_takes_for_one(sql):
    # Python's lower() would take these for references to the CTE; DuckDB does not.
    assert len(refs(sql, default_project="analysts")) == 1


def test_a_cte_folds_ascii_case_as_duckdb_does():
    assert refs('WITH "KEY" AS (SELECT 1) SELECT * FROM key, "Key"') == []


def test_unqualified_name_uses_the_default_project():
    assert refs("SELECT * FROM customer", default_project="retail") == [
        TableRef("retail", "customer")
    ]


def test_unqualified_name_without_default_project_is_not_found():
    with pytest.raises(NotFound, match="customer"):
        prepare("SELECT * FROM customer")


def test_three_part_name_is_not_found():
    with pytest.raises(NotFound, match=r"a\.b\.c"):
        prepare("SELECT * FROM a.b.c")


def test_cte_names_are_not_tables():
    sql = "WITH customer AS (SELECT 1 AS id) SELECT * FROM customer JOIN retail.orders ON true"
    assert refs(sql, default_project="retail") == [TableRef("retail", "orders")]


def test_cte_shadows_only_unqualified_names():
    sql = "WITH customer AS (SELECT 1 AS id) SELECT * FROM customer, retail.customer"
    assert refs(sql) == [TableRef("retail", "customer")]


def test_cte_matches_case_insensitively_like_duckdb():
    sql = 'WITH "Totals" AS (SELECT 1 AS n) SELECT * FROM totals'
    assert refs(sql) == []


def test_cte_is_visible_in_subqueries_and_later_ctes():
    sql = """
        WITH a AS (SELECT * FROM retail.customer),
             b AS (SELECT * FROM a)
        SELECT * FROM b WHERE EXISTS (SELECT 1 FROM a)
    """
    assert refs(sql) == [TableRef("retail", "customer")]


def test_cte_is_not_visible_outside_its_subquery():
    sql = "SELECT * FROM (WITH t AS (SELECT 1) SELECT * FROM t) x, t"
    assert refs(sql, default_project="retail") == [TableRef("retail", "t")]


def test_non_recursive_cte_does_not_see_itself():
    sql = "WITH customer AS (SELECT * FROM customer) SELECT * FROM customer"
    assert refs(sql, default_project="retail") == [TableRef("retail", "customer")]


def test_recursive_cte_sees_itself():
    sql = """
        WITH RECURSIVE r(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM r WHERE n < 3)
        SELECT * FROM r
    """
    assert refs(sql) == []


def test_version_as_of():
    assert refs("SELECT * FROM retail.customer VERSION AS OF 3") == [
        TableRef("retail", "customer", version=3)
    ]


def test_for_version_as_of_with_alias():
    assert refs("SELECT c.id FROM retail.customer FOR VERSION AS OF 0 AS c") == [
        TableRef("retail", "customer", version=0)
    ]


def test_timestamp_as_of():
    assert refs("SELECT * FROM retail.customer TIMESTAMP AS OF '2024-01-01 00:00:00'") == [
        TableRef("retail", "customer", timestamp="2024-01-01 00:00:00")
    ]


def test_timestamp_as_of_typed_literal():
    sql = "SELECT * FROM retail.customer FOR TIMESTAMP AS OF TIMESTAMP '2024-01-01'"
    assert refs(sql) == [TableRef("retail", "customer", timestamp="2024-01-01")]


def test_databricks_and_snowflake_time_travel():
    assert refs("SELECT * FROM retail.customer VERSION AS OF 2 c", dialect="databricks") == [
        TableRef("retail", "customer", version=2)
    ]
    assert refs("SELECT * FROM retail.customer AT (VERSION => 4)", dialect="snowflake") == [
        TableRef("retail", "customer", version=4)
    ]


def test_same_table_at_two_versions_is_two_refs():
    sql = """
        SELECT * FROM retail.customer VERSION AS OF 1 a
        JOIN retail.customer b USING (id)
    """
    assert refs(sql) == [
        TableRef("retail", "customer", version=1),
        TableRef("retail", "customer"),
    ]


@pytest.mark.parametrize(
    "sql",
    [
        "SELECT * FROM retail.customer VERSION AS OF 'three'",
        "SELECT * FROM retail.customer VERSION AS OF -1",
        "SELECT * FROM retail.customer TIMESTAMP AS OF now()",
        "WITH c AS (SELECT 1) SELECT * FROM c VERSION AS OF 1",
    ],
)
def test_bad_time_travel_is_invalid(sql):
    with pytest.raises(Invalid):
        prepare(sql)


def test_aliases_survive_the_rewrite():
    prepared = prepare(
        "SELECT c.id, customer.name, retail.customer.region FROM retail.customer, "
        "retail.customer AS c"
    )
    sql = prepared.duckdb_sql
    view = prepared.view_names[TableRef("retail", "customer")]
    assert f"FROM {view} AS customer, {view} AS c" in sql
    assert "retail" not in sql


def test_ctas_target_is_reported_and_only_the_select_runs():
    prepared = prepare("CREATE TABLE sandbox.top AS SELECT * FROM retail.customer", allow_ctas=True)
    assert prepared.ctas is not None
    assert prepared.ctas.ref == TableRef("sandbox", "top")
    assert prepared.table_refs == (TableRef("retail", "customer"),)
    assert prepared.duckdb_sql.startswith("SELECT")


def test_ctas_target_defaults_to_the_default_project():
    prepared = prepare(
        "CREATE OR REPLACE TABLE top AS SELECT 1 AS x", allow_ctas=True, default_project="me"
    )
    assert prepared.ctas is not None
    assert prepared.ctas.ref == TableRef("me", "top")
    assert prepared.ctas.replace


def test_prepared_statements_are_cached_and_immutable():
    first = prepare("SELECT * FROM retail.customer", default_project="x")
    assert prepare("SELECT * FROM retail.customer", default_project="x") is first
    assert prepare("SELECT * FROM retail.customer", default_project="y") is not first
    with pytest.raises(TypeError):
        first.view_names[TableRef("retail", "other")] = "v"  # type: ignore[index]
