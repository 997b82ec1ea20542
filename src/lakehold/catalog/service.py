"""Domains, projects and assets."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from lakehold.catalog.search import index_asset
from lakehold.catalog.units import resolve_unit, root_unit
from lakehold.catalog.views import AssetView, DomainView, ProjectView
from lakehold.errors import Conflict, Invalid, NotFound
from lakehold.kernel import Action, allowed, authorize, governed
from lakehold.names import check_sql_name
from lakehold.security.principal import Principal
from lakehold.store.db import Store
from lakehold.store.models import (
    Asset,
    Domain,
    DomainUnit,
    Project,
    ProjectMember,
    utcnow,
)


def find_project(session: Session, name: str) -> Project:
    """The project called ``name``; NotFound otherwise."""
    project = session.scalar(select(Project).where(Project.name == name))
    if project is None:
        raise NotFound(f"project '{name}' not found")
    return project


def find_asset(session: Session, project: Project, name: str) -> Asset:
    """The asset ``name`` of ``project``; NotFound otherwise."""
    asset = session.scalar(select(Asset).where(Asset.project_id == project.id, Asset.name == name))
    if asset is None:
        raise NotFound(f"table '{project.name}.{name}' not found")
    return asset


def readable_project(session: Session, principal: Principal, name: str) -> Project:
    """A project the principal may see; a hidden project is reported as not found."""
    project = session.scalar(select(Project).where(Project.name == name))
    if project is None or not allowed(principal, Action.PROJECT_READ, project, session=session):
        raise NotFound(f"project '{name}' not found", field="project")
    return project


def _clean_tags(tags: list[str] | None) -> list[str]:
    cleaned = sorted({t.strip() for t in tags or [] if t and t.strip()})
    for tag in cleaned:
        if len(tag) > 100:
            raise Invalid(f"tag '{tag[:20]}...' is longer than 100 characters", field="tags")
    return cleaned


@dataclass(frozen=True)
class AssetRights:
    """What the principal may do with an asset, so an adapter offers only what is allowed."""

    describe: bool
    """Change its description, tags and metadata form values."""
    publish: bool
    """Publish and unpublish it."""
    manage_access: bool
    """See and manage who holds grants on it (owners of its project)."""


class CatalogService:
    """Domains, projects and assets."""

    def __init__(self, store: Store) -> None:
        self.store = store

    def create_domain(
        self, principal: Principal, name: str, description: str | None = None
    ) -> DomainView:
        """Create a domain (administrators)."""
        action = Action.DOMAIN_CREATE
        with governed(self.store, principal, action, details={"domain": name}) as command:
            command.authorize(action)
            if not name or not name.strip() or len(name) > 100:
                raise Invalid("a domain needs a name of 1 to 100 characters", field="name")
            session = command.session
            if session.scalar(select(Domain).where(Domain.name == name)):
                raise Conflict(f"domain '{name}' already exists", field="name")
            domain = Domain(name=name, description=description, created_by=principal.user_id)
            session.add(domain)
            session.flush()
            session.add(DomainUnit(domain_id=domain.id, name=name, created_by=principal.user_id))
            return DomainView.of(domain)

    def list_domains(self, principal: Principal) -> list[DomainView]:
        """Every domain (domain names are not secret)."""
        with self.store.session() as session:
            return [DomainView.of(d) for d in session.scalars(select(Domain).order_by(Domain.name))]

    def create_project(
        self,
        principal: Principal,
        name: str,
        domain: str,
        description: str | None = None,
        domain_unit: str | None = None,
    ) -> ProjectView:
        """Create a project in ``domain``; the creator owns it.

        ``domain_unit`` (an id or a path such as ``Sales/Marketing``) places it below the
        domain's root unit; that needs ownership of the unit or an ancestor. Anyone may create a
        project in the root unit.
        """
        details = {"domain": domain, "domain_unit": domain_unit}
        with governed(
            self.store, principal, Action.PROJECT_CREATE, project=name, details=details
        ) as command:
            check_sql_name("project", name)
            session = command.session
            found = session.scalar(select(Domain).where(Domain.name == domain))
            if found is None:
                raise NotFound(f"domain '{domain}' not found", field="domain")
            if session.scalar(select(Project).where(Project.name == name)):
                raise Conflict(f"project '{name}' already exists", field="name")
            if domain_unit is None:
                unit = root_unit(session, found)
            else:
                unit = resolve_unit(session, domain_unit, domain=found, field="domain_unit")
            command.authorize(Action.PROJECT_CREATE, unit)
            project = Project(
                name=name,
                domain=found,
                domain_unit_id=unit.id,
                description=description,
                owner_id=principal.user_id,
            )
            session.add(project)
            session.flush()
            session.add(
                ProjectMember(project_id=project.id, user_id=principal.user_id, role="owner")
            )
            session.flush()
            session.refresh(project)
            return ProjectView.of(project)

    def list_projects(self, principal: Principal) -> list[ProjectView]:
        """The projects the principal may see."""
        with self.store.session() as session:
            projects = session.scalars(select(Project).order_by(Project.name))
            return [
                ProjectView.of(p)
                for p in projects
                if allowed(principal, Action.PROJECT_READ, p, session=session)
            ]

    def get_project(self, principal: Principal, name: str) -> ProjectView:
        with self.store.session() as session:
            return ProjectView.of(readable_project(session, principal, name))

    def list_assets(self, principal: Principal, project: str) -> list[AssetView]:
        """The assets in a project's inventory."""
        with self.store.session() as session:
            found = readable_project(session, principal, project)
            assets = session.scalars(
                select(Asset).where(Asset.project_id == found.id).order_by(Asset.name)
            )
            return [AssetView.of(a) for a in assets]

    def get_asset(self, principal: Principal, project: str, name: str) -> AssetView:
        with self.store.session() as session:
            return AssetView.of(
                find_asset(session, readable_project(session, principal, project), name)
            )

    def asset_rights(self, principal: Principal, project: str, name: str) -> AssetRights:
        """What the principal may do with an asset of a project it sees; NotFound otherwise."""
        with self.store.session() as session:
            found = readable_project(session, principal, project)
            find_asset(session, found, name)

            def may(action: Action) -> bool:
                return allowed(principal, action, found, session=session)

            return AssetRights(
                describe=may(Action.ASSET_DESCRIBE),
                publish=may(Action.LISTING_PUBLISH),
                manage_access=may(Action.GRANT_REVOKE),
            )

    def update_asset(
        self,
        principal: Principal,
        project: str,
        name: str,
        *,
        description: str | None = None,
        tags: list[str] | None = None,
        column_descriptions: dict[str, str] | None = None,
    ) -> AssetView:
        """Change an asset's description, tags or column descriptions (project owners)."""
        with self.store.session() as session:
            found = readable_project(session, principal, project)
            authorize(principal, Action.ASSET_DESCRIBE, found, session=session)
            asset = find_asset(session, found, name)
            if description is not None:
                asset.description = description
            if tags is not None:
                asset.tags = _clean_tags(tags)
            by_name = {c.name: c for c in asset.columns}
            for column, text in (column_descriptions or {}).items():
                if column not in by_name:
                    raise Invalid(f"column '{column}' not found in {project}.{name}", column=column)
                by_name[column].description = text
            asset.updated_at = utcnow()
            session.flush()
            index_asset(asset)
            return AssetView.of(asset)
