"""What an HTML page references and whether it has inline code (for the CSP tests)."""

from __future__ import annotations

from dataclasses import dataclass, field
from html.parser import HTMLParser


@dataclass
class Markup:
    """The URLs a page loads or links to, and its inline scripts, styles and handlers."""

    urls: list[str] = field(default_factory=list)
    inline: list[str] = field(default_factory=list)


def read(html: str) -> Markup:
    parser = _Parser()
    parser.feed(html)
    parser.close()
    return parser.markup


class _Parser(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.markup = Markup()
        self._in: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = {name: value or "" for name, value in attrs}
        for name in ("src", "href", "action", "spec-url", "data-openapi-url"):
            if name in values:
                self.markup.urls.append(values[name])
        if "style" in values:
            self.markup.inline.append(f"style attribute on <{tag}>")
        self.markup.inline += [f"{name} handler on <{tag}>" for name in values if name[:2] == "on"]
        if tag == "style":
            self.markup.inline.append("<style> element")
        self._in = tag if tag == "script" else None

    def handle_data(self, data: str) -> None:
        if self._in == "script" and data.strip():
            self.markup.inline.append("inline <script>")

    def handle_endtag(self, tag: str) -> None:
        self._in = None
