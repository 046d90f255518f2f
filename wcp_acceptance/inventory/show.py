"""Values in messages are shortened: a 10 MB string or a 5,000-character path is never echoed whole."""

from __future__ import annotations

from typing import Any

SHOWN_CHARS = 80


def shorten(text: str, limit: int = SHOWN_CHARS) -> str:
    """``text`` itself, or its first ``limit`` characters and how long it was; control characters are
    escaped (``\\x1b``), so no value can rewrite the terminal or forge a line of output."""
    if not text.isprintable():
        text = repr(text)[1:-1]
    if len(text) <= limit:
        return text
    return f"{text[:limit]}… ({len(text):,} characters)"


def show(value: Any, limit: int = SHOWN_CHARS) -> str:
    """``repr(value)`` shortened (repr escapes control characters, so no value can rewrite a terminal)."""
    if isinstance(value, dict | list | tuple | set):
        kind = type(value).__name__
        text = repr(value) if len(value) <= 16 else f"<{kind} of {len(value):,} items>"
        return shorten(text, limit)
    return shorten(repr(value), limit)
