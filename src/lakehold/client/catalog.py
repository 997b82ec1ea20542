"""The SDK's catalog endpoints."""

from __future__ import annotations

from lakehold.client import models as m
from lakehold.client.resource import Resource, segment


class Domains(Resource):
    """Domains: the top of the catalog."""

    def create(self, name: str, description: str | None = None) -> m.DomainView:
        """Create a domain (administrators)."""
        body = m.DomainIn(name=name, description=description)
        return self._post("/api/v1/domains", m.DomainView, json=body)

    def list(self) -> list[m.DomainView]:
        return self._get("/api/v1/domains", list[m.DomainView])


class Units(Resource):
    """Units."""


class UnitPolicies(Resource):
    """UnitPolicies."""


class Groups(Resource):
    """Groups."""


class Projects(Resource):
    """Projects: own tables, addressed as project.table."""

    def create(
        self,
        name: str,
        domain: str,
        description: str | None = None,
        *,
        domain_unit: str | None = None,
    ) -> m.ProjectView:
        """Create a project in a domain (and domain unit); you become its owner."""
        body = m.ProjectIn(
            name=name, domain=domain, description=description, domain_unit=domain_unit
        )
        return self._post("/api/v1/projects", m.ProjectView, json=body)

    def list(self) -> list[m.ProjectView]:
        """The projects you may see."""
        return self._get("/api/v1/projects", list[m.ProjectView])

    def get(self, project: str) -> m.ProjectView:
        return self._get(f"/api/v1/projects/{segment(project)}", m.ProjectView)


class Members(Resource):
    """Members."""


class Assets(Resource):
    """Assets."""


class Glossaries(Resource):
    """Glossaries."""


class Forms(Resource):
    """Forms."""


class Search(Resource):
    """Search."""


class Rules(Resource):
    """Metadata rules: what an asset needs before it is published or subscribed to."""
