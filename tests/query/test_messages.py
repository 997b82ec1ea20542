"""Error messages never show generated names, paths or DuckDB's suggestions."""

from __future__ import annotations

import duckdb

from lakehold.errors import Forbidden, Invalid, LakeholdError
from lakehold.query.messages import sanitize, translate

NAMES = {"_lh_0a1b2c3d_0": "retail.customer"}


def test_view_names_become_the_users_names():
    message = 'Catalog Error: Table "memory"."main"."_lh_0a1b2c3d_0" has no column x'
    assert sanitize(message, NAMES) == "Catalog Error: Table retail.customer has no column x"


def test_paths_and_uris_are_removed():
    message = (
        'IO Error: No files found that match "/srv/warehouse/retail/customer/part-0.parquet" '
        "or s3://bucket/key.parquet or file:///srv/x.parquet in /srv/warehouse/retail/"
    )
    cleaned = sanitize(message, NAMES, ["/srv/warehouse/retail/customer/part-0.parquet"])
    assert "/srv" not in cleaned and "s3://" not in cleaned and "file://" not in cleaned


def test_sql_context_and_suggestions_are_removed():
    message = (
        "Catalog Error: Table with name secret does not exist!\n"
        'Did you mean "duckdb_tables"?\n\nLINE 1: SELECT * FROM _lh_0a1b2c3d_0, secret\n'
        "                                        ^"
    )
    assert sanitize(message, NAMES) == "Catalog Error: Table with name secret does not exist!"


def test_words_that_contain_main_are_kept():
    assert sanitize("Binder Error: domain.col is ambiguous", NAMES) == (
        "Binder Error: domain.col is ambiguous"
    )


def test_translation_by_error_kind():
    assert isinstance(translate(duckdb.PermissionException("Permission Error: x"), {}), Forbidden)
    assert isinstance(translate(duckdb.BinderException("Binder Error: x"), {}), Invalid)
    server = translate(duckdb.IOException("IO Error: /a/b.parquet gone"), {})
    assert type(server) is LakeholdError and "/a/b" not in server.message
    streamed = translate(OSError("Conversion Error: Could not convert"), {})
    assert isinstance(streamed, Invalid)
