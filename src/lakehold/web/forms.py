"""What a page shows when a service refuses a form: its messages by form field."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from lakehold.errors import LakeholdError


@dataclass(eq=False)
class Refused(Exception):
    """A form the services refused: its messages by form field, shown next to the fields."""

    message: str
    status: int = 400
    errors: dict[str, str] = field(default_factory=dict)

    @classmethod
    def of(cls, error: LakeholdError, fields: Mapping[str, str] | None = None) -> Refused:
        """``error`` with its field (or each of its ``problems``) renamed to a form field by
        ``fields`` (names not in it are kept)."""
        names = fields or {}
        problems = error.details.get("problems") or []
        found = [(p.get("field"), p.get("message")) for p in problems if isinstance(p, dict)]
        if not found and error.details.get("field"):
            found = [(error.details["field"], error.message)]
        errors = {names.get(str(f), str(f)): str(m) for f, m in found if f and m}
        return cls(error.message, error.status_code, errors)
