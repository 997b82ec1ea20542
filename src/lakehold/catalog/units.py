"""Finding domain units: by id or by path ("Sales/Marketing": the root unit, named like the
domain, then each unit below it); what a unit holds; keeping search paths after a rename."""

from __future__ import annotations

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from lakehold.errors import Invalid, NotFound
from lakehold.kernel.roles import SEPARATOR, unit_path

__all__ = [
    "SEPARATOR",
    "contents",
    "reindex_paths",
    "resolve_unit",
    "root_unit",
    "subtree",
    "unit_path",
]
from lakehold.store.models import Asset, Domain, DomainUnit, Glossary, MetadataForm, Project
from lakehold.store.search import SearchDocument


def root_unit(session: Session, domain: Domain) -> DomainUnit:
    """The root unit of ``domain`` (created with the domain)."""
    root = session.scalar(
        select(DomainUnit).where(DomainUnit.domain_id == domain.id, DomainUnit.parent_id.is_(None))
    )
    if root is None:  # a domain created before domain units existed
        root = DomainUnit(domain_id=domain.id, name=domain.name, created_by=domain.created_by)
        session.add(root)
        session.flush()
    return root


def _walk(session: Session, start: DomainUnit, names: list[str]) -> DomainUnit | None:
    current = start
    for name in names:
        found = session.scalar(
            select(DomainUnit).where(DomainUnit.parent_id == current.id, DomainUnit.name == name)
        )
        if found is None:
            return None
        current = found
    return current


def _segments(rest: str) -> list[str]:
    return [s for s in rest.split(SEPARATOR) if s] if rest else []


def resolve_unit(
    session: Session, ref: str, *, domain: Domain | None = None, field: str = "domain_unit"
) -> DomainUnit:
    """The unit ``ref`` names: an id, a full path, or (within ``domain``) a path below its root.

    NotFound naming ``field`` otherwise.
    """
    if not isinstance(ref, str) or not ref.strip():
        raise Invalid("a domain unit id or path is required", field=field)
    ref = ref.strip().strip(SEPARATOR)
    by_id = session.get(DomainUnit, ref)
    if by_id is not None and (domain is None or by_id.domain_id == domain.id):
        return by_id
    if domain is not None:
        candidates = [domain]
    else:
        first = ref.split(SEPARATOR, 1)[0]
        candidates = [
            d
            for d in session.scalars(select(Domain).where(Domain.name.startswith(first)))
            if ref == d.name or ref.startswith(d.name + SEPARATOR)
        ]
        candidates.sort(key=lambda d: len(d.name), reverse=True)
    for candidate in candidates:
        root = root_unit(session, candidate)
        found = None
        if ref == candidate.name:
            found = root
        elif ref.startswith(candidate.name + SEPARATOR):
            found = _walk(session, root, _segments(ref[len(candidate.name) + 1 :]))
        if found is None and domain is not None:
            found = _walk(session, root, _segments(ref))
        if found is not None:
            return found
    raise NotFound(f"domain unit '{ref}' not found", field=field)


def subtree(session: Session, unit: DomainUnit) -> list[DomainUnit]:
    """``unit`` and every unit below it, parents before children."""
    found, frontier = [unit], [unit.id]
    while frontier:
        below = list(session.scalars(select(DomainUnit).where(DomainUnit.parent_id.in_(frontier))))
        found.extend(below)
        frontier = [u.id for u in below]
    return found


def contents(session: Session, unit: DomainUnit) -> dict[str, list[str]]:
    """What lives directly in ``unit`` and keeps it from being deleted, by kind (names)."""
    kinds = {
        "domain units": (DomainUnit.name, DomainUnit.parent_id),
        "projects": (Project.name, Project.domain_unit_id),
        "glossaries": (Glossary.name, Glossary.unit_id),
        "metadata forms": (MetadataForm.name, MetadataForm.unit_id),
    }
    found = {
        kind: sorted(session.scalars(select(name).where(column == unit.id)))
        for kind, (name, column) in kinds.items()
    }
    return {kind: names for kind, names in found.items() if names}


def reindex_paths(session: Session, unit: DomainUnit) -> None:
    """After a rename: the unit paths of search documents and inventory documents of the assets
    in ``unit`` and below (listing documents keep their snapshot text, with the new path)."""
    # Imported here: the indexer imports this module.
    from lakehold.catalog.search.indexer import index_asset

    session.flush()
    for below in subtree(session, unit):
        session.execute(
            update(SearchDocument)
            .where(SearchDocument.domain_unit_id == below.id)
            .values(domain_unit=unit_path(session, below))
            .execution_options(synchronize_session=False)
        )
        assets = select(Asset).join(Project, Project.id == Asset.project_id)
        for asset in session.scalars(assets.where(Project.domain_unit_id == below.id)):
            index_asset(asset)
