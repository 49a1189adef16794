"""The reports' CSV (long format: `section,row,field,value`) read back as a spreadsheet or pandas
would: `csv.DictReader`, then each section pivoted to its table."""

from __future__ import annotations

import csv
import io

# The CSV's sections of `name, value` rows (the others are tables: a header row, then rows).
FACT_SECTIONS = frozenset({"about", "settlement", "receivables", "form_heading", "prepared"})


def long_csv(data: bytes) -> list[dict[str, str]]:
    """The long-format CSV as `csv.DictReader` reads it: one header row, every row its four columns."""
    text = data.decode("utf-8")
    assert not text.startswith("\ufeff")
    reader = csv.DictReader(io.StringIO(text, newline=""), restkey="extra")
    rows = list(reader)
    assert reader.fieldnames == ["section", "row", "field", "value"]
    for row in rows:
        assert "extra" not in row and None not in row.values(), row
    return rows


def csv_sections(data: bytes) -> list[list[list[str]]]:
    """The CSV's sections in order, each pivoted back: a `name, value` row per fact, or a table (its
    header row, then a row per `row` number)."""
    by_section: dict[str, dict[str, list[tuple[str, str]]]] = {}
    for row in long_csv(data):
        by_section.setdefault(row["section"], {}).setdefault(row["row"], []).append(
            (row["field"], row["value"])
        )
    sections: list[list[list[str]]] = []
    for name, numbered in by_section.items():
        if name in FACT_SECTIONS:
            sections.append([[field, value] for cells in numbered.values() for field, value in cells])
            continue
        rows = list(numbered.values())
        sections.append([[field for field, _ in rows[0]], *([value for _, value in cells] for cells in rows)])
    return sections
