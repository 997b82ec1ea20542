"""Finding domain units: by id or by path ("Sales/Marketing": the root unit, named like the
domain, then each unit below it)."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from lakehold.errors import Invalid, NotFound
from lakehold.governance import policy
from lakehold.store.models import Domain, DomainUnit

SEPARATOR = "/"


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


def unit_path(session: Session, unit: DomainUnit) -> str:
    """``Root/Child/Grandchild``."""
    return SEPARATOR.join(u.name for u in reversed(policy.unit_lineage(session, unit)))


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
