"""The migrations form one line of history: a single head, reached on SQLite and PostgreSQL."""

from __future__ import annotations

from alembic import command
from alembic.config import Config
from alembic.script import ScriptDirectory
from sqlalchemy import text

from lakehold.store.db import MIGRATIONS, Store, applied_revisions, make_engine, script_heads


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


def test_script_heads_are_alembics() -> None:
    """A store at these heads is opened without Alembic: they must be Alembic's own."""
    assert script_heads() == frozenset(_heads())


def test_a_store_behind_the_heads_is_migrated(tmp_path) -> None:
    url = f"sqlite:///{tmp_path / 'metadata.db'}"
    engine = make_engine(url)
    assert applied_revisions(engine) is None
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, "0012")  # a store an older Lakehold left
    assert applied_revisions(engine) == {"0012"}
    Store(url).close()
    assert applied_revisions(engine) == frozenset(_heads())
    engine.dispose()
