"""What ``GET /metrics`` answers: every metric in the Prometheus text format, to administrators
and to tokens with the ``metrics`` scope (ADR 33).

The values that are read rather than counted -- the build, the warehouse's disk, the sync lag
-- are set at each scrape, by the process answering it.
"""

from __future__ import annotations

from pathlib import Path

from lakehold import __version__
from lakehold.kernel import Action, authorize
from lakehold.observability import exposition
from lakehold.security.principal import Principal
from lakehold.sources.sync_lag import lag_by_project
from lakehold.store.db import Store
from lakehold.store.models import utcnow


class MetricsService:
    """Scrapes: checked, refreshed, rendered."""

    content_type = exposition.CONTENT_TYPE

    def __init__(self, store: Store, warehouse: Path) -> None:
        self.store = store
        self.warehouse = warehouse

    def scrape(self, principal: Principal) -> bytes:
        """Every metric of every process serving (Forbidden unless the principal may read
        them)."""
        authorize(principal, Action.METRICS_READ)
        with self.store.session() as session:
            lags = lag_by_project(session, utcnow())
        return exposition.scrape(
            version=__version__,
            warehouse=self.warehouse,
            lags=lags.since_success,
            behind_source=lags.behind_watermark,
        )
