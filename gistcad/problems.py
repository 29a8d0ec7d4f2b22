"""A problem found in input data, located as precisely as the format allows.

Readers (:mod:`gistcad.imaging`) and importers (:mod:`gistcad.ingest`) both report what is
wrong with a file as :class:`Problem`s; it lives below both so that the imaging layer never
imports the importer.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Problem:
    """One thing wrong with the input, located as precisely as the format allows.

    Attributes
    ----------
    source
        The file (or archive member).
    message
        What is wrong and what to do.
    row
        Line of the spreadsheet as a spreadsheet program numbers it (header = 1), if any.
    column
        Column header as written in the file, if any.
    value
        The offending value as written, if any.
    tag
        DICOM keyword and tag, e.g. ``"PixelSpacing (0028,0030)"``, if any.
    """

    source: str
    message: str
    row: int | None = None
    column: str | None = None
    value: str | None = None
    tag: str | None = None

    def __str__(self) -> str:
        where = [self.source]
        if self.row is not None:
            where.append(f"row {self.row}")
        if self.column is not None:
            where.append(f"column {self.column!r}")
        if self.tag is not None:
            where.append(self.tag)
        value = f" (value {self.value!r})" if self.value not in (None, "") else ""
        return f"{', '.join(where)}: {self.message}{value}"
