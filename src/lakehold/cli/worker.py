"""The application of each worker of ``lakehold serve --workers N``: uvicorn imports this
module in every worker process and calls :func:`create` (an app factory).

A worker builds its own runtime from the settings in the environment, which it inherits from
the parent. What runs once per server -- start-up recovery, the scheduler, the webhook sender
-- runs in the parent (:mod:`lakehold.cli.server`); the workers' metrics meet in
``PROMETHEUS_MULTIPROC_DIR``, which the parent set before starting them (ADR 33).
"""

from __future__ import annotations

from fastapi import FastAPI

from lakehold.api.app import create_app
from lakehold.cli import observe
from lakehold.config import Settings
from lakehold.runtime import Runtime


def create() -> FastAPI:
    """One worker's application."""
    settings = Settings()
    observe.start(settings)  # this process's logs and traces, as the parent's
    return create_app(Runtime(settings), recover=False)
