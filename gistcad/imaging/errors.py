"""The exceptions of the imaging layer, all :class:`gistcad.errors.ValidationError`s."""

from __future__ import annotations

from collections.abc import Sequence

from gistcad.errors import ValidationError
from gistcad.problems import Problem


class ImagingError(ValidationError):
    """An image could not be read or breaks a rule; ``problems`` locates each cause."""

    def __init__(self, message: str, problems: Sequence[Problem] = ()) -> None:
        super().__init__(message)
        self.problems = tuple(problems)


class GeometryMismatchError(ImagingError):
    """Two volumes that must share a voxel grid (an image and its mask) do not."""


class ArchiveError(ImagingError):
    """A zip archive is unsafe to extract (path escape, link, too large) or unreadable."""
