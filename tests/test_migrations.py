"""The migrations form one line of history: a single head, reached on SQLite and PostgreSQL."""

from __future__ import annotations

from alembic.config import Config
from alembic.script import ScriptDirectory
from sqlalchemy import text

from lakehold.store.db import MIGRATIONS


def _heads() -> list[str]:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    return ScriptDirectory.from_config(config).get_heads()


def test_one_head() -> None:
    """Parallel branches (0003_*, 0005_*) always end in a merge revision."""
    assert len(_heads()) == 1


def test_store_is_at_head(runtime) -> None:
    with runtime.store.engine.connect() as connection:
        versions = connection.execute(text("SELECT version_num FROM alembic_version")).scalars()
        assert list(versions) == _heads()
