"""The exceptions gistcad raises on purpose.

Every message says what was wrong, where, and what to do about it. Pages catch
:class:`GistcadError` and show its message; anything else is a bug and surfaces.
"""


class GistcadError(Exception):
    """Base class of every error gistcad raises deliberately."""


class ConfigError(GistcadError):
    """A setting (environment variable) is missing, malformed or unusable."""


class ValidationError(GistcadError, ValueError):
    """Input data break a documented rule (a value, a unit, a column, a tag)."""


class NotFoundError(GistcadError, LookupError):
    """A requested record (patient, model version, series...) does not exist in scope."""


class AccessDenied(GistcadError, PermissionError):
    """The caller's role or centers do not allow the request."""
