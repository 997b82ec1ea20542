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

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, TypeVar

from sqlalchemy import Select, delete, select
from sqlalchemy.orm import Session

from lakehold.catalog.search.indexer import index_asset
from lakehold.catalog.service import find_asset, readable_project
from lakehold.catalog.units import resolve_unit, root_unit, unit_path
from lakehold.errors import Conflict, Invalid, NotFound
from lakehold.kernel import Action, Command, capabilities, governed
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
    MetadataForm,
    MetadataFormVersion,
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


Named = TypeVar("Named", Glossary, MetadataForm)


def find_named(
    session: Session,
    model: type[Named],
    ref: Any,
    *,
    kind: str,
    domain_id: str | None = None,
    field_name: str,
) -> Named:
    """A glossary or metadata form by id, or by name (within ``domain_id`` when given; else
    only if the name is unique). NotFound naming ``field_name`` otherwise."""
    found = session.get(model, ref) if isinstance(ref, str) else None
    if found is None and isinstance(ref, str):
        query = select(model).where(model.name == ref)
        if domain_id is not None:
            query = query.where(model.domain_id == domain_id)
        matches = list(session.scalars(query.limit(2)))
        found = matches[0] if len(matches) == 1 else None
    if found is None or (domain_id is not None and found.domain_id != domain_id):
        raise NotFound(f"{kind} '{ref}' not found", field=field_name)
    return found


def find_glossary(
    session: Session, ref: object, *, domain_id: str | None = None, field_name: str = "glossary"
) -> Glossary:
    """A glossary by id, or by name (within ``domain_id`` when given). ``ref`` may come from
    unchecked input (a form definition): anything but a matching string is NotFound."""
    return find_named(
        session, Glossary, ref, kind="glossary", domain_id=domain_id, field_name=field_name
    )


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
    for linked_column_id, name in session.execute(
        select(TermLink.column_id, GlossaryTerm.name)
        .join(GlossaryTerm, GlossaryTerm.id == TermLink.term_id)
        .where(TermLink.asset_id == asset.id)
    ):
        terms.setdefault(linked_column_id, []).append(name)  # None: a term of the whole asset
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


def _glossary_term(session: Session, glossary: Glossary, ref: Any) -> GlossaryTerm:
    """A term of ``glossary``, by id or by name; NotFound naming ``term`` otherwise."""
    found = session.get(GlossaryTerm, ref) if isinstance(ref, str) else None
    if found is None and isinstance(ref, str):
        found = session.scalar(
            select(GlossaryTerm).where(
                GlossaryTerm.glossary_id == glossary.id, GlossaryTerm.name == ref
            )
        )
    if found is None or found.glossary_id != glossary.id:
        raise NotFound(f"term '{ref}' not found in glossary '{glossary.name}'", field="term")
    return found


def _change(
    session: Session,
    row: Glossary | GlossaryTerm,
    kind: str,
    where: str,
    taken: Select,
    *,
    name: str | None,
    description: str | None,
) -> dict[str, Any]:
    """Rename ``row`` and/or change its description (``""`` clears it); Conflict when
    ``taken`` (a select of the ids in ``where`` with a given name) finds another row."""
    changes: dict[str, Any] = {}
    if name is not None:
        name = check_name(kind, name)
        if name != row.name:
            if session.scalar(taken.where(type(row).name == name, type(row).id != row.id)):
                raise Conflict(f"{kind} '{name}' already exists in {where}", field="name")
            changes["name"], row.name = name, name
    if description is not None:
        changes["description"] = row.description = description or None
    return changes


def _linked_assets(session: Session, term_ids: list[str]) -> list[Asset]:
    """The assets a term of ``term_ids`` is attached to (on the asset or a column)."""
    ids = select(TermLink.asset_id).where(TermLink.term_id.in_(term_ids))
    return list(session.scalars(select(Asset).where(Asset.id.in_(ids)).order_by(Asset.id)))


def _reindex(session: Session, assets: list[Asset]) -> list[str]:
    """Reindex ``assets`` (their inventory documents); their ``project.asset`` names."""
    session.flush()
    for asset in assets:
        index_asset(asset)
    return [f"{a.project.name}.{a.name}" for a in assets]


def _drop_terms(session: Session, term_ids: list[str]) -> list[str]:
    """Delete terms with their links to assets and columns, reindexing the assets they were
    on (active listings keep their snapshot); the ``project.asset`` names affected."""
    assets = _linked_assets(session, term_ids)
    session.execute(delete(TermLink).where(TermLink.term_id.in_(term_ids)))
    session.execute(delete(GlossaryTerm).where(GlossaryTerm.id.in_(term_ids)))
    return _reindex(session, assets)


def _forms_using(session: Session, glossary: Glossary) -> list[str]:
    """Names of the metadata forms whose current version has a field of ``glossary``'s terms."""
    rows = session.execute(
        select(MetadataForm.name, MetadataFormVersion.fields)
        .join(MetadataFormVersion, MetadataFormVersion.form_id == MetadataForm.id)
        .where(
            MetadataForm.domain_id == glossary.domain_id,
            MetadataFormVersion.version == MetadataForm.current_version,
        )
    )
    return sorted(
        name
        for name, fields in rows
        if any(f.get("glossary_id") == glossary.id for f in fields or [])
    )


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
        with governed(self.store, principal, "glossary.create", details=details) as command:
            session = command.session
            found = find_domain(session, domain)
            owner = owning_unit(session, found, unit)
            capabilities.require(session, principal, owner, "create_glossary")
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
            command.details.update(unit=view.unit, id=view.id)
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
        with governed(self.store, principal, "glossary_term.create", details=details) as command:
            session = command.session
            found = find_glossary(session, glossary)
            unit = session.get(DomainUnit, found.unit_id)
            assert unit is not None
            capabilities.require(session, principal, unit, "create_glossary_term")
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
            command.details.update(glossary=found.name, term=name, id=term.id)
            return _term_view(session, term)

    def list_terms(self, principal: Principal, glossary: str) -> list[GlossaryTermView]:
        with self.store.session() as session:
            return _glossary_view(session, find_glossary(session, glossary)).terms

    def _editable(
        self,
        session: Session,
        principal: Principal,
        glossary: str,
        capability: capabilities.Capability,
    ) -> Glossary:
        """The glossary, if the principal holds ``capability`` on its unit."""
        found = find_glossary(session, glossary)
        unit = session.get(DomainUnit, found.unit_id)
        assert unit is not None
        capabilities.require(session, principal, unit, capability)
        return found

    def update_glossary(
        self,
        principal: Principal,
        glossary: str,
        *,
        name: str | None = None,
        description: str | None = None,
    ) -> GlossaryView:
        """Rename a glossary or change its description (``create_glossary`` on its unit)."""
        details = {"glossary": glossary}
        with governed(self.store, principal, "glossary.update", details=details) as command:
            session = command.session
            found = self._editable(session, principal, glossary, "create_glossary")
            taken = select(Glossary.id).where(Glossary.domain_id == found.domain_id)
            changes = _change(
                session,
                found,
                "glossary",
                "its domain",
                taken,
                name=name,
                description=description,
            )
            session.flush()
            command.details.update({"id": found.id, **changes})
            return _glossary_view(session, found)

    def delete_glossary(self, principal: Principal, glossary: str, *, force: bool = False) -> None:
        """Delete a glossary (``create_glossary`` on its unit). Conflict while it has terms
        (unless ``force``: they go too, with their links) or a metadata form uses it."""
        details = {"glossary": glossary, "force": force}
        with governed(self.store, principal, "glossary.delete", details=details) as command:
            session = command.session
            found = self._editable(session, principal, glossary, "create_glossary")
            forms = _forms_using(session, found)
            if forms:
                raise Conflict(
                    f"glossary '{found.name}' is used by metadata forms: {', '.join(forms)}",
                    field="glossary",
                    forms=forms,
                )
            term_ids = list(
                session.scalars(select(GlossaryTerm.id).where(GlossaryTerm.glossary_id == found.id))
            )
            if term_ids and not force:
                raise Conflict(
                    f"glossary '{found.name}' has {len(term_ids)} term(s); delete them first "
                    "or force",
                    field="force",
                    terms=len(term_ids),
                )
            assets = _drop_terms(session, term_ids) if term_ids else []
            session.delete(found)
            session.flush()
            command.assets = assets
            command.details.update(id=found.id, name=found.name, terms=len(term_ids))

    def update_term(
        self,
        principal: Principal,
        glossary: str,
        term: str,
        *,
        name: str | None = None,
        description: str | None = None,
    ) -> GlossaryTermView:
        """Rename a term or change its description (``create_glossary_term`` on the glossary's
        unit); the assets it is on are reindexed."""
        details = {"glossary": glossary, "term": term}
        with governed(self.store, principal, "glossary_term.update", details=details) as command:
            session = command.session
            found = self._editable(session, principal, glossary, "create_glossary_term")
            row = _glossary_term(session, found, term)
            taken = select(GlossaryTerm.id).where(GlossaryTerm.glossary_id == found.id)
            where = f"glossary '{found.name}'"
            changes = _change(
                session, row, "glossary term", where, taken, name=name, description=description
            )
            assets = (
                _reindex(session, _linked_assets(session, [row.id])) if "name" in changes else []
            )
            command.assets = assets
            command.details.update({"id": row.id, **changes})
            return _term_view(session, row)

    def delete_term(self, principal: Principal, glossary: str, term: str) -> None:
        """Delete a term and its links to assets and columns (``create_glossary_term`` on the
        glossary's unit); the assets it was on are reindexed, listings keep their snapshot."""
        details = {"glossary": glossary, "term": term}
        with governed(self.store, principal, "glossary_term.delete", details=details) as command:
            session = command.session
            found = self._editable(session, principal, glossary, "create_glossary_term")
            row = _glossary_term(session, found, term)
            label = f"{found.name}/{row.name}"
            command.assets = _drop_terms(session, [row.id])
            command.details.update(id=row.id, name=label)

    # -- on assets and columns -----------------------------------------------------------------

    @staticmethod
    def _describable(command: Command, project: str, asset: str) -> Asset:
        found = readable_project(command.session, command.principal, project)
        command.authorize(Action.ASSET_DESCRIBE, found)
        return find_asset(command.session, found, asset)

    def _describe(
        self,
        principal: Principal,
        project: str,
        asset: str,
        action: str,
        change: Callable[[Session, Asset], dict[str, Any]],
    ) -> AssetMetadataView:
        """Apply ``change`` (which returns the audit details) to an asset the principal may
        describe, audit it, reindex the asset and return its business metadata."""
        name = f"{project}.{asset}"
        with governed(self.store, principal, action, project=project, assets=[name]) as command:
            session = command.session
            target = self._describable(command, project, asset)
            details = change(session, target)
            target.updated_at = utcnow()
            session.flush()
            command.details.update(details)
            index_asset(target)
            return business_metadata(session, target)

    @staticmethod
    def _set_terms(
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
        session.flush()
        return _terms_of(session, target.id, column.id if column else None)

    @staticmethod
    def _set_tags(session: Session, column: AssetColumn, tags: list[str]) -> list[str]:
        cleaned = _clean_tags(tags)
        existing = {
            t.tag: t
            for t in session.scalars(select(ColumnTag).where(ColumnTag.column_id == column.id))
        }
        for tag, row in existing.items():
            if tag not in cleaned:
                session.delete(row)
        for tag in cleaned:
            if tag not in existing:
                session.add(ColumnTag(column_id=column.id, tag=tag))
        return cleaned

    def set_asset_terms(
        self, principal: Principal, project: str, asset: str, terms: list[str]
    ) -> AssetMetadataView:
        """Replace the glossary terms on an asset (contributors and owners)."""

        def change(session: Session, target: Asset) -> dict[str, Any]:
            return {"terms": self._set_terms(session, principal, target, None, terms)}

        return self._describe(principal, project, asset, "asset.terms", change)

    def set_column_terms(
        self, principal: Principal, project: str, asset: str, column: str, terms: list[str]
    ) -> AssetMetadataView:
        """Replace the glossary terms on a column (contributors and owners)."""

        def change(session: Session, target: Asset) -> dict[str, Any]:
            found = _column(target, column)
            return {
                "column": column,
                "terms": self._set_terms(session, principal, target, found, terms),
            }

        return self._describe(principal, project, asset, "column.terms", change)

    def set_column_tags(
        self, principal: Principal, project: str, asset: str, column: str, tags: list[str]
    ) -> AssetMetadataView:
        """Replace the classification tags of a column (contributors and owners)."""

        def change(session: Session, target: Asset) -> dict[str, Any]:
            return {
                "column": column,
                "tags": self._set_tags(session, _column(target, column), tags),
            }

        return self._describe(principal, project, asset, "column.tags", change)

    def asset_metadata(self, principal: Principal, project: str, asset: str) -> AssetMetadataView:
        """Terms on an asset and tags and terms on its columns (project members)."""
        with self.store.session() as session:
            target = find_asset(session, readable_project(session, principal, project), asset)
            return business_metadata(session, target)
