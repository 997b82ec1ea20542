"""Search matches marked in text, safely: every piece of text is escaped on its own and only
the portal's own ``<mark>`` elements are markup (never the data's HTML)."""

from __future__ import annotations

import re
from collections.abc import Callable

from markupsafe import Markup, escape

from lakehold.catalog.search import query
from lakehold.catalog.search.matching import SNIPPET_CLOSE, SNIPPET_OPEN
from lakehold.errors import Invalid

_WORD = re.compile(r"[^\W_]+")  # the words of the search index (underscores separate words)
_SUFFIXES = ("ing", "ed", "es", "s")
_OPEN, _CLOSE = re.escape(SNIPPET_OPEN), re.escape(SNIPPET_CLOSE)
_SPAN = re.compile(f"{_OPEN}([^{_OPEN}{_CLOSE}]{{1,200}}){_CLOSE}")  # a span the service marked
_STEM_SHARED = 3  # a service-marked span is a match when a word shares this much with a term


class Highlighter:
    """Marks the words of a search text (``q``, as the search service reads it)."""

    def __init__(self, q: str) -> None:
        try:
            terms = query.parse(q)
        except Invalid:  # the service reports a bad q; nothing to mark then
            terms = []
        self.words = {_stem(w) for t in terms for w in (t.words if not t.prefix else t.words[:-1])}
        self.prefixes = tuple(t.words[-1] for t in terms if t.prefix)

    def __bool__(self) -> bool:
        return bool(self.words or self.prefixes)

    def matches(self, word: str) -> bool:
        lowered = word.lower()
        return _stem(lowered) in self.words or lowered.startswith(self.prefixes or ("\0",))

    def mark(self, text: str | None, limit: int | None = None) -> Markup:
        """``text`` escaped (cut at ``limit`` characters), its matching words in ``<mark>``."""
        if not text:
            return Markup("")
        if limit is not None and len(text) > limit:
            text = text[:limit].rstrip() + "…"
        if not self:
            return escape(text)
        return _joined(text, _WORD, lambda found: self.matches(found.group(0)), 0)

    def snippet(self, snippet: str | None) -> Markup:
        """A service snippet (matches between ``SNIPPET_OPEN`` and ``SNIPPET_CLOSE``) escaped,
        its spans in ``<mark>``: only spans that look like a search word, so brackets in the
        data itself stay as typed."""
        if not snippet:
            return Markup("")
        return _joined(snippet, _SPAN, lambda found: self._near(found.group(1)), 1)

    def _near(self, span: str) -> bool:
        """Whether a span marked by the service is a match (stemmed words differ in their ends:
        a shared start is enough)."""
        keys = {w[:_STEM_SHARED] for w in self.words} | {p[:_STEM_SHARED] for p in self.prefixes}
        return any(w.lower()[:_STEM_SHARED] in keys for w in _WORD.findall(span))


def _stem(word: str) -> str:
    """A light English stem, enough to mark ``orders`` for ``order``."""
    for suffix in _SUFFIXES:
        if word.endswith(suffix) and len(word) - len(suffix) >= 3:
            return word[: -len(suffix)]
    return word


def _joined(
    text: str, pattern: re.Pattern[str], marked: Callable[[re.Match[str]], bool], group: int
) -> Markup:
    """``text`` with each ``pattern`` match that ``marked`` accepts as ``<mark>`` of its
    ``group``; every piece is escaped separately."""
    pieces: list[Markup] = []
    at = 0
    for found in pattern.finditer(text):
        if not marked(found):
            continue
        pieces.append(escape(text[at : found.start()]))
        pieces.append(Markup("<mark>{}</mark>").format(found.group(group)))
        at = found.end()
    pieces.append(escape(text[at:]))
    return Markup("").join(pieces)


def plain_snippet(snippet: str | None) -> str:
    """A snippet's text without the service's markers (to compare it with other fields)."""
    return (snippet or "").replace(SNIPPET_OPEN, "").replace(SNIPPET_CLOSE, "")
