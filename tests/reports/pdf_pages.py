"""The PDF's pages as poppler draws and reads them: `pdftotext -layout` per page, `pdftoppm` per
page to PNG; and where the layout tests keep what a person should look at. Skipped with the reason
when poppler-utils is missing, except with CI=true."""

from __future__ import annotations

import html
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

IN_CI = os.environ.get("CI", "").lower() == "true"
ARTIFACTS = Path(
    os.environ.get("KTPLEDGER_TEST_ARTIFACTS") or Path(__file__).resolve().parents[2] / "test-artifacts"
)
# A row of the transaction listing starts with its date: "14 March 2025".
DATED_ROW = re.compile(r"^\d{1,2} [A-Z][a-z]+ \d{4}\s")
TOTAL_ROW = re.compile(r"^Total\b")
# The header row of a dated table (the transaction listing, payments, decisions).
COLUMN_HEADER = re.compile(r"^Date( received)?\s{2,}")


def poppler(program: str) -> str:
    found = shutil.which(program)
    if found:
        return found
    message = f"{program} not installed (poppler-utils): the PDF's pages are not read"
    if IN_CI:
        pytest.fail(f"{message}; CI=true, so the layout checks must run")
    pytest.skip(message)


def layout_pages(pdf: Path) -> list[list[str]]:
    """Each page's non-blank lines as `pdftotext -layout` lays them out, stripped."""
    program = poppler("pdftotext")
    text = subprocess.run([program, "-layout", str(pdf), "-"], check=True, capture_output=True).stdout
    pages = text.decode("utf-8").split("\f")
    if pages and not pages[-1].strip():
        pages.pop()  # pdftotext ends the last page with a form feed too
    return [[line.strip() for line in page.splitlines() if line.strip()] for page in pages]


def headings(page_html: str) -> set[str]:
    """The texts of the report's section headings (h2, h3)."""
    found = re.findall(r"<h[23][^>]*>(.*?)</h[23]>", page_html, re.DOTALL)
    return {html.unescape(re.sub(r"<[^>]+>", "", text)).strip() for text in found}


def first_page_png(pdf: Path, name: str) -> Path:
    """The PDF's first page as a PNG in ARTIFACTS, named `name`."""
    program = poppler("pdftoppm")
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    stem = ARTIFACTS / name.removesuffix(".png")
    subprocess.run(
        [program, "-png", "-r", "80", "-f", "1", "-l", "1", "-singlefile", str(pdf), str(stem)], check=True
    )
    return stem.with_suffix(".png")


def layout_problems(pages: list[list[str]], footer: str, section_headings: set[str]) -> list[str]:
    """What breaks the rules of the reports' pages, page by page: each page ends with its footer
    (`footer`, then "page N of M"); no page holds only a total (a total row with fewer than two
    rows of its table above it on its page, under the repeated header row); no page ends with a
    heading with nothing but a table's header row under it."""
    problems = []
    count = len(pages)
    for number, lines in enumerate(pages, start=1):
        footers = [line for line in lines if footer in line and f"page {number} of {count}" in line]
        if not footers:
            problems.append(f"page {number}: no footer 'page {number} of {count}'")
        body = [line for line in lines if footer not in line]
        if not body:
            problems.append(f"page {number}: nothing but its footer")
            continue
        for index, line in enumerate(body):
            if not TOTAL_ROW.match(line):
                continue
            above = 0
            for before in reversed(body[:index]):
                if not DATED_ROW.match(before):
                    break
                above += 1
            starts_page = all(
                DATED_ROW.match(before) or before.startswith("Date ") for before in body[:index]
            )
            if starts_page and above < 2:
                problems.append(f"page {number}: its total {line!r} has {above} row(s) of its table above it")
        heading_at = [index for index, line in enumerate(body) if line in section_headings]
        if heading_at:
            under = [line for line in body[heading_at[-1] + 1 :] if not COLUMN_HEADER.match(line)]
            if not under:
                problems.append(f"page {number}: the heading {body[heading_at[-1]]!r} ends the page")
    return problems
