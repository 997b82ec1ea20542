"""Server paths out of messages: one function for every adapter that shows an error.

Lakehold's home, warehouse, results and temporary directories are replaced by placeholders
(``<warehouse>/p/t``), the longest first, in both their absolute and resolved spellings. The API
error handler applies it to every error it renders, so a message that names a path by mistake
still does not reveal the server's layout (DESIGN: physical locations are shown only to owners
and administrators).
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol


class _Places(Protocol):
    home: Path

    @property
    def warehouse_path(self) -> Path: ...

    @property
    def results_path(self) -> Path: ...


@dataclass(frozen=True)
class Redactor:
    """Replace each of ``places`` (path text -> placeholder) in text, longest path first."""

    places: tuple[tuple[str, str], ...]

    @classmethod
    def of(cls, settings: _Places) -> Redactor:
        """The redactor of a deployment's directories (``Settings``)."""
        named = (
            (settings.warehouse_path, "<warehouse>"),
            (settings.results_path, "<results>"),
            (settings.home, "<home>"),
            (Path(tempfile.gettempdir()), "<temp>"),
        )
        return cls.for_paths(named)

    @classmethod
    def for_paths(cls, named: Iterable[tuple[Path, str]]) -> Redactor:
        places: dict[str, str] = {}
        for path, placeholder in named:
            for spelling in {str(path.absolute()), str(path.resolve())}:
                if len(spelling) > 1:  # never "/"
                    places.setdefault(spelling.rstrip("/"), placeholder)
        ordered = sorted(places.items(), key=lambda item: len(item[0]), reverse=True)
        return cls(tuple(ordered))

    def text(self, value: str) -> str:
        for path, placeholder in self.places:
            if path in value:
                value = value.replace(path, placeholder)
        return value

    def value(self, value: Any) -> Any:
        """``value`` with every string in it (lists and dicts too) redacted."""
        if isinstance(value, str):
            return self.text(value)
        if isinstance(value, list | tuple):
            return [self.value(v) for v in value]
        if isinstance(value, dict):
            return {k: self.value(v) for k, v in value.items()}
        return value
