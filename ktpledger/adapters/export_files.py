"""A finance office's spend export read off bytes: a CSV (any of , ; TAB |, in UTF-8 with or without
a byte order mark, Windows-1252, or UTF-16 with a byte order mark as Excel's "Unicode text") or an
XLSX workbook (one sheet, read in openpyxl's read-only mode), as a header and numbered rows of
text cells. What the cells mean is the import profile's business (`domain/import_profile.py`).

Rows are numbered as the user sees them: a CSV record by the line it starts on, an XLSX row by its
row number. A formula cell is never evaluated nor trusted (a workbook saved by another program may
hold no cached value): the row is marked with the cell (`D7`) and the import rejects it.
"""

from __future__ import annotations

import csv
import io
import zipfile
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time
from decimal import Decimal

ZIP_MAGIC = b"PK\x03\x04"
CANDIDATE_DELIMITERS = (",", ";", "\t", "|")
SAMPLE_LINES = 60  # lines read to sniff a delimiter and look for the header
HEADER_SEARCH_ROWS = 60  # rows above the header an export may have (titles, blank rows)
CP1252_UNDEFINED = b"\x81\x8d\x8f\x90\x9d"


class ExportUnreadable(Exception):
    """The export cannot be read as a table (encoding, format, sheet, header): `field` names the
    profile field or option to look at."""

    def __init__(self, message: str, field: str = "file") -> None:
        super().__init__(message)
        self.message = message
        self.field = field


@dataclass(frozen=True)
class ExportRow:
    number: int  # the CSV line the record starts on, or the XLSX row number
    cells: tuple[str, ...]
    formula: str | None = None  # the first formula cell's reference (XLSX), e.g. "D7"


@dataclass(frozen=True)
class ExportTable:
    kind: str  # "csv" or "xlsx"
    header: tuple[str, ...]
    header_number: int
    rows: list[ExportRow]
    delimiter: str | None = None
    encoding: str | None = None
    sheet: str | None = None
    sheets: tuple[str, ...] = field(default=())


def is_workbook(data: bytes) -> bool:
    return data.startswith(ZIP_MAGIC)


def read_export(
    data: bytes,
    *,
    wanted: Sequence[str] = (),
    encoding: str = "auto",
    delimiter: str | None = None,
    sheet: str | None = None,
    header_row: int | None = None,
    header_guess: Sequence[Sequence[str]] = (),
) -> ExportTable:
    """The table in `data`. The header is row `header_row` if given, else the first row holding
    every column in `wanted` (names compared without case or surrounding space), else the first
    row holding one name of each group of `header_guess` (for `--init`), else the first row of text
    cells as wide as the table."""
    if not data.strip():
        raise ExportUnreadable("the export is empty")
    if is_workbook(data):
        return _read_workbook(data, wanted, sheet, header_row, header_guess)
    text, used = decode_text(data, encoding)
    return _read_csv(text, used, wanted, delimiter, header_row, header_guess)


# --- text ----------------------------------------------------------------------------------------


def decode_text(data: bytes, encoding: str) -> tuple[str, str]:
    """`data` as text, and the encoding used. A byte order mark decides (UTF-8, UTF-16) whatever
    `encoding` says, as it is unambiguous; `auto` tries UTF-8 and then Windows-1252."""
    if data.startswith(b"\xef\xbb\xbf"):
        return _decode(data[3:], "utf-8"), "utf-8 (with BOM)"
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        return _decode(data, "utf-16"), "utf-16"
    if encoding == "utf-8":
        return _decode(data, "utf-8"), "utf-8"
    if encoding == "cp1252":
        return _decode(data, "cp1252"), "cp1252"
    try:
        return data.decode("utf-8"), "utf-8"
    except UnicodeDecodeError:
        pass
    return _decode(data, "cp1252"), "cp1252"


def _decode(data: bytes, encoding: str) -> str:
    try:
        return data.decode(encoding)
    except UnicodeDecodeError as error:
        line = data.count(b"\n", 0, error.start) + 1
        column = error.start - (data.rfind(b"\n", 0, error.start) + 1) + 1
        byte = data[error.start : error.start + 1].hex().upper()
        hint = {
            "utf-8": 'set encoding = "cp1252" (Windows) or "auto" in the profile\'s [file]',
            "cp1252": 'set encoding = "utf-8" or "auto" in the profile\'s [file]',
        }.get(encoding, "save it again as UTF-8")
        raise ExportUnreadable(
            f"the export is not {encoding}: line {line}, byte {column} is 0x{byte}; {hint}",
            field="file.encoding",
        ) from None


def _records(text: str, delimiter: str, limit: int | None = None) -> list[tuple[int, list[str]]]:
    """CSV records of `text`, each with the line it starts on."""
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, strict=False)
    found: list[tuple[int, list[str]]] = []
    start = 1
    try:
        for record in reader:
            found.append((start, record))
            start = reader.line_num + 1
            if limit is not None and len(found) >= limit:
                break
    except csv.Error as error:
        raise ExportUnreadable(f"the CSV cannot be read at line {reader.line_num}: {error}") from None
    return found


def _head(text: str, lines: int) -> str:
    """The first `lines` lines of `text`, without splitting all of it."""
    end = -1
    for _ in range(lines):
        end = text.find("\n", end + 1)
        if end < 0:
            return text
    return text[:end]


def _normal(name: str) -> str:
    return " ".join(name.split()).casefold()


def _holds(cells: Iterable[str], wanted: Sequence[str]) -> bool:
    have = {_normal(cell) for cell in cells}
    return all(_normal(name) in have for name in wanted)


def _guessed(cells: Sequence[str], groups: Sequence[Sequence[str]]) -> bool:
    have = {_normal(cell).replace(" ", "").replace("_", "").replace(".", "") for cell in cells}
    return bool(groups) and all(any(name in have for name in group) for group in groups)


def _sniff(text: str) -> str:
    """The delimiter that splits the first lines into the most rows of one width above 1."""
    sample = _head(text, SAMPLE_LINES)
    best, best_score = ",", (0, 0)
    for candidate in CANDIDATE_DELIMITERS:
        widths = Counter(len(record) for _, record in _records(sample, candidate) if len(record) > 1)
        if widths:
            width, count = widths.most_common(1)[0]
            if (count, width) > best_score:
                best, best_score = candidate, (count, width)
    return best


def _read_csv(
    text: str,
    encoding: str,
    wanted: Sequence[str],
    delimiter: str | None,
    header_row: int | None,
    guess: Sequence[Sequence[str]],
) -> ExportTable:
    if not text.strip():
        raise ExportUnreadable("the export is empty")
    candidates = [delimiter] if delimiter else [_sniff(text), *CANDIDATE_DELIMITERS]
    chosen, header_at = candidates[0], None
    if wanted and header_row is None:
        for candidate in dict.fromkeys(candidates):
            sample = _records(_head(text, HEADER_SEARCH_ROWS), candidate)
            at = next((i for i, (_, cells) in enumerate(sample) if _holds(cells, wanted)), None)
            if at is not None:
                chosen, header_at = candidate, at
                break
    records = _records(text, chosen)
    header_index = _header_index(
        [cells for _, cells in records],
        [number for number, _ in records],
        wanted,
        header_row,
        guess,
        header_at,
    )
    header = tuple(cell.strip() for cell in records[header_index][1])
    rows = [ExportRow(number, tuple(cells)) for number, cells in records[header_index + 1 :]]
    return ExportTable("csv", header, records[header_index][0], rows, delimiter=chosen, encoding=encoding)


def _header_index(
    rows: Sequence[Sequence[str]],
    numbers: Sequence[int],
    wanted: Sequence[str],
    header_row: int | None,
    guess: Sequence[Sequence[str]],
    found: int | None = None,
) -> int:
    """Which of `rows` is the header (an index), or `ExportUnreadable` naming what is missing."""
    if not any(any(cell.strip() for cell in row) for row in rows):
        raise ExportUnreadable("the export has no rows")
    if found is not None:
        return found
    if header_row is not None:
        for index, number in enumerate(numbers):
            if number == header_row:
                # A file of rejected rows (`--errors`) has its header first, whatever the original's.
                if wanted and not _holds(rows[index], wanted) and rows and "ktpledger_row" in rows[0]:
                    return 0
                return index
        raise ExportUnreadable(
            f"header_row {header_row} is past the end of the export ({len(rows)} rows)",
            field="file.header_row",
        )
    searched = rows[:HEADER_SEARCH_ROWS]
    if wanted:
        for index, row in enumerate(searched):
            if _holds(row, wanted):
                return index
        return _first_text_row(searched)  # the caller names the columns missing from it
    if guess:
        for index, row in enumerate(searched):
            if _guessed(row, guess):
                return index
    return _first_text_row(searched)


def _first_text_row(rows: Sequence[Sequence[str]]) -> int:
    """The first row as wide as the widest of `rows` (titles above a header are narrower)."""
    width = max(sum(1 for cell in row if cell.strip()) for row in rows)
    return next(index for index, row in enumerate(rows) if sum(1 for cell in row if cell.strip()) == width)


# --- workbooks -----------------------------------------------------------------------------------


def _cell_text(value: object) -> str:
    """A cell's value as text: a date cell as ISO `YYYY-MM-DD`; a number as the decimal it shows
    (openpyxl hands numbers over as binary floats: written to 10 places and trailing zeros dropped,
    so 31.2 and Excel's 31.200000000000003 both read as "31.2"; money never stays a float)."""
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.date().isoformat() if value.time() == time(0) else value.isoformat(sep=" ")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        written = f"{Decimal(repr(value)):.10f}".rstrip("0").rstrip(".")
        return written or "0"
    return str(value)


def _read_workbook(
    data: bytes,
    wanted: Sequence[str],
    sheet: str | None,
    header_row: int | None,
    guess: Sequence[Sequence[str]],
) -> ExportTable:
    import openpyxl
    from openpyxl.utils import get_column_letter

    try:
        book = openpyxl.load_workbook(io.BytesIO(data), read_only=True, data_only=False)
    except (zipfile.BadZipFile, KeyError, ValueError, OSError) as error:
        raise ExportUnreadable(
            f"the file is a zip archive but not a readable XLSX workbook: {error}"
        ) from None
    try:
        names = tuple(book.sheetnames)
        if sheet is not None and sheet not in names:
            raise ExportUnreadable(
                f"the workbook has no sheet {sheet!r}; its sheets are {', '.join(repr(n) for n in names)}",
                field="sheet",
            )
        chosen = sheet if sheet is not None else names[0]
        worksheet = book[chosen]
        rows: list[list[str]] = []
        numbers: list[int] = []
        formulas: list[str | None] = []
        for cells in worksheet.iter_rows():
            texts: list[str] = []
            formula: str | None = None
            number = 0
            for index, cell in enumerate(cells, start=1):
                value = getattr(cell, "value", None)
                number = getattr(cell, "row", None) or number
                if getattr(cell, "data_type", None) == "f" or (
                    isinstance(value, str) and value.startswith("=")
                ):
                    formula = formula or f"{get_column_letter(index)}{number}"
                    texts.append(str(value))
                    continue
                texts.append(_cell_text(value))
            if number == 0:
                number = (numbers[-1] + 1) if numbers else 1
            while texts and not texts[-1]:
                texts.pop()
            rows.append(texts)
            numbers.append(number)
            formulas.append(formula)
    finally:
        book.close()
    if not any(rows):
        raise ExportUnreadable(f"sheet {chosen!r} is empty", field="sheet")
    index = _header_index(rows, numbers, wanted, header_row, guess)
    header = tuple(cell.strip() for cell in rows[index])
    body = [ExportRow(numbers[i], tuple(rows[i]), formulas[i]) for i in range(index + 1, len(rows))]
    return ExportTable("xlsx", header, numbers[index], body, sheet=chosen, sheets=names)
