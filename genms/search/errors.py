"""Errors the search reports to the user as messages (never as tracebacks)."""

from __future__ import annotations


class SearchInputError(ValueError):
    """A request or setting the search cannot run with (the message says what to change)."""


#: Exceptions that mean "a model or data file is missing or unusable".
LOAD_ERRORS = (FileNotFoundError, OSError, ValueError, KeyError)
