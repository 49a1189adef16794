"""Renderers for the reconciliation (R-42) and the quarterly claim pack: the typed read models of
`ktpledger.service.statements` (`ReconciliationStatement`, `ClaimPack`) as JSON, CSV, XLSX, HTML
or PDF bytes.

    render(statement, "pdf") -> bytes
    MEDIA_TYPES["pdf"] == "application/pdf"; EXTENSIONS["pdf"] == ".pdf"

Renderers read only the statement's typed fields: no clock, no database, no figure or date parsed
back from text (a JSON document is read once, by the model's `from_json`). JSON is the model's
`to_json()`; JSON, CSV, XLSX and PDF are byte-for-byte deterministic (the same statement gives the
same bytes).

Each format's renderer is imported when that format is asked for: JSON (and CSV, HTML) never load
fpdf or openpyxl, so a command or a request for JSON does not pay for the PDF and XLSX renderers.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import TYPE_CHECKING

from ktpledger.reports.cells import Statement
from ktpledger.service.pack_models import ClaimPack
from ktpledger.service.statement_models import ReconciliationStatement

if TYPE_CHECKING:
    from ktpledger.service.report_appendix import AuditAppendix

__all__ = ["EXTENSIONS", "FORMATS", "KINDS", "MEDIA_TYPES", "Statement", "filename", "kind_of", "render"]

KINDS = ("reconciliation", "claim_pack")
FORMATS = ("json", "csv", "xlsx", "html", "pdf")

MEDIA_TYPES = {
    "json": "application/json",
    "csv": "text/csv; charset=utf-8",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "html": "text/html; charset=utf-8",
    "pdf": "application/pdf",
}
EXTENSIONS = {fmt: f".{fmt}" for fmt in FORMATS}


def _json(statement: Statement, appendix: AuditAppendix | None = None) -> bytes:
    del appendix  # the JSON document is the statement's alone
    return (json.dumps(statement.to_json(), indent=2, sort_keys=False) + "\n").encode("utf-8")


def _html(statement: Statement, appendix: AuditAppendix | None = None) -> bytes:
    from ktpledger.reports.page import html_page

    return html_page(statement, appendix).encode("utf-8")


def _pdf(statement: Statement, appendix: AuditAppendix | None = None) -> bytes:
    from ktpledger.reports.pdf_report import render_pdf

    return render_pdf(statement, appendix)


def _reconciliation_csv(statement: ReconciliationStatement, appendix: AuditAppendix | None = None) -> bytes:
    from ktpledger.reports.csv_report import reconciliation_csv

    return reconciliation_csv(statement, appendix)


def _claim_pack_csv(statement: ClaimPack, appendix: AuditAppendix | None = None) -> bytes:
    from ktpledger.reports.csv_report import claim_pack_csv

    return claim_pack_csv(statement, appendix)


def _reconciliation_xlsx(statement: ReconciliationStatement, appendix: AuditAppendix | None = None) -> bytes:
    from ktpledger.reports.xlsx_report import reconciliation_xlsx

    return reconciliation_xlsx(statement, appendix)


def _claim_pack_xlsx(statement: ClaimPack, appendix: AuditAppendix | None = None) -> bytes:
    from ktpledger.reports.xlsx_report import claim_pack_xlsx

    return claim_pack_xlsx(statement, appendix)


RECONCILIATION_RENDERERS: dict[str, Callable[[ReconciliationStatement, AuditAppendix | None], bytes]] = {
    "json": _json,
    "csv": _reconciliation_csv,
    "xlsx": _reconciliation_xlsx,
    "html": _html,
    "pdf": _pdf,
}
CLAIM_PACK_RENDERERS: dict[str, Callable[[ClaimPack, AuditAppendix | None], bytes]] = {
    "json": _json,
    "csv": _claim_pack_csv,
    "xlsx": _claim_pack_xlsx,
    "html": _html,
    "pdf": _pdf,
}


def check_format(fmt: object) -> str:
    """`fmt` normalised ("PDF" -> "pdf"), or a ValueError that lists the formats (a caller's value
    that is not even text included)."""
    normal = fmt.strip().lower() if isinstance(fmt, str) else None
    if normal is None or normal not in FORMATS:
        raise ValueError(f"unknown format {fmt!r}: expected one of {', '.join(FORMATS)}")
    return normal


def kind_of(statement: object) -> str:
    """The statement's kind, "reconciliation" or "claim_pack"; a ValueError for anything else (a
    JSON document too: read it with the model's `from_json` first)."""
    if isinstance(statement, ReconciliationStatement):
        return "reconciliation"
    if isinstance(statement, ClaimPack):
        return "claim_pack"
    raise ValueError(
        f"unknown document kind {type(statement).__name__}: expected one of {', '.join(KINDS)} "
        "(a ReconciliationStatement or a ClaimPack)"
    )


def render(statement: Statement, fmt: str, appendix: AuditAppendix | None = None) -> bytes:
    """The statement (a reconciliation or a claim pack) rendered as `fmt` (one of FORMATS), with
    what an auditor asks for beyond its figures when `appendix` is given (who prepared it and when,
    payments, transactions, decisions; not in the JSON, which is the statement's alone)."""
    fmt = check_format(fmt)
    if isinstance(statement, ClaimPack):
        return CLAIM_PACK_RENDERERS[fmt](statement, appendix)
    kind_of(statement)  # refuses what is neither (a JSON document passed as before)
    return RECONCILIATION_RENDERERS[fmt](statement, appendix)


def filename(statement: Statement, fmt: str) -> str:
    """A file name for the rendered statement: "KTP-0042-reconciliation.pdf",
    "KTP-0042-2025Q1-claim-pack.csv" (characters unsafe in file names become "_")."""
    fmt = check_format(fmt)
    parts = [statement.project]
    if isinstance(statement, ClaimPack):
        parts += [statement.quarter, "claim-pack"]
    else:
        kind_of(statement)  # refuses what is neither
        parts.append("reconciliation" if statement.final else "statement-so-far")
    stem = "-".join(part for part in parts if part)
    return re.sub(r"[^A-Za-z0-9._-]", "_", stem) + EXTENSIONS[fmt]
