"""The business metadata of an asset as a listing keeps it and search indexes it."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import object_session

from lakehold.catalog.forms import asset_forms, searchable_fields
from lakehold.catalog.glossaries import business_metadata
from lakehold.catalog.units import unit_path
from lakehold.store.models import Asset, DomainUnit


def snapshot_of(asset: Asset) -> dict[str, Any]:
    """The business metadata of an asset as a listing keeps it (and search indexes it).

    Keys: asset_type, asset_version, project, domain_unit (path), tags, glossary_terms (term
    names), columns (name, data_type, nullable, description, tags, glossary_terms) and forms
    (name, version, values by field, searchable field names).
    """
    session = object_session(asset)
    assert session is not None, "snapshot_of needs an asset attached to a session"
    metadata = business_metadata(session, asset)
    by_column = {c.name: c for c in metadata.columns}
    unit = session.get(DomainUnit, asset.project.domain_unit_id or "")
    return {
        "asset_type": asset.asset_type,
        "asset_version": asset.current_version,
        "project": asset.project.name,
        "domain_unit": unit_path(session, unit) if unit is not None else None,
        "tags": list(asset.tags or []),
        "glossary_terms": metadata.glossary_terms,
        "columns": [
            {
                "name": c.name,
                "data_type": c.data_type,
                "nullable": c.nullable,
                "description": c.description,
                "tags": by_column[c.name].tags if c.name in by_column else [],
                "glossary_terms": by_column[c.name].glossary_terms if c.name in by_column else [],
            }
            for c in asset.columns
        ],
        "forms": [
            {
                "name": form.name,
                "version": value.form_version,
                "values": dict(value.values or {}),
                "searchable": searchable_fields(session, form, value.form_version),
            }
            for form, value in asset_forms(session, asset.id)
        ],
    }
