"""Anomaly alerts routed to the project that owns the data (ADR 34).

Per project, from the metadata store: the statement failure rate, the sync lag of each
scheduled job and the ingest volume of sync runs, each against a rolling baseline of the same
measure in the windows before (:mod:`.readings`, :mod:`.signals`). An alert opens when a
signal departs by more than ``sigmas`` standard deviations and beyond absolute floors
(:mod:`.thresholds`), resolves by itself when the signal returns, and each change reaches the
project's webhooks as an ``alert.opened`` / ``alert.resolved`` event (:mod:`.monitor`).
Members read their project's alerts, administrators all (:mod:`.service`).
"""

from lakehold.governance.alerts.service import AlertService
from lakehold.governance.alerts.thresholds import Thresholds
from lakehold.governance.alerts.views import AlertView, EvaluationView

__all__ = ["AlertService", "AlertView", "EvaluationView", "Thresholds"]
