"""Column lineage from SQL: exact ``columnLineage`` facets for typical queries."""

from __future__ import annotations

import pytest

from lakehold.lineage.column_lineage import column_lineage

NS = "lakehold"
SCHEMAS = {
    "tickit.users": ["userid", "username", "firstname", "lastname", "city", "state"],
    "tickit.event": ["eventid", "venueid", "eventname", "starttime"],
    "tickit.sales": ["salesid", "buyerid", "eventid", "qtysold", "pricepaid", "commission"],
}


def field(dataset: str, column: str, *transformations: str) -> dict:
    """An input field; transformations written ``TYPE/SUBTYPE`` (``+masked`` when masking)."""
    parsed = []
    for written in transformations:
        kind, _, subtype = written.removesuffix("+masked").partition("/")
        parsed.append({"type": kind, "subtype": subtype, "masking": written.endswith("+masked")})
    return {
        "namespace": NS,
        "name": f"tickit.{dataset}",
        "field": column,
        "transformations": parsed,
    }


def lineage(sql: str, **kwargs) -> dict:
    return column_lineage(sql, SCHEMAS, namespace=NS, **kwargs)


ID = "DIRECT/IDENTITY"
TR = "DIRECT/TRANSFORMATION"
AGG = "DIRECT/AGGREGATION"


def test_plain_columns_are_identity() -> None:
    assert lineage("SELECT userid, city AS town FROM tickit.users") == {
        "fields": {
            "userid": {"inputFields": [field("users", "userid", ID)]},
            "town": {"inputFields": [field("users", "city", ID)]},
        },
        "dataset": [],
    }


def test_expressions_are_transformations() -> None:
    result = lineage(
        "SELECT firstname || ' ' || lastname AS name, upper(city) AS city, 1 AS one "
        "FROM tickit.users"
    )
    assert result["fields"] == {
        "name": {"inputFields": [field("users", "firstname", TR), field("users", "lastname", TR)]},
        "city": {"inputFields": [field("users", "city", TR)]},
        "one": {"inputFields": []},
    }


def test_cast_is_a_transformation() -> None:
    result = lineage("SELECT CAST(pricepaid AS INTEGER) AS price FROM tickit.sales")
    assert result["fields"] == {"price": {"inputFields": [field("sales", "pricepaid", TR)]}}


def test_where_is_a_dataset_filter() -> None:
    result = lineage("SELECT salesid FROM tickit.sales WHERE qtysold > 2 AND pricepaid < 100")
    assert result == {
        "fields": {"salesid": {"inputFields": [field("sales", "salesid", ID)]}},
        "dataset": [
            field("sales", "pricepaid", "INDIRECT/FILTER"),
            field("sales", "qtysold", "INDIRECT/FILTER"),
        ],
    }


def test_aggregate_with_group_by_and_having() -> None:
    result = lineage(
        "SELECT buyerid, sum(pricepaid) AS total, count(*) AS n FROM tickit.sales "
        "GROUP BY buyerid HAVING max(qtysold) > 1"
    )
    assert result == {
        "fields": {
            "buyerid": {"inputFields": [field("sales", "buyerid", ID)]},
            "total": {"inputFields": [field("sales", "pricepaid", AGG)]},
            "n": {"inputFields": []},
        },
        "dataset": [
            field("sales", "buyerid", "INDIRECT/GROUP_BY"),
            field("sales", "qtysold", "INDIRECT/FILTER"),
        ],
    }


def test_join_columns_are_indirect_join() -> None:
    result = lineage(
        "SELECT s.salesid, u.username FROM tickit.sales s JOIN tickit.users u "
        "ON s.buyerid = u.userid"
    )
    assert result == {
        "fields": {
            "salesid": {"inputFields": [field("sales", "salesid", ID)]},
            "username": {"inputFields": [field("users", "username", ID)]},
        },
        "dataset": [
            field("sales", "buyerid", "INDIRECT/JOIN"),
            field("users", "userid", "INDIRECT/JOIN"),
        ],
    }


def test_join_using() -> None:
    result = lineage(
        "SELECT e.eventname, s.qtysold FROM tickit.sales s JOIN tickit.event e USING (eventid)"
    )
    assert result["dataset"] == [
        field("event", "eventid", "INDIRECT/JOIN"),
        field("sales", "eventid", "INDIRECT/JOIN"),
    ]


def test_case_conditions_are_conditional() -> None:
    result = lineage(
        "SELECT CASE WHEN state = 'CA' THEN city ELSE 'elsewhere' END AS place FROM tickit.users"
    )
    assert result["fields"] == {
        "place": {
            "inputFields": [
                field("users", "city", TR),
                field("users", "state", "INDIRECT/CONDITIONAL"),
            ]
        }
    }


def test_simple_case_and_if() -> None:
    result = lineage(
        "SELECT CASE state WHEN 'CA' THEN 1 ELSE 0 END AS ca, "
        "IF(qtysold > 1, pricepaid, 0) AS bulk FROM tickit.users, tickit.sales"
    )
    assert result["fields"] == {
        "ca": {"inputFields": [field("users", "state", "INDIRECT/CONDITIONAL")]},
        "bulk": {
            "inputFields": [
                field("sales", "pricepaid", TR),
                field("sales", "qtysold", "INDIRECT/CONDITIONAL"),
            ]
        },
    }


def test_window_function() -> None:
    result = lineage(
        "SELECT salesid, sum(pricepaid) OVER (PARTITION BY buyerid ORDER BY salesid) AS running, "
        "row_number() OVER (ORDER BY qtysold DESC) AS rn FROM tickit.sales"
    )
    assert result["fields"] == {
        "salesid": {"inputFields": [field("sales", "salesid", ID)]},
        "running": {
            "inputFields": [
                field("sales", "buyerid", "INDIRECT/WINDOW"),
                field("sales", "pricepaid", AGG),
                field("sales", "salesid", "INDIRECT/WINDOW"),
            ]
        },
        "rn": {"inputFields": [field("sales", "qtysold", "INDIRECT/WINDOW")]},
    }


def test_order_by_column_and_alias_is_sort() -> None:
    result = lineage(
        "SELECT firstname || lastname AS name FROM tickit.users ORDER BY name, userid DESC"
    )
    assert result["dataset"] == [
        field("users", "firstname", "INDIRECT/SORT"),
        field("users", "lastname", "INDIRECT/SORT"),
        field("users", "userid", "INDIRECT/SORT"),
    ]


def test_star_is_expanded_from_the_schema() -> None:
    result = lineage("SELECT * FROM tickit.event")
    assert result["fields"] == {
        column: {"inputFields": [field("event", column, ID)]} for column in SCHEMAS["tickit.event"]
    }


def test_star_exclude_and_qualified_star_in_join() -> None:
    result = lineage(
        "SELECT e.* EXCLUDE (starttime), s.qtysold FROM tickit.event e "
        "JOIN tickit.sales s ON s.eventid = e.eventid"
    )
    assert list(result["fields"]) == ["eventid", "venueid", "eventname", "qtysold"]
    assert result["fields"]["eventname"] == {"inputFields": [field("event", "eventname", ID)]}


def test_cte_composes_transformations() -> None:
    result = lineage(
        "WITH spend AS (SELECT buyerid, sum(pricepaid) AS total FROM tickit.sales "
        "WHERE qtysold > 0 GROUP BY buyerid) "
        "SELECT u.username, round(spend.total, 2) AS total FROM tickit.users u "
        "JOIN spend ON spend.buyerid = u.userid"
    )
    assert result == {
        "fields": {
            "username": {"inputFields": [field("users", "username", ID)]},
            "total": {"inputFields": [field("sales", "pricepaid", AGG)]},
        },
        "dataset": [
            field("sales", "buyerid", "INDIRECT/GROUP_BY", "INDIRECT/JOIN"),
            field("sales", "qtysold", "INDIRECT/FILTER"),
            field("users", "userid", "INDIRECT/JOIN"),
        ],
    }


def test_nested_ctes_keep_identity_through_renames() -> None:
    result = lineage(
        "WITH a AS (SELECT userid AS id, city FROM tickit.users), "
        "b AS (SELECT id AS user_id, city AS town FROM a) SELECT user_id, town FROM b"
    )
    assert result["fields"] == {
        "user_id": {"inputFields": [field("users", "userid", ID)]},
        "town": {"inputFields": [field("users", "city", ID)]},
    }


def test_indirect_use_of_a_computed_column_reaches_its_inputs() -> None:
    result = lineage(
        "SELECT t.salesid FROM (SELECT salesid, qtysold * pricepaid AS amount "
        "FROM tickit.sales) AS t WHERE t.amount > 100"
    )
    assert result == {
        "fields": {"salesid": {"inputFields": [field("sales", "salesid", ID)]}},
        "dataset": [
            field("sales", "pricepaid", "INDIRECT/FILTER"),
            field("sales", "qtysold", "INDIRECT/FILTER"),
        ],
    }


def test_conditional_inside_a_cte_stays_indirect() -> None:
    result = lineage(
        "WITH c AS (SELECT CASE WHEN state = 'CA' THEN 'west' END AS region FROM tickit.users) "
        "SELECT region FROM c"
    )
    assert result["fields"] == {
        "region": {"inputFields": [field("users", "state", "INDIRECT/CONDITIONAL")]}
    }


def test_union_merges_branches_by_position() -> None:
    result = lineage(
        "SELECT userid AS id, city AS label FROM tickit.users WHERE state = 'CA' "
        "UNION ALL SELECT eventid, upper(eventname) FROM tickit.event"
    )
    assert result == {
        "fields": {
            "id": {"inputFields": [field("event", "eventid", ID), field("users", "userid", ID)]},
            "label": {"inputFields": [field("event", "eventname", TR), field("users", "city", ID)]},
        },
        "dataset": [field("users", "state", "INDIRECT/FILTER")],
    }


def test_subquery_in_where_and_scalar_subquery() -> None:
    result = lineage(
        "SELECT username, (SELECT max(pricepaid) FROM tickit.sales) AS top FROM tickit.users "
        "WHERE userid IN (SELECT buyerid FROM tickit.sales WHERE qtysold > 3)"
    )
    assert result == {
        "fields": {
            "username": {"inputFields": [field("users", "username", ID)]},
            "top": {"inputFields": [field("sales", "pricepaid", AGG)]},
        },
        "dataset": [
            field("sales", "buyerid", "INDIRECT/FILTER"),
            field("sales", "qtysold", "INDIRECT/FILTER"),
            field("users", "userid", "INDIRECT/FILTER"),
        ],
    }


def test_hashing_is_masking() -> None:
    result = lineage("SELECT md5(username) AS h, sha256(lastname) AS s FROM tickit.users")
    assert result["fields"] == {
        "h": {"inputFields": [field("users", "username", "DIRECT/TRANSFORMATION+masked")]},
        "s": {"inputFields": [field("users", "lastname", "DIRECT/TRANSFORMATION+masked")]},
    }


def test_ctas_statement_and_default_project() -> None:
    result = lineage(
        "CREATE TABLE mart.dim AS SELECT userid, count(*) AS n FROM users GROUP BY userid",
        default_project="tickit",
    )
    assert result == {
        "fields": {
            "userid": {"inputFields": [field("users", "userid", ID)]},
            "n": {"inputFields": []},
        },
        "dataset": [field("users", "userid", "INDIRECT/GROUP_BY")],
    }


def test_other_dialect() -> None:
    result = lineage("SELECT TOP 5 username FROM tickit.users ORDER BY userid", dialect="tsql")
    assert result == {
        "fields": {"username": {"inputFields": [field("users", "username", ID)]}},
        "dataset": [field("users", "userid", "INDIRECT/SORT")],
    }


def test_not_a_query_is_refused() -> None:
    with pytest.raises(ValueError):
        lineage("DELETE FROM tickit.users")


def test_names_fold_as_duckdb_folds_them() -> None:
    # ASCII case folds (quoted or not); other letters do not: "Ä" and "ä" are two columns.
    schemas = {"tickit.notes": ["Ärger", "ärger", "Key"]}
    result = column_lineage(
        'SELECT "KEY" AS k, "Ärger" AS big, "ärger" AS small FROM "TICKIT"."Notes"',
        schemas,
        namespace=NS,
    )
    name = "tickit.notes"
    assert result["fields"] == {
        "k": {"inputFields": [{**field("notes", "key", ID), "name": name}]},
        "big": {"inputFields": [{**field("notes", "Ärger", ID), "name": name}]},
        "small": {"inputFields": [{**field("notes", "ärger", ID), "name": name}]},
    }
