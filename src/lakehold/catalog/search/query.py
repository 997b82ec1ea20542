"""Search text: user words, never query syntax.

``q`` is a list of terms, all required: bare words (``orders``), quoted phrases
(``"store sales"``) and prefixes (``cust*``). Punctuation separates words; nothing the user
types reaches FTS5 or ``to_tsquery`` as an operator. Malformed text (an unbalanced quote, a
``*`` that does not end a word, nothing to search for) is Invalid naming ``q``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from lakehold.errors import Invalid

MAX_LENGTH = 500
MAX_TERMS = 32
_TOKEN = re.compile(r'"([^"]*)"|([^\s"]+)')
_WORD = re.compile(r"[^\W_]+")  # letters and digits; underscores separate words as in names


@dataclass(frozen=True)
class Term:
    """Words that must appear in this order; the last one as a prefix when ``prefix``."""

    words: tuple[str, ...]
    prefix: bool = False


def parse(q: str) -> list[Term]:
    """The terms of ``q``; empty for blank text (browse)."""
    if len(q) > MAX_LENGTH:
        raise Invalid(f"q is longer than {MAX_LENGTH} characters", field="q")
    if q.count('"') % 2:
        raise Invalid('q has an unbalanced double quote (")', field="q")
    terms: list[Term] = []
    for match in _TOKEN.finditer(q):
        phrase, bare = match.group(1), match.group(2)
        text, prefix = (phrase, False) if phrase is not None else (bare, bare.endswith("*"))
        if phrase is None:
            text = text[:-1] if prefix else text
            if "*" in text or (prefix and not _WORD.search(text[-1:] or "")):
                raise Invalid(
                    f"'*' marks a prefix and must follow a word, as in cust* (in '{bare}')",
                    field="q",
                )
        words = tuple(w.lower() for w in _WORD.findall(text))
        if words:
            terms.append(Term(words, prefix))
    if q.strip() and not terms:
        raise Invalid("q has no words to search for", field="q")
    if len(terms) > MAX_TERMS:
        raise Invalid(f"q has more than {MAX_TERMS} terms", field="q")
    return terms


def words(terms: list[Term]) -> list[Term]:
    """The terms matched against the stemmed index: words and phrases."""
    return [t for t in terms if not t.prefix]


def prefixes(terms: list[Term]) -> list[Term]:
    """The terms matched against the unstemmed index: a prefix is what the user typed, not a
    stem (``pay*`` finds pay and payroll; stemmed, ``pay`` is ``pai`` to SQLite's porter)."""
    return [t for t in terms if t.prefix]


def fts5_query(terms: list[Term]) -> str:
    """An FTS5 MATCH expression: each term a quoted phrase (words are letters and digits)."""
    return " ".join(f'"{" ".join(t.words)}"' + ("*" if t.prefix else "") for t in terms)


def websearch_text(terms: list[Term]) -> str:
    """The terms, quoted, for PostgreSQL's ``websearch_to_tsquery`` (prefixes are not)."""
    return " ".join(f'"{" ".join(t.words)}"' for t in terms)


def prefix_tsquery(terms: list[Term]) -> str:
    """``to_tsquery`` text of prefix terms, all required: ``store <-> sa:* & pay:*``."""
    return " & ".join(" <-> ".join(t.words) + ":*" for t in terms)
