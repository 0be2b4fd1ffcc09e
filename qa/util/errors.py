"""Errors shown as one line (the CLI prints ``error: ...``; logs keep to a line)."""

from __future__ import annotations


def first_line(exc: BaseException, limit: int | None = 300) -> str:
    """The first line of an exception's message (a library's ``message`` when it has one), cut at
    ``limit`` characters; its type's name when the message is empty."""
    text = str(getattr(exc, "message", "") or exc).strip()
    if not text:
        return type(exc).__name__
    line = text.splitlines()[0]
    return line[:limit] if limit else line
