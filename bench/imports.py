"""Import benchmark: how fast `ktpledger import` plans and records a large finance export.

    .venv/bin/python bench/imports.py                       # both backends, 100,000 CSV rows
    .venv/bin/python bench/imports.py --postgres --rows 20000
    .venv/bin/python bench/imports.py --sqlite --xlsx-rows 0

Builds an Agresso-style CSV export of --rows (100,000) rows for one project (a 60-month offer from
tests/ledger/factory.py), claims spread over the period across five cost codes, every 25th row a
credit naming the claim it reverses (Orig Ref), and an XLSX export of --xlsx-rows (20,000) rows of
the same shape (openpyxl reads a workbook far slower than the csv module reads text). On each
backend, on a fresh ledger each time, it times:

  dry-run      `plan_import` (read, map, key, match credits, judge every row against the folded
               state): rows/s
  real-run     `run_import` (the same plan, then one `Ledger.append` of every planned event): rows/s
  re-run       `run_import` of the same export again (every row a duplicate): rows/s
  catch-up     the projection's catch-up of the imported events, timed on its own (the CLI without
               a broker runs it in-process after the append; here the ledger is built without it)

PostgreSQL runs in a fresh schema `bench_<random>` of database `test` (dropped at the end, also on
error); SQLite in a temporary file. Loopback only. It prints figures and asserts nothing about speed.
"""

from __future__ import annotations

import argparse
import io
import resource
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

from openpyxl import Workbook

from ktpledger.adapters.database import Database, build_engine
from ktpledger.bootstrap import bootstrap
from ktpledger.service.imports import ImportPlan, plan_import, run_import
from ktpledger.service.ledger import Ledger
from ktpledger.service.schema import upgrade
from ktpledger.settings import Settings

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from bench import figures  # noqa: E402
from bench.scratch import scratch_schema  # noqa: E402
from tests.ledger.factory import offer  # noqa: E402

PROJECT = "KTP-BENCH"
TARGET_ROWS_PER_SECOND = 10_000.0
CODES = {"5010": "consumables", "6020": "travel_subsistence", "4100": "associate_employment"}
CODES |= {"7100": "knowledge_base_supervisor", "8000": "additional_associate_support"}
PROFILE = "\n".join(
    [
        'name = "agresso"',
        "[columns]",
        'date = "Trans Date"',
        'date_format = "dd/mm/yyyy"',
        'amount = "Amount"',
        'reference = "Doc No"',
        'reverses = "Orig Ref"',
        'description = "Description"',
        'cost_code = "Account"',
        "[cost_codes]",
        *(f'"{code}" = "{category}"' for code, category in CODES.items()),
        "[[rules]]",
        'description = "(?i)conference"',
        'category = "travel_subsistence"',
        'tags = ["conference"]',
        "[[skip]]",
        'column = "Description"',
        'pattern = "(?i)^total"',
    ]
)
START = date(2024, 10, 1)
DAYS = 60 * 30  # within the 60 months


def export_rows(count: int) -> Iterator[tuple[date, str, str, str, int, str]]:
    """(date, reference, cost code, description, pence signed, reverses) of each row, in date order."""
    codes = list(CODES)
    for index in range(count):
        day = START + timedelta(days=index * DAYS // count)
        if index % 25 == 24:  # a credit of part of the claim 20 rows back
            claimed = index - 20
            yield (
                day,
                f"CN-{index:06d}",
                codes[claimed % 5],
                "Credit note",
                -(1000 + claimed % 997),
                f"INV-{claimed:06d}",
            )
        else:
            what = "Conference fee" if index % 97 == 0 else f"Purchase {index % 311}"
            yield day, f"INV-{index:06d}", codes[index % 5], what, 2000 + (index * 37) % 90_000, ""


def csv_export(count: int) -> bytes:
    out = io.StringIO()
    out.write("Trans Date,Doc No,Account,Description,Amount,Orig Ref\r\n")
    for day, reference, code, description, pence, reverses in export_rows(count):
        amount = f"{abs(pence) // 100:,}.{abs(pence) % 100:02d}"
        amount = f'"-{amount}"' if pence < 0 else f'"{amount}"'
        out.write(f"{day:%d/%m/%Y},{reference},{code},{description},{amount},{reverses}\r\n")
    return b"\xef\xbb\xbf" + out.getvalue().encode("utf-8")


def xlsx_export(count: int) -> bytes:

    book = Workbook(write_only=True)
    sheet = book.create_sheet("Transactions")
    sheet.append(["Trans Date", "Doc No", "Account", "Description", "Amount", "Orig Ref"])
    for day, reference, code, description, pence, reverses in export_rows(count):
        sheet.append([day, reference, code, description, Decimal(pence) / 100, reverses])
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


@contextmanager
def fresh(backend: str) -> Iterator[str]:
    """A URL of an empty, migrated ledger on `backend`."""
    if backend == "postgres":
        with scratch_schema() as url:
            yield url
    else:
        with tempfile.TemporaryDirectory() as folder:
            yield f"sqlite:///{folder}/bench.db"


def timed(work: Callable[[], ImportPlan]) -> tuple[float, ImportPlan]:
    began = time.perf_counter()
    plan = work()
    return time.perf_counter() - began, plan


def bench(backend: str, label: str, export: bytes, filename: str, rows: int) -> dict[str, Any]:
    with fresh(backend) as url:
        database = Database(build_engine(url))
        try:
            upgrade(database)
            ledger = Ledger(database)  # no projections woken: the catch-up is timed on its own
            ledger.append([offer(PROJECT, months=60, start=START.isoformat())])
            dry, plan = timed(lambda: plan_import(ledger, PROJECT, export, filename, PROFILE))
            assert plan.counts() == {"would record": rows}, plan.counts()
            real, done = timed(lambda: run_import(ledger, PROJECT, export, filename, PROFILE))
            assert done.counts() == {"recorded": rows}, done.counts()
            again, repeated = timed(lambda: run_import(ledger, PROJECT, export, filename, PROFILE))
            assert repeated.counts() == {"duplicate": rows}, repeated.counts()
            ledger.close()
        finally:
            database.engine.dispose()
        application = bootstrap(Settings(database_url=url))
        try:
            began = time.perf_counter()
            application.projector.catch_up(PROJECT)
            catch_up = time.perf_counter() - began
        finally:
            application.close()
    return {
        "backend": backend,
        "export": label,
        "rows": rows,
        "bytes": len(export),
        "dry-run rows/s": rows / dry,
        "real-run rows/s": rows / real,
        "re-run rows/s": rows / again,
        "catch-up s": catch_up,
        "dry-run s": dry,
        "real-run s": real,
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rows", type=int, default=100_000, help="rows of the CSV export")
    parser.add_argument("--xlsx-rows", type=int, default=20_000, help="rows of the XLSX export (0: none)")
    parser.add_argument("--postgres", action="store_true", help="PostgreSQL only")
    parser.add_argument("--sqlite", action="store_true", help="SQLite only")
    args = parser.parse_args()
    backends = [b for b, chosen in (("postgres", args.postgres), ("sqlite", args.sqlite)) if chosen]
    backends = backends or ["postgres", "sqlite"]
    exports = [("csv", csv_export(args.rows), "export.csv", args.rows)]
    if args.xlsx_rows:
        exports.append(("xlsx", xlsx_export(args.xlsx_rows), "export.xlsx", args.xlsx_rows))
    print(f"target: {TARGET_ROWS_PER_SECOND:,.0f} rows/s on PostgreSQL, dry run and real run")
    header = f"{'backend':<9} {'export':<6} {'rows':>8} {'MB':>6} {'dry-run/s':>10} {'real-run/s':>11} {'re-run/s':>9} {'catch-up s':>10}"
    print(header)
    for backend in backends:
        for label, export, filename, rows in exports:
            f = bench(backend, label, export, filename, rows)
            print(
                f"{backend:<9} {label:<6} {rows:>8,} {f['bytes'] / 1_048_576:>6.1f} {f['dry-run rows/s']:>10,.0f} "
                f"{f['real-run rows/s']:>11,.0f} {f['re-run rows/s']:>9,.0f} {f['catch-up s']:>10.1f}",
                flush=True,
            )
    # The process's high-water mark: the largest export planned and recorded, the projection's
    # catch-up of it, and the exports themselves held in memory.
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak resident memory of this process: {peak:,.0f} MB")


BRIEF_ROWS = 2000


def brief() -> list[figures.Figure]:
    """A CSV export of 2,000 rows on each backend (no XLSX: openpyxl's read dominates and is not ours)."""
    export = csv_export(BRIEF_ROWS)
    shown: list[figures.Figure] = []
    for backend in ("postgres", "sqlite"):
        # The target is PostgreSQL's; SQLite's figures are printed beside it without one.
        target = f">= {TARGET_ROWS_PER_SECOND:,.0f} rows/s" if backend == "postgres" else ""
        names = [f"{backend} {path}" for path in ("dry-run", "real-run", "re-run")]
        if backend == "postgres" and not figures.postgres_reachable():
            shown += figures.skipped("PostgreSQL not running", *names[:2], unit="rows/s", target=target)
            shown += figures.skipped("PostgreSQL not running", names[2], unit="rows/s")
            continue
        measured = bench(backend, "csv", export, "export.csv", BRIEF_ROWS)
        size = f"CSV, {BRIEF_ROWS:,} rows, one project"
        shown += [
            figures.Figure(
                names[0], measured["dry-run rows/s"], "rows/s", target=target, note=f"{size}; plan only"
            ),
            figures.Figure(
                names[1], measured["real-run rows/s"], "rows/s", target=target, note="plan and append"
            ),
            figures.Figure(names[2], measured["re-run rows/s"], "rows/s", note="every row a duplicate"),
            figures.Figure(
                f"{backend} catch-up",
                measured["catch-up s"] * 1000,
                "ms",
                higher_is_better=False,
                note="the projection of the imported events",
            ),
        ]
    return shown


if __name__ == "__main__":
    main()
