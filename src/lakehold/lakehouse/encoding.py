"""Decoding of text files, naming the line and column of the first byte that is not UTF-8."""

from __future__ import annotations

from lakehold.errors import Invalid

_BOM = "\ufeff"


def decode_utf8(data: bytes) -> str:
    """The text of ``data`` without a byte-order mark; Invalid locates a bad byte."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise invalid_byte(data, exc.start) from None
    return text[1:] if text.startswith(_BOM) else text


def invalid_byte(data: bytes, position: int) -> Invalid:
    """The error for the byte at 0-based ``position``: 1-based line and character column."""
    line = data.count(b"\n", 0, position) + 1
    line_start = data.rfind(b"\n", 0, position) + 1
    column = len(data[line_start:position].decode("utf-8", errors="replace")) + 1
    return Invalid(
        f"line {line}, column {column}: byte 0x{data[position]:02x} is not valid UTF-8 "
        "(files must be UTF-8 encoded)",
        line=line,
        column=column,
    )


def location(text: str, offset: int) -> tuple[int, int]:
    """1-based (line, column) of the character at 0-based ``offset`` in ``text``."""
    line = text.count("\n", 0, offset) + 1
    return line, offset - (text.rfind("\n", 0, offset) + 1) + 1
