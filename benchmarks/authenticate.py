"""The cost of authenticating an API token, on SQLite and PostgreSQL metadata (ADR 0029).

Usage: python benchmarks/authenticate.py [--database sqlite|postgresql|all] [--runs 2000]

Three ways, interleaved in the same rounds, p50 in microseconds:

- ``before``: the authentication this change replaced, reproduced here -- the token looked up
  by the ORM, its user loaded lazily (two queries), no revocation checks;
- ``uncached``: ``SecurityService.authenticate`` with the credential cache off
  (``LAKEHOLD_CREDENTIAL_CACHE_SECONDS=0``): one query (token, user, policy cutoff) and the
  revocation contract;
- ``cached``: the default, a token validated less than 1 s ago answered from memory.

Ratios are printed against ``uncached``, the path every request took before the cache.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

import psycopg
from sqlalchemy import select

from lakehold.config import Settings
from lakehold.errors import Unauthorized
from lakehold.runtime import Runtime
from lakehold.security import tokens
from lakehold.security.principal import Principal
from lakehold.store.db import Store
from lakehold.store.models import ApiToken, as_utc

POSTGRES = "host=127.0.0.1 port=5432 dbname=test user=postgres"


@contextmanager
def database(kind: str, folder: Path) -> Iterator[str]:
    """A fresh metadata database: a SQLite file, or a PostgreSQL schema of its own."""
    if kind == "sqlite":
        yield f"sqlite:///{folder / 'metadata.db'}"
        return
    schema = f"lh_bench_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(POSTGRES, autocommit=True) as conn:
        conn.execute(f"CREATE SCHEMA {schema}")
    try:
        yield (
            f"postgresql+psycopg://postgres@127.0.0.1:5432/test?options=-csearch_path%3D{schema}"
        )
    finally:
        with psycopg.connect(POSTGRES, autocommit=True) as conn:
            conn.execute(f"DROP SCHEMA {schema} CASCADE")


def before(store: Store, value: str) -> Principal:
    """The replaced ``authenticate``: a lookup, then the user loaded lazily."""
    parts = tokens.split(value)
    if parts is None:
        raise Unauthorized("a valid API token is required")
    lookup, secret = parts
    with store.session() as session:
        token = session.scalar(select(ApiToken).where(ApiToken.lookup == lookup))
        now = datetime.now(UTC)
        if (
            token is None
            or not tokens.matches(secret, token.secret_hash)
            or token.revoked_at is not None
            or (token.expires_at is not None and as_utc(token.expires_at) <= now)
        ):
            raise Unauthorized("the API token is not valid")
        user = token.user  # the second query
        return Principal(user_id=user.id, username=user.username, is_admin=user.is_admin)


def p50_us(samples: list[float]) -> float:
    return statistics.median(samples) * 1e6


def measure(kind: str, runs: int) -> dict[str, float]:
    with tempfile.TemporaryDirectory() as tmp, database(kind, Path(tmp)) as url:
        folder = Path(tmp)
        cached = Runtime(Settings(home=folder / "a", database_url=url))
        uncached = Runtime(
            Settings(home=folder / "b", database_url=url, credential_cache_seconds=0)
        )
        try:
            admin, value = cached.security.bootstrap() or (None, "")
            assert admin is not None
            ways: dict[str, Callable[[], object]] = {
                "before": lambda: before(uncached.store, value),
                "uncached": lambda: uncached.security.authenticate(value),
                "cached": lambda: cached.security.authenticate(value),
            }
            for call in ways.values():  # warm up: connections, the last use written
                for _ in range(50):
                    call()
            samples: dict[str, list[float]] = {name: [] for name in ways}
            for _ in range(runs):
                for name, call in ways.items():
                    start = time.perf_counter()
                    call()
                    samples[name].append(time.perf_counter() - start)
            return {name: p50_us(values) for name, values in samples.items()}
        finally:
            cached.close()
            uncached.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database", choices=["sqlite", "postgresql", "all"], default="all")
    parser.add_argument("--runs", type=int, default=2000)
    args = parser.parse_args()
    kinds = ["sqlite", "postgresql"] if args.database == "all" else [args.database]
    print(f"{'database':<11} {'way':<9} {'p50 µs':>9} {'vs uncached':>12}")
    for kind in kinds:
        found = measure(kind, args.runs)
        for name, value in found.items():
            print(f"{kind:<11} {name:<9} {value:>9.1f} {value / found['uncached']:>11.2f}x")


if __name__ == "__main__":
    main()
