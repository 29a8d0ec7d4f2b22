"""Read a clinical spreadsheet (CSV or XLSX) into a table of strings, sniffing its dialect.

Everything comes back as text, exactly as written: interpretation (numbers with decimal
commas, dates, codes) is the validator's job, so that a problem can quote the cell as the
user sees it. CSV files are sniffed for their encoding (UTF-8 with or without BOM, else
Windows-1252), their delimiter (``,`` ``;`` tab ``|``) and whether decimals are written with a
comma.
"""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from gistcad.errors import ValidationError

DELIMITERS = ",;\t|"
_DECIMAL_COMMA = re.compile(r"^-?\d+,\d+$")
_DECIMAL_POINT = re.compile(r"^-?\d+\.\d+$")


@dataclass(frozen=True)
class Sheet:
    """A spreadsheet as text.

    Attributes
    ----------
    cells
        One row per data line, one column per header, all values ``str`` ("" when empty).
        Blank lines are kept as rows of empty strings, so that row ``i`` is line ``i + 2``
        of the file as a spreadsheet program numbers it.
    encoding, delimiter
        What was detected (``None`` for XLSX).
    decimal
        ``","`` when numbers are written with decimal commas, else ``"."``.
    """

    cells: pd.DataFrame
    encoding: str | None
    delimiter: str | None
    decimal: str

    def describe(self) -> str:
        if self.delimiter is None:
            return "Excel workbook (first sheet)"
        name = {"\t": "tab"}.get(self.delimiter, repr(self.delimiter))
        return f"{self.encoding} text, delimiter {name}, decimal {self.decimal!r}"


def read_sheet(path: Path) -> Sheet:
    """Read ``path`` (``.csv``, ``.tsv``, ``.txt`` or ``.xlsx``)."""
    suffix = path.suffix.lower()
    if not path.is_file():
        raise ValidationError(f"{path}: no such file")
    if suffix == ".xlsx":
        return _read_xlsx(path)
    if suffix in (".csv", ".tsv", ".txt"):
        return _read_text(path)
    raise ValidationError(
        f"{path}: unsupported spreadsheet type {suffix!r}; save it as .csv or .xlsx"
    )


def _decode(raw: bytes, path: Path) -> tuple[str, str]:
    for encoding in ("utf-8-sig", "cp1252"):
        try:
            return raw.decode(encoding), "utf-8" if encoding == "utf-8-sig" else encoding
        except UnicodeDecodeError:
            continue
    raise ValidationError(f"{path}: not readable as UTF-8 or Windows-1252 text; re-save as UTF-8")


def _sniff_delimiter(text: str, path: Path) -> str:
    sample = "\n".join(text.splitlines()[:20])
    try:
        return csv.Sniffer().sniff(sample, delimiters=DELIMITERS).delimiter
    except csv.Error:
        header = text.splitlines()[0] if text else ""
        counts = {d: header.count(d) for d in DELIMITERS}
        best = max(counts, key=lambda d: counts[d])
        if counts[best] == 0:
            raise ValidationError(
                f"{path}: cannot tell how columns are separated (no , ; tab or | in the header); "
                "save it as a CSV with a header row"
            ) from None
        return best


def _read_text(path: Path) -> Sheet:
    text, encoding = _decode(path.read_bytes(), path)
    if not text.strip():
        raise ValidationError(f"{path}: the file is empty")
    delimiter = _sniff_delimiter(text, path)
    try:
        cells = pd.read_csv(
            io.StringIO(text),
            sep=delimiter,
            dtype=str,
            keep_default_na=False,
            skip_blank_lines=False,  # kept, so that row numbers match the file's lines
        )
    except pd.errors.ParserError as exc:
        raise ValidationError(
            f"{path}: not a well-formed table ({exc}); check the quoting"
        ) from None
    cells.columns = [str(c).strip() for c in cells.columns]
    return Sheet(cells=cells, encoding=encoding, delimiter=delimiter, decimal=_decimal(cells))


def _decimal(cells: pd.DataFrame) -> str:
    commas = points = 0
    for column in cells.columns:
        values = cells[column].str.strip()
        commas += int(values.str.match(_DECIMAL_COMMA).sum())
        points += int(values.str.match(_DECIMAL_POINT).sum())
    return "," if commas > points else "."


def _read_xlsx(path: Path) -> Sheet:
    try:
        frame = pd.read_excel(path, sheet_name=0, dtype=object, engine="openpyxl")
    except (ValueError, OSError, KeyError) as exc:
        raise ValidationError(f"{path}: not a readable Excel workbook ({exc})") from None
    frame.columns = [str(c).strip() for c in frame.columns]
    cells = frame.apply(lambda column: column.map(_xlsx_text))
    return Sheet(cells=cells, encoding=None, delimiter=None, decimal=".")


def _xlsx_text(value: object) -> str:
    if value is None or (isinstance(value, float) and pd.isna(value)):
        return ""
    if isinstance(value, pd.Timestamp):
        return value.date().isoformat()
    if hasattr(value, "isoformat"):
        return str(value.isoformat())[:10]
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)
