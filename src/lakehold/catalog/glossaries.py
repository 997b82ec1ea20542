"""Business glossaries and terms, glossary terms on assets and columns, column tags.

- A glossary belongs to a domain (names unique per domain) and is owned by a domain unit
  (default: the domain's root unit). Creating one needs the ``create_glossary`` capability on
  that unit; creating a term needs ``create_glossary_term`` on the glossary's unit (unit
  owners and administrators always may; see ``governance.unit_policies``).
- Every user reads glossaries and terms.
- Contributors and owners of a project attach terms of their domain's glossaries to its assets
  and columns, and classification tags to its columns. A term is named by id or as
  ``Glossary/Term``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from lakehold.catalog.search.indexer import index_asset
from lakehold.catalog.service import find_asset, readable_project
from lakehold.catalog.units import resolve_unit, root_unit, unit_path
from lakehold.errors import Conflict, Invalid, NotFound
from lakehold.governance import audit, policy, unit_policies
from lakehold.security.principal import Principal
from lakehold.store.db import Store
from lakehold.store.models import (
    Asset,
    AssetColumn,
    ColumnTag,
    Domain,
    DomainUnit,
    Glossary,
    GlossaryTerm,
    TermLink,
    User,
    utcnow,
)

MAX_NAME = 100


@dataclass(frozen=True)
class GlossaryTermView:
    id: str
    glossary: str
    glossary_id: str
    name: str
    description: str | None
    created_at: datetime


@dataclass(frozen=True)
class GlossaryView:
    id: str
    domain: str
    unit: str
    """The owning unit's path."""
    name: str
    description: str | None
    created_by: str
    created_at: datetime
    terms: list[GlossaryTermView] = field(default_factory=list)


@dataclass(frozen=True)
class ColumnMetadataView:
    name: str
    tags: list[str] = field(default_factory=list)
    glossary_terms: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class AssetMetadataView:
    """The business metadata of an asset beyond its description and tags."""

    project: str
    asset: str
    glossary_terms: list[str] = field(default_factory=list)
    columns: list[ColumnMetadataView] = field(default_factory=list)


# -- lookups -----------------------------------------------------------------------------------


def check_name(kind: str, name: Any, field_name: str = "name") -> str:
    if not isinstance(name, str) or not name.strip() or len(name.strip()) > MAX_NAME:
        raise Invalid(f"a {kind} needs a name of 1 to {MAX_NAME} characters", field=field_name)
    if "/" in name:
        raise Invalid(f"{kind} name '{name}' may not contain '/'", field=field_name)
    return name.strip()


def find_domain(session: Session, name: str) -> Domain:
    found = session.scalar(select(Domain).where(Domain.name == name))
    if found is None:
        raise NotFound(f"domain '{name}' not found", field="domain")
    return found


def owning_unit(session: Session, domain: Domain, unit: str | None) -> DomainUnit:
    """The unit named by ``unit`` within ``domain``; its root unit when not given."""
    return (
        root_unit(session, domain)
        if unit is None
        else resolve_unit(session, unit, domain=domain, field="unit")
    )


def find_glossary(
    session: Session, ref: str, *, domain_id: str | None = None, field_name: str = "glossary"
) -> Glossary:
    """A glossary by id, or by name (within ``domain_id`` when given)."""
    found = session.get(Glossary, ref) if isinstance(ref, str) else None
    if found is None and isinstance(ref, str):
        query = select(Glossary).where(Glossary.name == ref)
        if domain_id is not None:
            query = query.where(Glossary.domain_id == domain_id)
        matches = list(session.scalars(query.limit(2)))
        found = matches[0] if len(matches) == 1 else None
    if found is None or (domain_id is not None and found.domain_id != domain_id):
        raise NotFound(f"glossary '{ref}' not found", field=field_name)
    return found


def find_term(session: Session, ref: str, *, domain_id: str, field_name: str) -> GlossaryTerm:
    """A term of the domain's glossaries: by id or as ``Glossary/Term``."""
    found = session.get(GlossaryTerm, ref) if isinstance(ref, str) else None
    if found is None and isinstance(ref, str) and "/" in ref:
        glossary_name, _, term_name = ref.partition("/")
        found = session.scalar(
            select(GlossaryTerm)
            .join(Glossary, Glossary.id == GlossaryTerm.glossary_id)
            .where(
                Glossary.domain_id == domain_id,
                Glossary.name == glossary_name,
                GlossaryTerm.name == term_name,
            )
        )
    if found is not None:
        glossary = session.get(Glossary, found.glossary_id)
        if glossary is None or glossary.domain_id != domain_id:
            found = None
    if found is None:
        raise NotFound(
            f"glossary term '{ref}' not found in the asset's domain (use Glossary/Term or an id)",
            field=field_name,
        )
    return found


def term_label(session: Session, term: GlossaryTerm) -> str:
    glossary = session.get(Glossary, term.glossary_id)
    return f"{glossary.name}/{term.name}" if glossary else term.name


def _term_view(session: Session, term: GlossaryTerm) -> GlossaryTermView:
    glossary = session.get(Glossary, term.glossary_id)
    assert glossary is not None
    return GlossaryTermView(
        term.id, glossary.name, glossary.id, term.name, term.description, term.created_at
    )


def _glossary_view(session: Session, glossary: Glossary) -> GlossaryView:
    domain = session.get(Domain, glossary.domain_id)
    unit = session.get(DomainUnit, glossary.unit_id)
    creator = session.get(User, glossary.created_by)
    terms = session.scalars(
        select(GlossaryTerm)
        .where(GlossaryTerm.glossary_id == glossary.id)
        .order_by(GlossaryTerm.name)
    )
    assert domain is not None and unit is not None
    return GlossaryView(
        id=glossary.id,
        domain=domain.name,
        unit=unit_path(session, unit),
        name=glossary.name,
        description=glossary.description,
        created_by=creator.username if creator else "",
        created_at=glossary.created_at,
        terms=[_term_view(session, t) for t in terms],
    )


def _column(asset: Asset, name: str) -> AssetColumn:
    for column in asset.columns:
        if column.name == name:
            return column
    raise NotFound(
        f"column '{name}' not found in {asset.project.name}.{asset.name}", field="column"
    )


def _terms_of(session: Session, asset_id: str, column_id: str | None) -> list[str]:
    query = (
        select(GlossaryTerm)
        .join(TermLink, TermLink.term_id == GlossaryTerm.id)
        .where(TermLink.asset_id == asset_id)
    )
    query = query.where(
        TermLink.column_id.is_(None) if column_id is None else TermLink.column_id == column_id
    )
    return sorted(term.name for term in session.scalars(query))


def business_metadata(session: Session, asset: Asset) -> AssetMetadataView:
    """Term names on the asset and, per column, its tags and term names."""
    column_ids = [c.id for c in asset.columns]
    tags: dict[str, list[str]] = {i: [] for i in column_ids}
    for column_id, tag in session.execute(
        select(ColumnTag.column_id, ColumnTag.tag).where(ColumnTag.column_id.in_(column_ids))
    ):
        tags[column_id].append(tag)
    terms: dict[str | None, list[str]] = {}
    for column_id, name in session.execute(
        select(TermLink.column_id, GlossaryTerm.name)
        .join(GlossaryTerm, GlossaryTerm.id == TermLink.term_id)
        .where(TermLink.asset_id == asset.id)
    ):
        terms.setdefault(column_id, []).append(name)
    return AssetMetadataView(
        project=asset.project.name,
        asset=asset.name,
        glossary_terms=sorted(terms.get(None, [])),
        columns=[
            ColumnMetadataView(c.name, sorted(tags.get(c.id, [])), sorted(terms.get(c.id, [])))
            for c in asset.columns
        ],
    )


def _clean_tags(tags: list[str] | None) -> list[str]:
    if tags is None or not isinstance(tags, list):
        raise Invalid("tags are a list of strings", field="tags")
    cleaned = sorted({t.strip() for t in tags if isinstance(t, str) and t.strip()})
    for tag in cleaned:
        if len(tag) > MAX_NAME:
            raise Invalid(f"tag '{tag[:20]}...' is longer than {MAX_NAME} characters", field="tags")
    return cleaned


class GlossaryService:
    """Glossaries and terms; terms and tags on assets and columns."""

    def __init__(self, store: Store) -> None:
        self.store = store

    # -- glossaries and terms ------------------------------------------------------------------

    def create_glossary(
        self,
        principal: Principal,
        domain: str,
        name: str,
        *,
        unit: str | None = None,
        description: str | None = None,
    ) -> GlossaryView:
        """Create a glossary in ``domain`` owned by ``unit`` (default: the root unit)."""
        details = {"domain": domain, "glossary": name, "unit": unit}
        with (
            audit.denials(self.store, principal, "glossary.create", details=details),
            self.store.session() as session,
        ):
            found = find_domain(session, domain)
            owner = owning_unit(session, found, unit)
            unit_policies.require(session, principal, owner, "create_glossary")
            name = check_name("glossary", name)
            if session.scalar(
                select(Glossary.id).where(Glossary.domain_id == found.id, Glossary.name == name)
            ):
                raise Conflict(f"glossary '{name}' already exists in '{domain}'", field="name")
            glossary = Glossary(
                domain_id=found.id,
                unit_id=owner.id,
                name=name,
                description=description,
                created_by=principal.user_id,
            )
            session.add(glossary)
            session.flush()
            view = _glossary_view(session, glossary)
            audit.record(
                session,
                principal,
                "glossary.create",
                allowed=True,
                details={**details, "unit": view.unit, "id": view.id},
            )
            return view

    def list_glossaries(self, principal: Principal, domain: str) -> list[GlossaryView]:
        """A domain's glossaries with their terms (any user)."""
        with self.store.session() as session:
            found = find_domain(session, domain)
            rows = session.scalars(
                select(Glossary).where(Glossary.domain_id == found.id).order_by(Glossary.name)
            )
            return [_glossary_view(session, g) for g in rows]

    def get_glossary(self, principal: Principal, glossary: str) -> GlossaryView:
        """One glossary by id (or by a name unique across domains), with its terms."""
        with self.store.session() as session:
            return _glossary_view(session, find_glossary(session, glossary))

    def create_term(
        self,
        principal: Principal,
        glossary: str,
        name: str,
        *,
        description: str | None = None,
    ) -> GlossaryTermView:
        """Add a term to a glossary (``create_glossary_term`` on the glossary's unit)."""
        details = {"glossary": glossary, "term": name}
        with (
            audit.denials(self.store, principal, "glossary_term.create", details=details),
            self.store.session() as session,
        ):
            found = find_glossary(session, glossary)
            unit = session.get(DomainUnit, found.unit_id)
            assert unit is not None
            unit_policies.require(session, principal, unit, "create_glossary_term")
            name = check_name("glossary term", name)
            if session.scalar(
                select(GlossaryTerm.id).where(
                    GlossaryTerm.glossary_id == found.id, GlossaryTerm.name == name
                )
            ):
                raise Conflict(
                    f"term '{name}' already exists in glossary '{found.name}'", field="name"
                )
            term = GlossaryTerm(
                glossary_id=found.id,
                name=name,
                description=description,
                created_by=principal.user_id,
            )
            session.add(term)
            session.flush()
            audit.record(
                session,
                principal,
                "glossary_term.create",
                allowed=True,
                details={"glossary": found.name, "term": name, "id": term.id},
            )
            return _term_view(session, term)

    def list_terms(self, principal: Principal, glossary: str) -> list[GlossaryTermView]:
        with self.store.session() as session:
            return _glossary_view(session, find_glossary(session, glossary)).terms

    # -- on assets and columns -----------------------------------------------------------------

    def _describable(self, session: Session, principal: Principal, project: str, asset: str):
        found = readable_project(session, principal, project)
        policy.require_role(session, principal, found, "contributor", "describe assets")
        return find_asset(session, found, asset)

    def _set_terms(
        self,
        session: Session,
        principal: Principal,
        target: Asset,
        column: AssetColumn | None,
        terms: list[str],
    ) -> list[str]:
        if not isinstance(terms, list):
            raise Invalid("terms are a list of term ids or Glossary/Term names", field="terms")
        wanted: dict[str, GlossaryTerm] = {}
        for i, ref in enumerate(terms):
            term = find_term(
                session, ref, domain_id=target.project.domain_id, field_name=f"terms[{i}]"
            )
            wanted[term.id] = term
        existing = session.scalars(
            select(TermLink).where(
                TermLink.asset_id == target.id,
                TermLink.column_id.is_(None) if column is None else TermLink.column_id == column.id,
            )
        )
        for link in existing:
            if link.term_id in wanted:
                wanted.pop(link.term_id)
            else:
                session.delete(link)
        for term in wanted.values():
            session.add(
                TermLink(
                    term_id=term.id,
                    asset_id=target.id,
                    column_id=column.id if column else None,
                    created_by=principal.user_id,
                )
            )
        target.updated_at = utcnow()
        session.flush()
        return _terms_of(session, target.id, column.id if column else None)

    def set_asset_terms(
        self, principal: Principal, project: str, asset: str, terms: list[str]
    ) -> AssetMetadataView:
        """Replace the glossary terms on an asset (contributors and owners)."""
        name = f"{project}.{asset}"
        with (
            audit.denials(self.store, principal, "asset.terms", project=project, assets=[name]),
            self.store.session() as session,
        ):
            target = self._describable(session, principal, project, asset)
            names = self._set_terms(session, principal, target, None, terms)
            audit.record(
                session,
                principal,
                "asset.terms",
                allowed=True,
                project=project,
                assets=[name],
                details={"terms": names},
            )
            index_asset(target)
            return business_metadata(session, target)

    def set_column_terms(
        self, principal: Principal, project: str, asset: str, column: str, terms: list[str]
    ) -> AssetMetadataView:
        """Replace the glossary terms on a column (contributors and owners)."""
        name = f"{project}.{asset}"
        with (
            audit.denials(self.store, principal, "column.terms", project=project, assets=[name]),
            self.store.session() as session,
        ):
            target = self._describable(session, principal, project, asset)
            found = _column(target, column)
            names = self._set_terms(session, principal, target, found, terms)
            audit.record(
                session,
                principal,
                "column.terms",
                allowed=True,
                project=project,
                assets=[name],
                details={"column": column, "terms": names},
            )
            index_asset(target)
            return business_metadata(session, target)

    def set_column_tags(
        self, principal: Principal, project: str, asset: str, column: str, tags: list[str]
    ) -> AssetMetadataView:
        """Replace the classification tags of a column (contributors and owners)."""
        name = f"{project}.{asset}"
        with (
            audit.denials(self.store, principal, "column.tags", project=project, assets=[name]),
            self.store.session() as session,
        ):
            target = self._describable(session, principal, project, asset)
            found = _column(target, column)
            cleaned = _clean_tags(tags)
            existing = {
                t.tag: t
                for t in session.scalars(select(ColumnTag).where(ColumnTag.column_id == found.id))
            }
            for tag, row in existing.items():
                if tag not in cleaned:
                    session.delete(row)
            for tag in cleaned:
                if tag not in existing:
                    session.add(ColumnTag(column_id=found.id, tag=tag))
            target.updated_at = utcnow()
            session.flush()
            audit.record(
                session,
                principal,
                "column.tags",
                allowed=True,
                project=project,
                assets=[name],
                details={"column": column, "tags": cleaned},
            )
            index_asset(target)
            return business_metadata(session, target)

    def asset_metadata(self, principal: Principal, project: str, asset: str) -> AssetMetadataView:
        """Terms on an asset and tags and terms on its columns (project members)."""
        with self.store.session() as session:
            target = find_asset(session, readable_project(session, principal, project), asset)
            return business_metadata(session, target)
