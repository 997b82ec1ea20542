"""What a search document says: the searchable text and facet values of a metadata snapshot.

The snapshot is the listing contract (``Listing.metadata_snapshot``): ``asset_type``, ``tags``,
``glossary_terms``, ``columns[{name, description, tags, glossary_terms}]`` and
``forms[{name, values, searchable}]``; of forms only the ``searchable`` fields' values are
indexed. Every key is optional, and unexpected shapes are skipped rather than refused.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

MAX_VALUE = 255  # a facet value is at most this long


@dataclass(frozen=True)
class DocumentText:
    """The text and facet values of one document."""

    asset_type: str | None = None
    keywords: str = ""
    body: str = ""
    tags: list[str] = field(default_factory=list)
    glossary_terms: list[str] = field(default_factory=list)


def _term_name(term: Any) -> str | None:
    """A glossary term given as a name, or as an object with a name (or term, or path)."""
    if isinstance(term, str):
        return term.strip() or None
    if isinstance(term, dict):
        for key in ("name", "term", "path"):
            value = term.get(key)
            if isinstance(value, str) and value.strip():
                return value.strip()
    return None


def _strings(values: Any) -> list[str]:
    if not isinstance(values, list | tuple):
        return []
    return [v.strip() for v in values if isinstance(v, str) and v.strip()]


def _terms(values: Any) -> list[str]:
    if not isinstance(values, list | tuple):
        return []
    return [name for name in map(_term_name, values) if name]


def _value_text(value: Any) -> Iterable[str]:
    """The words of a form field value: scalars as text, lists and objects flattened."""
    if value is None or isinstance(value, bool):
        return
    if isinstance(value, str | int | float):
        yield str(value)
    elif isinstance(value, list | tuple):
        for item in value:
            yield from _value_text(item)
    elif isinstance(value, dict):
        for item in value.values():
            yield from _value_text(item)


def _unique(values: Iterable[str]) -> list[str]:
    return sorted({v[:MAX_VALUE] for v in values})


def document_text(snapshot: dict[str, Any] | None) -> DocumentText:
    """The searchable text of a snapshot; missing or malformed keys contribute nothing."""
    snapshot = snapshot if isinstance(snapshot, dict) else {}
    tags = _strings(snapshot.get("tags"))
    terms = _terms(snapshot.get("glossary_terms"))
    body: list[str] = []
    columns = snapshot.get("columns")
    for column in columns if isinstance(columns, list) else []:
        if not isinstance(column, dict):
            continue
        body.extend(
            str(column[key]) for key in ("name", "description") if column.get(key) is not None
        )
        tags.extend(_strings(column.get("tags")))
        terms.extend(_terms(column.get("glossary_terms")))
    forms = snapshot.get("forms")
    for form in forms if isinstance(forms, list) else []:
        if not isinstance(form, dict) or not isinstance(form.get("values"), dict):
            continue
        for name in _strings(form.get("searchable")):
            body.extend(_value_text(form["values"].get(name)))
    tags, terms = _unique(tags), _unique(terms)
    asset_type = snapshot.get("asset_type")
    return DocumentText(
        asset_type=str(asset_type) if asset_type else None,
        keywords=" ".join(tags + terms),
        body="\n".join(body),
        tags=tags,
        glossary_terms=terms,
    )
