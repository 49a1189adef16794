"""Renderers for the reconciliation (R-42) and the quarterly claim pack: the JSON documents of
`ktpledger.service.statements` as JSON, CSV, XLSX, HTML or PDF bytes.

    render(document, "reconciliation", "pdf") -> bytes
    MEDIA_TYPES["pdf"] == "application/pdf"; EXTENSIONS["pdf"] == ".pdf"

Renderers read only the document: no clock, no database. JSON, CSV, XLSX and PDF are byte-for-byte
deterministic (the same document gives the same bytes).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from typing import Any

from ktpledger.reports.csv_report import claim_pack_csv, reconciliation_csv
from ktpledger.reports.page import html_page
from ktpledger.reports.pdf_report import render_pdf
from ktpledger.reports.xlsx_report import claim_pack_xlsx, reconciliation_xlsx

__all__ = ["EXTENSIONS", "FORMATS", "KINDS", "MEDIA_TYPES", "filename", "render"]

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

Renderer = Callable[[Mapping[str, Any]], bytes]


def _json(document: Mapping[str, Any]) -> bytes:
    return (json.dumps(document, indent=2, sort_keys=False) + "\n").encode("utf-8")


def _html(kind: str) -> Renderer:
    return lambda document: html_page(document, kind).encode("utf-8")


def _pdf(kind: str) -> Renderer:
    return lambda document: render_pdf(document, kind)


RENDERERS: dict[tuple[str, str], Renderer] = {
    ("reconciliation", "json"): _json,
    ("reconciliation", "csv"): reconciliation_csv,
    ("reconciliation", "xlsx"): reconciliation_xlsx,
    ("reconciliation", "html"): _html("reconciliation"),
    ("reconciliation", "pdf"): _pdf("reconciliation"),
    ("claim_pack", "json"): _json,
    ("claim_pack", "csv"): claim_pack_csv,
    ("claim_pack", "xlsx"): claim_pack_xlsx,
    ("claim_pack", "html"): _html("claim_pack"),
    ("claim_pack", "pdf"): _pdf("claim_pack"),
}


def check_format(fmt: object) -> str:
    """`fmt` normalised ("PDF" -> "pdf"), or a ValueError that lists the formats (a caller's value
    that is not even text included)."""
    normal = fmt.strip().lower() if isinstance(fmt, str) else None
    if normal is None or normal not in FORMATS:
        raise ValueError(f"unknown format {fmt!r}: expected one of {', '.join(FORMATS)}")
    return normal


def check_kind(kind: str) -> str:
    if kind not in KINDS:
        raise ValueError(f"unknown document kind {kind!r}: expected one of {', '.join(KINDS)}")
    return kind


def render(document: dict[str, Any], kind: str, fmt: str) -> bytes:
    """The `kind` document ("reconciliation" or "claim_pack") rendered as `fmt` (one of FORMATS).
    A document that is not of that kind is a ValueError naming what it lacks."""
    fmt = check_format(fmt)
    kind = check_kind(kind)
    return RENDERERS[kind, fmt](document)


def filename(document: Mapping[str, Any], kind: str, fmt: str) -> str:
    """A file name for the rendered document: "KTP-0042-reconciliation.pdf",
    "KTP-0042-2025Q1-claim-pack.csv" (characters unsafe in file names become "_")."""
    fmt = check_format(fmt)
    kind = check_kind(kind)
    parts = [str(document.get("project", "project"))]
    if kind == "claim_pack":
        parts += [str(document.get("quarter", "")), "claim-pack"]
    else:
        parts.append("reconciliation" if document.get("final") else "statement-so-far")
    stem = "-".join(part for part in parts if part)
    return re.sub(r"[^A-Za-z0-9._-]", "_", stem) + EXTENSIONS[fmt]
