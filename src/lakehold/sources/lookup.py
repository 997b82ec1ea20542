"""A project's named objects (connections, data sources, sync jobs): one, all, a free name."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from lakehold.errors import Conflict, NotFound
from lakehold.store.models import Project


def find_named(
    session: Session, model: Any, project: Project, name: str, what: str, field: str
) -> Any:
    """The ``model`` row ``name`` of ``project``; NotFound naming ``what`` and ``field``."""
    row = session.scalar(select(model).where(model.project_id == project.id, model.name == name))
    if row is None:
        raise NotFound(f"{what} '{project.name}.{name}' not found", field=field)
    return row


def all_named(session: Session, model: Any, project: Project) -> Sequence[Any]:
    """The ``model`` rows of ``project``, by name."""
    return session.scalars(
        select(model).where(model.project_id == project.id).order_by(model.name)
    ).all()


def check_name_free(session: Session, model: Any, project: Project, name: str, what: str) -> None:
    """Conflict on ``name`` when ``project`` already has a ``model`` row of that name."""
    if session.scalar(select(model.id).where(model.project_id == project.id, model.name == name)):
        raise Conflict(f"{what} '{project.name}.{name}' already exists", field="name")
