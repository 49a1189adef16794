"""Reading a grant offer letter's file for `ktpledger offer` (issue 13): an XLSX sheet's cells as
text with their coordinates, or a TOML document. What they mean is the domain's question
(`domain/offer_letter.py`); a file that cannot be read as either is an `OfferFileError`.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

from ktpledger.domain.offer_letter import Cell, CellKind

ZIP_MAGIC = b"PK\x03\x04"
MAX_BYTES = 20_000_000  # far above any offer letter


class OfferFileError(Exception):
    """The file cannot be read as an offer: missing, not XLSX nor TOML, no such sheet, empty."""


@dataclass(frozen=True)
class Sheet:
    """One sheet's cells that hold something, in row order."""

    name: str
    cells: tuple[Cell, ...]


def file_kind(path: Path) -> str:
    """ "xlsx" or "toml", by the file's first bytes and its name; else `OfferFileError`."""
    try:
        with path.open("rb") as handle:
            head = handle.read(4)
    except OSError as error:
        raise OfferFileError(f"cannot read {path}: {error.strerror or error}") from None
    if head == ZIP_MAGIC:
        return "xlsx"
    if path.suffix.lower() == ".toml":
        return "toml"
    raise OfferFileError(
        f"{path} is neither an XLSX workbook nor a TOML file (.toml): give the offer letter's "
        "budget sheet saved as .xlsx, or its terms written as TOML"
    )


def read_toml(path: Path) -> dict[str, Any]:
    """The TOML document of `path`, amounts with a decimal point as Decimal (never float)."""
    try:
        text = path.read_bytes()
        if len(text) > MAX_BYTES:
            raise OfferFileError(f"{path} is larger than {MAX_BYTES:,} bytes")
        return tomllib.loads(text.decode("utf-8-sig"), parse_float=Decimal)
    except OSError as error:
        raise OfferFileError(f"cannot read {path}: {error.strerror or error}") from None
    except UnicodeDecodeError as error:
        raise OfferFileError(f"{path} is not UTF-8 text: {error.reason} at byte {error.start}") from None
    except tomllib.TOMLDecodeError as error:
        raise OfferFileError(f"{path} is not valid TOML: {error}") from None


def read_sheet(path: Path, sheet: str | None) -> Sheet:
    """The cells of the sheet named `sheet` (case-insensitively when no name matches exactly), or
    of the first sheet. A formula keeps the value the spreadsheet saved with it; one saved without
    a value is a cell of kind "formula" with no text."""
    from openpyxl import load_workbook  # only the command that reads a workbook pays for openpyxl

    if path.stat().st_size > MAX_BYTES:
        raise OfferFileError(f"{path} is larger than {MAX_BYTES:,} bytes")
    try:
        values = load_workbook(path, data_only=True)
        formulas = load_workbook(path, data_only=False)
    except Exception as error:  # noqa: BLE001 - openpyxl raises many kinds on a damaged workbook
        raise OfferFileError(f"{path} cannot be read as an XLSX workbook: {error}") from None
    names = values.sheetnames
    if sheet is None:
        name = names[0]
    elif sheet in names:
        name = sheet
    else:
        folded = [n for n in names if n.casefold() == sheet.strip().casefold()]
        if len(folded) != 1:
            listed = ", ".join(repr(n) for n in names)
            raise OfferFileError(f"{path} has no sheet {sheet!r}; its sheets are {listed}")
        name = folded[0]
    cells: list[Cell] = []
    formula_sheet = formulas[name]
    for row in values[name].iter_rows():
        for cell in row:
            if cell.row is None or cell.column is None:  # a merged cell's hidden part
                continue
            kind, text = _cell_text(cell.value)
            if kind is not None:
                cells.append(Cell(cell.coordinate, cell.row, cell.column, text, kind))
            elif formula_sheet.cell(row=cell.row, column=cell.column).data_type == "f":
                cells.append(Cell(cell.coordinate, cell.row, cell.column, "", "formula"))
    if not cells:
        raise OfferFileError(f"sheet {name!r} of {path} is empty: it holds no offer letter")
    return Sheet(name, tuple(cells))


def _cell_text(value: object) -> tuple[CellKind | None, str]:
    """A cell's value as text: numbers in plain digits (a binary float by its shortest decimal,
    which is what the file holds), dates as YYYY-MM-DD; (None, "") for an empty cell."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None, ""
    if isinstance(value, bool):
        return "bool", "yes" if value else "no"
    if isinstance(value, int):
        return "number", str(value)
    if isinstance(value, float):
        return "number", f"{Decimal(repr(value)):f}"
    if isinstance(value, datetime):
        if value.time() == time(0):
            return "date", value.date().isoformat()
        return "text", value.isoformat()
    if isinstance(value, (date, time, timedelta)):
        return "date" if isinstance(value, date) else "text", str(value)
    return "text", str(value)
