"""The sandbox refuses everything but reading tables by name, with allowed functions."""

from __future__ import annotations

import pytest

from lakehold.errors import Forbidden, Invalid, LakeholdError, NotFound
from lakehold.query import prepare
from lakehold.query.verify import verify

REFUSED = [
    # file and table functions
    "SELECT * FROM read_csv('/etc/passwd')",
    "SELECT * FROM read_csv_auto('/etc/passwd')",
    "SELECT * FROM read_parquet('/data/x.parquet')",
    "SELECT * FROM read_parquet(['/a.parquet', '/b.parquet'])",
    "SELECT * FROM read_json('/x.json')",
    "SELECT * FROM read_text('/etc/passwd')",
    "SELECT read_text('/etc/passwd')",
    "SELECT * FROM read_blob('/etc/passwd')",
    "SELECT * FROM delta_scan('/warehouse/t')",
    "SELECT * FROM glob('/**')",
    "SELECT * FROM sniff_csv('/etc/passwd')",
    "SELECT * FROM parquet_metadata('/x.parquet')",
    "SELECT * FROM query('SELECT 1')",
    "SELECT * FROM query_table('t')",
    "SELECT * FROM json_execute_serialized_sql('{}')",
    "SELECT * FROM p.t, LATERAL read_csv('/etc/passwd')",
    "SELECT (SELECT count(*) FROM read_csv('/etc/passwd'))",
    "WITH x AS (SELECT * FROM read_csv('/etc/passwd')) SELECT * FROM x",
    "SELECT * FROM p.t UNION ALL SELECT * FROM read_csv('/etc/passwd')",
    # strings used as tables
    "SELECT * FROM 'x.csv'",
    "SELECT * FROM '/etc/passwd'",
    "FROM 's3://bucket/x.parquet'",
    "WITH \"x.csv\" AS (SELECT 1) SELECT * FROM 'x.csv'",
    # statements that are not reads
    "ATTACH '/tmp/x.db'",
    "ATTACH '/tmp/x.db' AS x (READ_ONLY)",
    "DETACH x",
    "COPY p.t TO '/tmp/out.csv'",
    "COPY (SELECT 1) TO '/tmp/out.csv'",
    "EXPORT DATABASE '/tmp/out'",
    "INSTALL httpfs",
    "LOAD httpfs",
    "LOAD '/tmp/evil.duckdb_extension'",
    "PRAGMA version",
    "PRAGMA enable_profiling",
    "SET threads = 1",
    "SET enable_external_access = true",
    "RESET lock_configuration",
    "SET VARIABLE x = 1",
    "CALL pragma_version()",
    "CREATE TABLE p.x AS SELECT 1",
    "CREATE VIEW v AS SELECT 1",
    "CREATE MACRO sum(x) AS 1",
    "INSERT INTO p.t VALUES (1)",
    "UPDATE p.t SET a = 1",
    "DELETE FROM p.t",
    "DROP TABLE p.t",
    "ALTER TABLE p.t ADD COLUMN x INT",
    "SELECT * INTO p.copy FROM p.t",
    "DESCRIBE p.t",
    "SHOW TABLES",
    "SUMMARIZE p.t",
    "SELECT * FROM (DESCRIBE p.t)",
    "USE p",
    "BEGIN TRANSACTION",
    "CHECKPOINT",
    "PIVOT p.t ON a USING sum(b)",
    # several statements, comment tricks
    "SELECT 1; SELECT 2",
    "SELECT 1; DROP TABLE p.t",
    "SELECT 1 /* harmless */; ATTACH '/tmp/x.db'",
    "SELECT 1 -- comment\n; COPY (SELECT 1) TO '/tmp/out.csv'",
    # catalog and settings introspection
    "SELECT * FROM duckdb_tables()",
    "SELECT * FROM duckdb_settings()",
    "SELECT * FROM duckdb_secrets()",
    "SELECT * FROM duckdb_tables",
    "SELECT * FROM duckdb_views",
    "SELECT * FROM information_schema.tables",
    "SELECT * FROM pg_catalog.pg_tables",
    "SELECT * FROM sqlite_master",
    "SELECT * FROM pragma_table_info('t')",
    "SELECT * FROM system.main.duckdb_tables",
    "SELECT * FROM main.t",
    "SELECT * FROM temp.t",
    "SELECT * FROM memory.main.t",
    "WITH duckdb_views AS (SELECT 1) SELECT * FROM duckdb_views",
    "SELECT getenv('HOME')",
    "SELECT current_setting('threads')",
    "SELECT current_query()",
    "SELECT getvariable('x')",
    "SELECT version()",
    "SELECT json_serialize_sql('SELECT 1')",
    "SELECT nextval('s')",
    "SELECT sleep_ms(100000)",
    "SELECT pg_sleep(100)",
    # quoting and case tricks
    "SELECT * FROM \"READ_CSV\"('/etc/passwd')",
    "SELECT * FROM READ_CSV('/etc/passwd')",
    "SELECT * FROM Read_Parquet('/x.parquet')",
    "SELECT \"current_setting\"('threads')",
    "SELECT CURRENT_SETTING('threads')",
    "SELECT main.current_setting('threads')",
    "SELECT system.main.getenv('HOME')",
    'SELECT * FROM "DuckDB_Tables"',
    "SELECT list_transform([1], x -> getenv('HOME'))",
    "SELECT [getenv(x) FOR x IN ['HOME']]",
    "SELECT sum(a) FILTER (WHERE getenv('x') = '') FROM p.t",
    "SELECT a FROM p.t ORDER BY current_setting('threads')",
    # parameters
    "SELECT ?",
    "SELECT $1",
]


@pytest.mark.parametrize("sql", REFUSED)
def test_refused(sql):
    with pytest.raises((Forbidden, Invalid, NotFound)):
        prepare(sql, default_project="p")


def test_there_are_many_refusal_attempts():
    assert len(REFUSED) >= 30


@pytest.mark.parametrize(
    ("sql", "expected"),
    [
        ("SELECT * FROM read_csv('/etc/passwd')", "table function read_csv is not allowed"),
        ("SELECT * FROM \"READ_CSV\"('/etc/passwd')", "table function read_csv is not allowed"),
        ("SELECT * FROM 'data.csv'", "files cannot be read directly ('data.csv')"),
        ("ATTACH '/tmp/x.db'", "ATTACH is not accepted: only read statements are accepted"),
        ("COPY p.t TO 'x.csv'", "COPY is not accepted"),
        ("LOAD httpfs", "LOAD is not accepted"),
        ("PRAGMA version", "PRAGMA is not accepted"),
        ("SET threads = 1", "SET is not accepted"),
        ("CALL pragma_version()", "CALL is not accepted"),
        ("INSERT INTO p.t VALUES (1)", "INSERT is not accepted"),
        ("SELECT getenv('HOME')", "function getenv is not allowed"),
        ("SELECT CURRENT_SETTING('threads')", "function current_setting is not allowed"),
        ("SELECT * FROM information_schema.tables", "system catalog"),
        ("SELECT * FROM duckdb_tables", "system table 'duckdb_tables'"),
    ],
)
def test_refusals_say_what_was_refused(sql, expected):
    with pytest.raises(LakeholdError) as caught:
        prepare(sql, default_project="p")
    assert expected in caught.value.message


def test_ctas_is_refused_unless_allowed():
    with pytest.raises(Forbidden, match="CREATE"):
        prepare("CREATE TABLE me.x AS SELECT 1")
    assert prepare("CREATE TABLE me.x AS SELECT 1", allow_ctas=True).ctas is not None


@pytest.mark.parametrize(
    "sql",
    [
        "CREATE VIEW me.v AS SELECT 1",
        "CREATE TABLE me.x (a INT)",
        "CREATE TEMP TABLE x AS SELECT 1",
        "CREATE TABLE me.x AS SELECT * FROM read_csv('/etc/passwd')",
        "CREATE TABLE me.x AS SELECT getenv('HOME')",
    ],
)
def test_ctas_admits_only_create_table_as_a_safe_select(sql):
    with pytest.raises((Forbidden, Invalid)):
        prepare(sql, allow_ctas=True)


def test_line_comment_cannot_hide_a_second_statement():
    # Everything after -- is a comment: this is one harmless statement.
    prepared = prepare("SELECT 1 AS a -- ; DROP TABLE p.t")
    assert prepared.duckdb_sql == "SELECT 1 AS a"


def test_refusal_does_not_name_tables_the_user_did_not_write():
    with pytest.raises(Forbidden) as caught:
        prepare("SELECT * FROM duckdb_views")
    assert caught.value.message == "system table 'duckdb_views' is not accessible"


def test_verify_refuses_tables_that_are_not_views_or_ctes():
    # The last check sees the SQL DuckDB will run; unknown tables would reach DuckDB's
    # catalog or its replacement scans.
    with pytest.raises(Forbidden, match="'secret_df' cannot be read"):
        verify("SELECT * FROM secret_df", tables=["_lh_views_0"])
    verify("WITH c AS (SELECT 1) SELECT * FROM _lh_views_0, c", tables=["_lh_views_0"])
    with pytest.raises(Forbidden):
        verify("SELECT * FROM main._lh_views_0", tables=["_lh_views_0"])


def test_verify_refuses_non_select_statements():
    with pytest.raises(Forbidden):
        verify("PRAGMA version")
    with pytest.raises(Invalid):
        verify("SELECT 1; SELECT 2")


ALLOWED = [
    "SELECT a, row_number() OVER (PARTITION BY b ORDER BY c) AS rn, lag(a) OVER w FROM p.t "
    "WINDOW w AS (ORDER BY c)",
    "SELECT date_trunc('month', d), extract(year FROM d), d + INTERVAL 1 DAY, "
    "strftime(d, '%Y'), now(), current_date, age(d), datediff('day', d, d) FROM p.t",
    "SELECT regexp_matches(s, 'a.*'), regexp_replace(s, 'a', 'b'), s ILIKE '%x%', "
    "s SIMILAR TO 'a.*', lower(s), trim(s), s || 'y', split_part(s, ',', 1) FROM p.t",
    "SELECT CAST(a AS VARCHAR), TRY_CAST(s AS INT), a::DOUBLE, COALESCE(a, 0), NULLIF(a, 0), "
    "CASE WHEN a > 1 THEN 1 ELSE 0 END, greatest(a, 1), round(a, 2), floor(a), a % 2 FROM p.t",
    "SELECT [1, 2, 3][1], list_transform([1, 2], x -> x + 1), {'a': 1}.a, map([1], [2]), "
    "[x * 2 FOR x IN [1, 2]], unnest([1, 2])",
    "SELECT count(*), count(DISTINCT a), sum(a), avg(a), stddev(a), median(a), "
    "quantile_cont(a, 0.5), approx_count_distinct(a), string_agg(s, ','), list(a), "
    "arg_max(a, b), count(*) FILTER (WHERE a > 1), "
    "percentile_cont(0.5) WITHIN GROUP (ORDER BY a) FROM p.t",
    "SELECT * FROM p.t QUALIFY row_number() OVER (PARTITION BY a ORDER BY b) = 1",
    "SELECT a, sum(b) FROM p.t GROUP BY ALL ORDER BY ALL",
    "SELECT * FROM (PIVOT p.t ON a IN ('x', 'y') USING sum(b))",
    "SELECT * FROM range(10) r(x), generate_series(1, 3) g(y), unnest([1, 2]) u(z)",
    "WITH RECURSIVE r(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM r WHERE n < 10) SELECT * FROM r",
    "VALUES (1, 'a'), (2, 'b')",
    "SELECT a FROM p.t UNION SELECT a FROM p.u EXCEPT SELECT a FROM p.v",
    "SELECT * FROM p.t t1 ASOF JOIN p.u t2 ON t1.a = t2.a AND t1.d >= t2.d",
    "SELECT * EXCLUDE (a), COLUMNS('b.*') FROM p.t USING SAMPLE 10%",
    "SELECT json_extract(j, '$.a'), j->>'a', to_json(a) FROM p.t",
    "SELECT md5(s), sha256(s), hash(s), uuid(), random() FROM p.t",
    "SELECT grouping(a), a, sum(b) FROM p.t GROUP BY ROLLUP (a)",
    "FROM p.t SELECT a WHERE a IN (SELECT a FROM p.u) AND EXISTS (SELECT 1)",
]


@pytest.mark.parametrize("sql", ALLOWED)
def test_analyst_queries_are_allowed(sql):
    prepare(sql, default_project="p")
