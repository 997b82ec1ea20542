"""Catalog search at scale: p50/p95 per kind of query, as an administrator and as a viewer.

Usage: python benchmarks/search.py [--database sqlite|postgresql|all] [--assets 100000]
       [--repeat 30]

Loading: domains, units, 60 projects, a viewer (member of 3 projects) through the services;
then ``--assets`` assets (realistic names, 4-14 columns with descriptions, tags, glossary terms,
a stewardship form with searchable and private fields), a fifth of them also published. The
assets are bulk-inserted, and their search documents are written by the indexer's own
``write_documents`` -- the writer ``index_asset`` and ``index_listing`` use -- from snapshots of
the listing contract's shape, so the index content is what the service would write (the
``asset_columns``/forms rows behind a snapshot are not stored: search never reads them).

Queries (each through ``SearchService.search``, the method behind ``GET /catalog/search``):
text (one or two words), prefix (``pay*``, ``cust*`` ...), facet-only (a tag, a glossary term,
a unit, no text) and paged (offset 200 of a text query, offset 500 of browsing).
Baseline: the bare full-text count of the same text (the least a search can do), same run.
Before/after: the search service of ``--before`` (default HEAD) runs over the same database,
interleaved query by query with today's. CPU: this process's plus, on PostgreSQL, the server
processes' of its connections (``/proc/<pid>/schedstat``), the cost of a search whatever the
load of the machine. Goal: p95 <= 50 ms for every kind and role, both databases. One verdict
line per goal; the load average before and after.
"""

from __future__ import annotations

import argparse
import random
import statistics
import subprocess
import sys
import tempfile
import time
import types
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg
from sqlalchemy import event, func, insert, literal_column, select, text

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run as a script from anywhere

from lakehold.catalog.search.indexer import Source, write_documents
from lakehold.catalog.search.query import fts5_query, parse, websearch_text, words
from lakehold.catalog.search.service import WINDOW
from lakehold.catalog.search.statistics import refresh_statistics
from lakehold.config import Settings
from lakehold.runtime import Runtime
from lakehold.security.principal import Principal
from lakehold.store.models import Asset, DomainUnit, Project, ProjectMember
from lakehold.store.search import ASSET, LISTING, SearchDocument

POSTGRES = "host=127.0.0.1 port=5432 dbname=test user=postgres"
GOAL_MS = 50.0
DOMAINS = {
    "Sales": ["EMEA", "Americas"],
    "Finance": ["Payments", "Accounting"],
    "Marketing": ["Campaigns", "Web"],
    "Supply": ["Logistics", "Procurement"],
    "People": ["Payroll", "Recruiting"],
    "Product": ["Analytics", "Platform"],
}
ENTITIES = [
    "customer",
    "order",
    "payment",
    "invoice",
    "payroll",
    "shipment",
    "product",
    "inventory",
    "campaign",
    "lead",
    "ledger",
    "account",
    "employee",
    "supplier",
    "refund",
    "subscription",
    "session",
    "click",
    "return",
    "warehouse",
    "store",
    "transaction",
    "budget",
    "forecast",
    "churn",
    "contract",
    "ticket",
    "review",
    "price",
    "promotion",
]
QUALIFIERS = [
    "daily",
    "monthly",
    "raw",
    "clean",
    "summary",
    "snapshot",
    "history",
    "staging",
    "enriched",
    "latest",
]
COLUMNS = {
    "id": "Surrogate key of the row",
    "customer_id": "Customer who placed or owns the record",
    "order_id": "Order the line belongs to",
    "payment_id": "Payment identifier from the payment provider",
    "amount": "Amount in the transaction currency",
    "currency": "ISO 4217 currency code",
    "created_at": "When the record was created",
    "updated_at": "When the record last changed",
    "paid_at": "When the payment settled",
    "email": "Contact email address, personal data",
    "country": "Country of the billing address",
    "status": "Lifecycle status such as open, paid, shipped or cancelled",
    "quantity": "Units ordered",
    "discount": "Discount applied by a promotion",
    "sku": "Stock keeping unit of the product",
    "warehouse_id": "Warehouse that fulfils the shipment",
    "employee_id": "Employee on the payroll",
    "salary": "Gross monthly salary, confidential",
    "channel": "Marketing channel of the campaign",
    "score": "Churn propensity score from the model",
}
TAGS = [
    "pii",
    "gold",
    "silver",
    "bronze",
    "gdpr",
    "certified",
    "deprecated",
    "internal",
    "external",
    "finance",
]
TERMS = [
    "Revenue",
    "Customer",
    "Churn",
    "Payment",
    "Order",
    "Gross Margin",
    "Active User",
    "Net Sales",
]
STEWARDS = ["Payments team", "Data platform", "Growth squad", "Finance ops", "Supply chain"]
QUERIES = {
    "text": ["customer", "payment history", "invoice", "shipment daily", "churn"],
    "prefix": ["pay*", "cust*", "inv*", "ship*", "ware*"],
}
FACETS = [{"tag": "gold"}, {"glossary_term": "Revenue"}, {"domain_unit": "Finance"}]
PAGED = [("order", 200), ("", 500)]


@contextmanager
def database(kind: str) -> Iterator[str]:
    """A fresh metadata database URL."""
    if kind == "sqlite":
        with tempfile.TemporaryDirectory() as tmp:
            yield f"sqlite:///{tmp}/bench.db"
        return
    schema = f"lh_bench_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(POSTGRES, autocommit=True) as conn:
        conn.execute(f"CREATE SCHEMA {schema}")
    try:
        yield f"postgresql+psycopg://postgres@127.0.0.1:5432/test?options=-csearch_path%3D{schema}"
    finally:
        with psycopg.connect(POSTGRES, autocommit=True) as conn:
            conn.execute(f"DROP SCHEMA {schema} CASCADE")


def _snapshot(rng: random.Random, entity: str, asset_type: str) -> dict:
    names = rng.sample(sorted(COLUMNS), rng.randint(4, 14))
    return {
        "asset_type": asset_type,
        "tags": rng.sample(TAGS, rng.randint(1, 3)),
        "glossary_terms": rng.sample(TERMS, rng.randint(0, 2)),
        "columns": [
            {
                "name": name,
                "data_type": "VARCHAR",
                "nullable": True,
                "description": COLUMNS[name],
                "tags": ["pii"] if name in ("email", "salary") else [],
                "glossary_terms": ["Payment"] if name == "payment_id" else [],
            }
            for name in names
        ],
        "forms": [
            {
                "name": "stewardship",
                "version": 1,
                "values": {"steward": rng.choice(STEWARDS), "cost_centre": f"CC-{entity}"},
                "searchable": ["steward"],
            }
        ],
    }


def load(runtime: Runtime, admin: Principal, count: int) -> Principal:
    """The organisation through the services, then ``count`` assets in bulk; the viewer."""
    rng = random.Random(12)
    projects: list[str] = []
    for domain, units in DOMAINS.items():
        runtime.catalog.create_domain(admin, domain)
        for unit in units:
            runtime.organisation.create_unit(admin, domain, unit)
            for i in range(5):
                name = f"{domain}_{unit}_{i}".lower()
                runtime.catalog.create_project(admin, name, domain, domain_unit=f"{domain}/{unit}")
                projects.append(name)
    viewer = runtime.security.create_user(admin, "viewer")
    for name in projects[:3]:
        runtime.organisation.add_member(admin, name, "viewer", user="viewer")
    start = datetime(2026, 1, 1, tzinfo=UTC)
    with runtime.store.session() as session:
        found = {
            p.name: (p, session.get(DomainUnit, p.domain_unit_id))
            for p in session.scalars(select(Project).where(Project.name.in_(projects)))
        }
        paths = {
            unit.id: f"{domain}/{unit.name}"
            for _, unit in found.values()
            for domain in DOMAINS
            if unit is not None and unit.name in DOMAINS[domain]
        }
        sources: list[Source] = []
        assets: list[dict] = []
        for i in range(count):
            project, place = found[projects[i % len(projects)]]
            entity, qualifier = rng.choice(ENTITIES), rng.choice(QUALIFIERS)
            name = f"{entity}_{qualifier}_{i}"
            asset_type = "view" if i % 10 == 0 else "lakehouse_table"
            asset_id, updated = uuid.uuid4().hex, start + timedelta(minutes=i)
            description = f"{qualifier.title()} {entity} records of {project.name}"
            assets.append(
                {
                    "id": asset_id,
                    "project_id": project.id,
                    "name": name,
                    "asset_type": asset_type,
                    "description": description,
                    "tags": [],
                    "storage_path": f"/bench/{asset_id}",
                    "created_by": admin.user_id,
                    "updated_at": updated,
                }
            )
            snapshot = _snapshot(rng, entity, asset_type)
            kinds = [(ASSET, asset_id)] + ([(LISTING, uuid.uuid4().hex)] if i % 5 == 0 else [])
            sources.extend(
                Source(
                    kind=kind,
                    ref_id=ref,
                    asset_id=asset_id,
                    project_id=project.id,
                    project=project.name,
                    asset_name=name,
                    asset_type=asset_type,
                    title=name,
                    description=description,
                    snapshot=snapshot,
                    updated_at=updated,
                    domain_unit_id=place.id if place else None,
                    domain_unit=paths.get(place.id) if place else None,
                )
                for kind, ref in kinds
            )
        for offset in range(0, len(assets), 5000):
            session.execute(insert(Asset), assets[offset : offset + 5000])
        write_documents(session, sources)
        refresh_statistics(session)
    if runtime.store.engine.dialect.name == "postgresql":
        # what autovacuum does within a minute of a bulk insert: hint bits, the visibility map
        with runtime.store.engine.connect() as connection:
            connection = connection.execution_options(isolation_level="AUTOCOMMIT")
            for name in ("search_documents", "search_facets"):
                connection.exec_driver_sql(f"VACUUM ANALYZE {name}")
    return viewer


def _fts_baseline(runtime: Runtime, q: str) -> None:
    """The bare full-text count of ``q`` (no visibility, no ranking, no facets)."""
    terms = parse(q)
    with runtime.store.session() as session:
        if session.get_bind().dialect.name == "sqlite":
            session.scalar(
                text(
                    "SELECT count(*) FROM search_documents_fts WHERE search_documents_fts MATCH :q"
                ),
                {"q": fts5_query(words(terms))},
            )
        else:
            vector: Any = literal_column("search_vector")
            tsquery = func.websearch_to_tsquery(
                literal_column("'english'::regconfig"), websearch_text(words(terms))
            )
            session.scalar(
                select(func.count()).select_from(SearchDocument).where(vector.op("@@")(tsquery))
            )


def baseline_service(runtime: Runtime, ref: str) -> Any:
    """``SearchService`` as of git ``ref`` (its ``visibility``, ``matching`` and ``service``
    modules), over the same database: the "before" of a before/after measured in one run."""
    root = Path(__file__).resolve().parents[1]
    imports = {  # the baseline's modules import each other, not today's
        "from lakehold.catalog.search.visibility import": "from baseline_visibility import",
        "from lakehold.catalog.search import matching, query": (
            "import baseline_matching as matching\nfrom lakehold.catalog.search import query"
        ),
    }

    def module(name: str) -> types.ModuleType:
        path = f"{ref}:src/lakehold/catalog/search/{name}.py"
        source = subprocess.run(
            ["git", "-C", str(root), "show", path], capture_output=True, text=True, check=True
        ).stdout
        for old, new in imports.items():
            source = source.replace(old, new)
        loaded = types.ModuleType(f"baseline_{name}")
        sys.modules[loaded.__name__] = loaded  # dataclasses look their module up
        exec(compile(source, path, "exec"), loaded.__dict__)
        return loaded

    for name in ("visibility", "matching"):
        module(name)
    return module("service").SearchService(runtime.store)


def check(runtime: Runtime, viewer: Principal, cases: dict[str, Any]) -> None:
    """Each of the viewer's searches is capped at the window and holds only what the viewer
    may see: listings, and assets of the viewer's own projects."""
    with runtime.store.session() as session:
        mine = set(
            session.scalars(
                select(Project.name)
                .join(ProjectMember, ProjectMember.project_id == Project.id)
                .where(ProjectMember.user_id == viewer.user_id)
            )
        )
    for name, case in cases.items():
        for i in range(5):
            found = case(runtime.search, viewer, i)
            capped = found.total_exact or found.total == WINDOW
            assert found.total <= WINDOW and capped, (name, i, found.total)
            assert found.facets_exact == found.total_exact, (name, i)
            assert all(h.kind == LISTING or h.project in mine for h in found.items), (name, i)
            counted = sum(c.count for c in found.facets["project"])
            assert counted == found.total or len(found.facets["project"]) == 50, (name, i)


class CpuClock:
    """CPU time of a search: this process's, plus (PostgreSQL on this machine) the server
    processes' of the pooled connections, read from ``/proc/<pid>/schedstat`` -- unlike wall
    time, hardly changed by the load of other work on the machine."""

    def __init__(self, runtime: Runtime) -> None:
        self.backends: set[int] = set()
        if runtime.store.engine.dialect.name == "postgresql":
            event.listen(runtime.store.engine, "checkout", self._backend)

    def _backend(self, dbapi_connection, record, _proxy) -> None:
        if "backend" not in record.info:
            cursor = dbapi_connection.cursor()
            cursor.execute("SELECT pg_backend_pid()")
            record.info["backend"] = cursor.fetchone()[0]
            cursor.close()
        self.backends.add(record.info["backend"])

    def __call__(self) -> float:
        """Seconds of CPU so far."""
        used = time.process_time()
        for pid in self.backends:
            try:
                with open(f"/proc/{pid}/schedstat") as stat:
                    used += int(stat.read().split()[0]) / 1e9
            except (OSError, ValueError, IndexError):  # a server elsewhere: client CPU only
                pass
        return used


def _timed(calls, repeat: int, clock: CpuClock | None = None) -> list[tuple[list, list]]:
    """Each of ``calls`` ``repeat`` times, interleaved; the wall and CPU times of each in ms."""
    times: list[tuple[list, list]] = [([], []) for _ in calls]
    for i in range(repeat):
        for call, (walls, cpus) in zip(calls, times, strict=True):
            used = clock() if clock else 0.0
            began = time.perf_counter()
            call(i)
            walls.append((time.perf_counter() - began) * 1000)
            cpus.append(((clock() if clock else 0.0) - used) * 1000)
    return times


def _p(values: list[float], q: int) -> float:
    return (
        statistics.quantiles(values, n=100, method="inclusive")[q - 1]
        if len(values) > 1
        else values[0]
    )


def run(kind: str, count: int, repeat: int, ref: str) -> list[tuple[str, float]]:
    with tempfile.TemporaryDirectory() as home, database(kind) as url:
        runtime = Runtime(Settings(home=Path(home), database_url=url))
        try:
            created = runtime.security.bootstrap()
            assert created is not None
            admin = runtime.security.authenticate(created[1])
            began = time.perf_counter()
            viewer = load(runtime, admin, count)
            print(f"{kind}: loaded {count} assets in {time.perf_counter() - began:.1f} s")
            services = [runtime.search, baseline_service(runtime, ref)] if ref else [runtime.search]
            clock = CpuClock(runtime)
            cases = {
                "text": lambda s, who, i: s.search(who, QUERIES["text"][i % 5]),
                "prefix": lambda s, who, i: s.search(who, QUERIES["prefix"][i % 5]),
                "facet-only": lambda s, who, i: s.search(who, **FACETS[i % 3]),
                "paged": lambda s, who, i: s.search(who, PAGED[i % 2][0], offset=PAGED[i % 2][1]),
            }
            for service in services:  # warm caches and connections once
                for who in (admin, viewer):
                    for case in cases.values():
                        case(service, who, 0)
            check(runtime, viewer, cases)
            ((base, _),) = _timed(
                [lambda i: _fts_baseline(runtime, QUERIES["text"][i % 5])], repeat
            )
            print(
                f"  baseline (bare full-text count): "
                f"p50 {_p(base, 50):7.1f} ms  p95 {_p(base, 95):7.1f} ms"
            )
            worst: list[tuple[str, float]] = []
            for role, who in (("admin", admin), ("viewer", viewer)):
                for name, case in cases.items():
                    calls = [lambda i, c=case, s=s, w=who: c(s, w, i) for s in services]
                    (times, cpu), *others = _timed(calls, repeat, clock)
                    p50, p95 = _p(times, 50), _p(times, 95)
                    before = (
                        f"  before ({ref}) p95 {_p(others[0][0], 95):7.1f} ms, "
                        f"now {p95 / _p(others[0][0], 95):4.2f}x"
                        if ref
                        else ""
                    )
                    print(
                        f"  {role:6} {name:10} p50 {p50:7.1f} ms  p95 {p95:7.1f} ms  "
                        f"CPU p50 {_p(cpu, 50):6.1f} ms  "
                        f"({p95 / _p(base, 95):5.1f}x baseline p95){before}"
                    )
                    worst.append((f"{kind} {role} {name}", p95))
            return worst
        finally:
            runtime.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database", choices=["sqlite", "postgresql", "all"], default="all")
    parser.add_argument("--assets", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=30)
    parser.add_argument(
        "--before",
        default="HEAD",
        help="git revision whose search service is timed alongside, interleaved ('' for none)",
    )
    args = parser.parse_args()
    kinds = ["sqlite", "postgresql"] if args.database == "all" else [args.database]
    with open("/proc/loadavg") as f:
        print(f"load average before: {f.read().split()[0]}  assets: {args.assets}")
    results = [r for kind in kinds for r in run(kind, args.assets, args.repeat, args.before)]
    with open("/proc/loadavg") as f:
        print(f"load average after: {f.read().split()[0]}")
    for kind in kinds:
        for role in ("admin", "viewer"):
            mine = [(name, p95) for name, p95 in results if name.startswith(f"{kind} {role} ")]
            name, p95 = max(mine, key=lambda r: r[1])
            verdict = "MET" if p95 <= GOAL_MS else "NOT MET"
            print(
                f"verdict: search p95 <= {GOAL_MS:.0f} ms, {kind}, {role}: {verdict} "
                f"(worst {name.split()[-1]} {p95:.1f} ms at {args.assets} assets)"
            )


if __name__ == "__main__":
    main()
