"""Helpers for sharing tests: users with their own tokens, memberships."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from fastapi.testclient import TestClient

from lakehold.api.app import create_app
from lakehold.runtime import Runtime
from lakehold.security.principal import Principal
from lakehold.store.models import Project, ProjectMember


def new_user(runtime: Runtime, admin: Principal, username: str) -> tuple[Principal, str]:
    """A user and an API token of its own."""
    user = runtime.security.create_user(admin, username)
    token = runtime.security.create_token(admin, "test", username=username)
    assert token.value is not None
    return user, token.value


@contextmanager
def client_for(runtime: Runtime, token: str) -> Iterator[TestClient]:
    with TestClient(create_app(runtime)) as http:
        http.headers["Authorization"] = f"Bearer {token}"
        yield http


def add_member(runtime: Runtime, project: str, user: Principal, role: str) -> None:
    """Make ``user`` a member of ``project`` with ``role`` (directly in the store)."""
    with runtime.store.session() as session:
        found = session.query(Project).filter_by(name=project).one()
        session.add(ProjectMember(project_id=found.id, user_id=user.user_id, role=role))
