"""The SDK's service principals of a project and their client secrets (ADR 32). To act as
one, pass its credentials to the client: ``Client(url, client_id=..., client_secret=...)``."""

from __future__ import annotations

from typing import Literal

from lakehold.client import models as m
from lakehold.client.resource import Resource, segment

Role = Literal["owner", "contributor", "viewer"]


class ServicePrincipals(Resource):
    """A project's service principals: created, rotated, revoked and deleted by its owners,
    listed by its members. Secrets are returned once, when made."""

    @staticmethod
    def _path(project: str, name: str | None = None) -> str:
        path = f"/api/v1/projects/{segment(project)}/service-principals"
        return path if name is None else f"{path}/{segment(name)}"

    def create(
        self, project: str, name: str, *, role: Role = "viewer"
    ) -> m.ServicePrincipalCreatedOut:
        """A new service principal with ``role`` and its first client secret (shown once)."""
        body = m.ServicePrincipalIn(name=name, role=role)
        return self._post(self._path(project), m.ServicePrincipalCreatedOut, json=body)

    def get(self, project: str, name: str) -> m.ServicePrincipalOut:
        """One service principal."""
        return self._get(self._path(project, name), m.ServicePrincipalOut)

    def delete(self, project: str, name: str) -> None:
        """Delete it: its secrets and every token it holds stop working at once."""
        self._delete(self._path(project, name))

    def rotate(
        self, project: str, name: str, *, overlap_seconds: int | None = None
    ) -> m.IssuedSecretOut:
        """A new secret (shown once); the older ones keep working for ``overlap_seconds``
        (the server's default: 24 h), then stop."""
        body = m.RotateIn(overlap_seconds=overlap_seconds)
        return self._post(f"{self._path(project, name)}/secrets", m.IssuedSecretOut, json=body)

    def secrets(self, project: str, name: str) -> list[m.SecretOut]:
        """Its secrets, oldest first, without their values."""
        return self._get(f"{self._path(project, name)}/secrets", list[m.SecretOut])

    def revoke_secret(self, project: str, name: str, secret_id: str) -> None:
        """Revoke one secret at once, and the tokens issued for it."""
        self._delete(f"{self._path(project, name)}/secrets/{segment(secret_id)}")

    def list(self, project: str) -> list[m.ServicePrincipalOut]:
        """The project's service principals, without secrets."""
        return self._get(self._path(project), list[m.ServicePrincipalOut])
