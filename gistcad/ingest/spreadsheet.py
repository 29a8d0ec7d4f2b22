"""Read a clinical spreadsheet (CSV or XLSX) into a table of strings, sniffing its dialect.

Everything comes back as text, exactly as written: interpretation (numbers with decimal
commas, dates, codes) is the validator's job, so that a problem can quote the cell as the
user sees it. CSV files are sniffed for their encoding (UTF-8 with or without BOM, UTF-16 or
UTF-32 with a BOM as Excel's "Unicode text" writes it, else Windows-1252), their delimiter
(``,`` ``;`` tab ``|``) and whether decimals are written with a comma.

The first row is the header. A header written in two columns is refused, naming the columns
by their letters as a spreadsheet program shows them (C, F, AA): which of the two holds the
data cannot be told. A column with no header and no value is dropped (a trailing delimiter).
"""

from __future__ import annotations

import codecs
import csv
import io
import re
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from gistcad.errors import ValidationError

DELIMITERS = ",;\t|"
_DECIMAL_COMMA = re.compile(r"^-?\d+,\d+$")
_DECIMAL_POINT = re.compile(r"^-?\d+\.\d+$")
#: byte-order marks of the encodings read besides UTF-8 and Windows-1252 (UTF-32 first: its
#: little-endian mark begins with UTF-16's)
_BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32"),
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)
_SAVE_AS_UTF8 = "save it as CSV UTF-8 (Excel: File > Save As > 'CSV UTF-8 (Comma delimited)')"


def column_letter(index: int) -> str:
    """The letter(s) a spreadsheet program shows for the column at 0-based ``index``.

    >>> column_letter(0), column_letter(25), column_letter(26), column_letter(701)
    ('A', 'Z', 'AA', 'ZZ')
    """
    letters = ""
    number = index + 1
    while number:
        number, remainder = divmod(number - 1, 26)
        letters = chr(ord("A") + remainder) + letters
    return letters


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
    letters
        Header -> the column's letter in the file (A, B, ..., AA).
    """

    cells: pd.DataFrame
    encoding: str | None
    delimiter: str | None
    decimal: str
    letters: dict[str, str] = field(default_factory=dict)

    def describe(self) -> str:
        if self.delimiter is None:
            return "Excel workbook (first sheet)"
        name = {"\t": "tab"}.get(self.delimiter, repr(self.delimiter))
        return f"{self.encoding} text, delimiter {name}, decimal {self.decimal!r}"

    def letter(self, header: str) -> str:
        """The column letter of ``header`` as the file has it (``"?"`` if not a header)."""
        return self.letters.get(header, "?")


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
    for bom, encoding in _BOMS:
        if raw.startswith(bom):
            try:
                return raw.decode(encoding), encoding
            except UnicodeDecodeError:
                raise ValidationError(
                    f"{path}: the file is {encoding.upper()} text but damaged; {_SAVE_AS_UTF8}"
                ) from None
    if b"\x00" in raw[:4096]:
        raise ValidationError(
            f"{path}: the file is UTF-16 text (Excel's 'Unicode text') without its byte-order "
            f"mark, which cannot be read reliably; {_SAVE_AS_UTF8}"
        )
    for encoding in ("utf-8-sig", "cp1252"):
        try:
            return raw.decode(encoding), "utf-8" if encoding == "utf-8-sig" else encoding
        except UnicodeDecodeError:
            continue
    raise ValidationError(f"{path}: not readable as UTF-8 or Windows-1252 text; {_SAVE_AS_UTF8}")


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
        rows = pd.read_csv(
            io.StringIO(text),
            sep=delimiter,
            header=None,  # the header is read here, so that a repeated one is seen as written
            dtype=str,
            keep_default_na=False,
            skip_blank_lines=False,  # kept, so that row numbers match the file's lines
        )
    except pd.errors.ParserError as exc:
        raise ValidationError(
            f"{path}: not a well-formed table ({exc}); check the quoting"
        ) from None
    cells, letters = _with_header(rows.fillna(""), path)
    return Sheet(cells, encoding, delimiter, _decimal(cells), letters)


def _with_header(rows: pd.DataFrame, path: Path) -> tuple[pd.DataFrame, dict[str, str]]:
    """The rows below the first, under the first row's text as header; and header → letter.

    Raises
    ------
    ValidationError
        When one header is written in more than one column (the message names its letters).
    """
    if rows.empty:
        raise ValidationError(f"{path}: the sheet is empty; the first row must be the header")
    headers = [str(h).strip() for h in rows.iloc[0]]
    cells = rows.iloc[1:].reset_index(drop=True)
    cells.columns = range(len(headers))
    where: dict[str, list[int]] = {}
    for index, header in enumerate(headers):
        if header:
            where.setdefault(header, []).append(index)
    repeated = [
        f"the header {header!r} is in {len(indexes)} columns "
        f"({_listed([column_letter(i) for i in indexes])})"
        for header, indexes in where.items()
        if len(indexes) > 1
    ]
    if repeated:
        raise ValidationError(
            f"{path}: {'; '.join(repeated)}: which one holds the data cannot be told. Delete or "
            "rename the extra column and import again"
        )
    keep = [i for i, h in enumerate(headers) if h or cells[i].str.strip().ne("").any()]
    names = [headers[i] or f"(no header, column {column_letter(i)})" for i in keep]
    cells = cells[keep].set_axis(names, axis=1)
    return cells, {name: column_letter(i) for name, i in zip(names, keep, strict=True)}


def _listed(items: list[str]) -> str:
    """``A``, ``A and B``, ``A, B and C``."""
    return items[0] if len(items) == 1 else f"{', '.join(items[:-1])} and {items[-1]}"


def _decimal(cells: pd.DataFrame) -> str:
    commas = points = 0
    for column in cells.columns:
        values = cells[column].str.strip()
        commas += int(values.str.match(_DECIMAL_COMMA).sum())
        points += int(values.str.match(_DECIMAL_POINT).sum())
    return "," if commas > points else "."


def _read_xlsx(path: Path) -> Sheet:
    try:
        frame = pd.read_excel(path, sheet_name=0, header=None, dtype=object, engine="openpyxl")
    except (ValueError, OSError, KeyError) as exc:
        raise ValidationError(f"{path}: not a readable Excel workbook ({exc})") from None
    cells, letters = _with_header(frame.apply(lambda column: column.map(_xlsx_text)), path)
    return Sheet(cells, None, None, ".", letters)


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
