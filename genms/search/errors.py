"""Errors the search reports to the user as messages (never as tracebacks)."""

from __future__ import annotations


class SearchInputError(ValueError):
    """A request or setting the search cannot run with (the message says what to change)."""
