"""Importing a finance office's spend export (`ktpledger import`, later `POST /imports`).

One planning function (`_plan`) serves the preview and the real run: it reads the export through
the profile, gives each row its idempotency key, matches each credit to the claim it reverses,
and judges each candidate event exactly as `Ledger.append` will (the door, then idempotency, then
`ProjectState.check` against the project's state folded with the file's earlier rows). The real
run (`run_import`) appends what the plan would record in one `ledger.append` call, and takes each
row's fate from the append's results, so it records exactly what the preview showed unless the
ledger moved in between (and then says so row by row).
"""

from __future__ import annotations

import csv
import io
import tomllib
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Literal

from ktpledger.adapters.export_files import ExportRow, ExportTable, ExportUnreadable, read_export
from ktpledger.domain.errors import RuleViolation, shown, unknown_project
from ktpledger.domain.events import PROJECT_PATTERN, ClaimReversed, Event, parse_event
from ktpledger.domain.import_draft import HEADER_GUESS, draft_profile
from ktpledger.domain.import_profile import (
    IMPORTED_EVENTS,
    Mapped,
    Profile,
    RowProblem,
    RowReader,
    Skipped,
    imported_parts,
    normalised,
    profile_from_mapping,
    row_key,
)
from ktpledger.domain.money import format_money, format_pounds
from ktpledger.domain.project import Claim, ProjectState, same_content
from ktpledger.domain.recorded import RecordedBy
from ktpledger.domain.rules import Category, near_name
from ktpledger.service.collector import collector_paused
from ktpledger.service.ledger import Ledger

MAX_EXPORT_BYTES = 32 * 1024 * 1024  # a 100,000-row export is 10-15 MB as CSV, less as XLSX
MAX_CANDIDATES_SHOWN = 10
ZERO = Decimal(0)
# Every type an import can record: its rows' own, and the reversals its credits become. Whoever
# imports must be allowed to record each (`POST /imports`).
IMPORTED_TYPES = (*IMPORTED_EVENTS, ClaimReversed.TYPE)

RowStatus = Literal["would record", "recorded", "duplicate", "rejected", "skipped"]
STATUSES: tuple[RowStatus, ...] = ("would record", "recorded", "duplicate", "rejected", "skipped")
EXTRA_COLUMNS = ("ktpledger_row", "ktpledger_rule", "ktpledger_message")


class ImportRefused(RuleViolation):
    """The whole export or profile is refused (a bad profile, an unreadable file, a column the
    header lacks): nothing is planned, nothing recorded. `field` names the profile field or option."""


@dataclass
class PlannedRow:
    """One row of the export and its fate."""

    row: int
    status: RowStatus
    header: tuple[str, ...]
    cells: tuple[str, ...]
    key: str | None = None
    event: dict[str, Any] | None = None
    error: RuleViolation | None = None
    reason: str | None = None
    category: Category | None = None  # the line a claim or a reversal counts on
    parsed: Event | None = None  # `event` as the door read it: appended as it is, never parsed twice

    @property
    def source(self) -> dict[str, str]:
        """The row's cells by the header's column names (a blank or repeated name made unique)."""
        return _source(self.header, self.cells)

    def to_json(self) -> dict[str, Any]:
        document: dict[str, Any] = {
            "row": self.row,
            "status": self.status,
            "key": self.key,
            "event": self.event,
        }
        if self.error is not None:
            document["error"] = {
                "rule": self.error.rule,
                "message": self.error.message,
                "field": self.error.field,
            }
        if self.reason is not None:
            document["reason"] = self.reason
        document["source"] = self.source
        return document


@dataclass(frozen=True)
class CategoryTotal:
    category: Category
    claimed: Decimal
    reversed: Decimal

    @property
    def net(self) -> Decimal:
        return self.claimed - self.reversed


@dataclass
class ImportPlan:
    """What an import does (or did) with every row of an export, and the totals it adds."""

    project: str
    file: str
    profile: str
    dry_run: bool
    header: tuple[str, ...]
    rows: list[PlannedRow]
    delimiter: str = ","
    recorded_anything: bool = False

    # --- totals of what is (or would be) recorded ---

    def _adding(self) -> list[PlannedRow]:
        return [row for row in self.rows if row.status in ("would record", "recorded")]

    def counts(self) -> dict[str, int]:
        found = Counter(row.status for row in self.rows)
        return {status: found[status] for status in STATUSES if found[status]}

    def categories(self) -> list[CategoryTotal]:
        claimed: dict[Category, Decimal] = {}
        reversed_: dict[Category, Decimal] = {}
        for row in self._adding():
            if row.event is None or row.category is None:
                continue
            amount = Decimal(row.event["data"]["amount"])
            if row.event["type"] == "SpendClaimed":
                claimed[row.category] = claimed.get(row.category, ZERO) + amount
            elif row.event["type"] == "ClaimReversed":
                reversed_[row.category] = reversed_.get(row.category, ZERO) + amount
        return [
            CategoryTotal(category, claimed.get(category, ZERO), reversed_.get(category, ZERO))
            for category in Category
            if category in claimed or category in reversed_
        ]

    def _sum(self, event_type: str) -> Decimal:
        return sum(
            (
                Decimal(row.event["data"]["amount"])
                for row in self._adding()
                if row.event is not None and row.event["type"] == event_type
            ),
            ZERO,
        )

    @property
    def parental_leave(self) -> Decimal:
        return self._sum("ParentalLeaveCost")

    @property
    def grant_payments(self) -> Decimal:
        return self._sum("GrantPayment")

    @property
    def rejected(self) -> int:
        return sum(1 for row in self.rows if row.status == "rejected")

    def rejected_rows(self) -> list[PlannedRow]:
        return [row for row in self.rows if row.status == "rejected"]

    def to_json(self) -> dict[str, Any]:
        return {
            "project": self.project,
            "file": self.file,
            "profile": self.profile,
            "dry_run": self.dry_run,
            "recorded_anything": self.recorded_anything,
            "rows": [row.to_json() for row in self.rows],
            "counts": self.counts(),
            "categories": [
                {
                    "category": total.category.value,
                    "claimed": format_money(total.claimed),
                    "reversed": format_money(total.reversed),
                    "net": format_money(total.net),
                }
                for total in self.categories()
            ],
            "parental_leave": format_money(self.parental_leave),
            "grant_payments": format_money(self.grant_payments),
        }

    def errors_csv(self) -> bytes:
        """The rejected rows as a CSV to fix and import again with the same profile: the export's
        own header and cells, then `ktpledger_row`, `ktpledger_rule`, `ktpledger_message` (which
        the profile does not name, so a re-import ignores them). UTF-8 with a byte order mark, so
        Excel opens it as UTF-8; the profile's delimiter (a comma when it sniffs one)."""
        out = io.StringIO(newline="")
        writer = csv.writer(out, delimiter=self.delimiter, lineterminator="\r\n")
        writer.writerow([*self.header, *EXTRA_COLUMNS])
        width = len(self.header)
        for row in self.rejected_rows():
            cells = list(row.cells) + [""] * (width - len(row.cells))
            assert row.error is not None
            writer.writerow([*cells, row.row, row.error.rule, row.error.message])
        return ("\ufeff" + out.getvalue()).encode("utf-8")


# --- the profile and the file --------------------------------------------------------------------


def read_profile(profile_text: str) -> Profile:
    """The profile in `profile_text` (TOML), or `ImportRefused` naming what is wrong."""
    try:
        document = tomllib.loads(profile_text)
    except tomllib.TOMLDecodeError as error:
        raise ImportRefused("R-30", f"the profile is not TOML: {error}", field="profile") from None
    try:
        return profile_from_mapping(document)
    except RuleViolation as error:
        raise ImportRefused(error.rule, error.message, field=error.field) from None


def read_table(export: bytes, profile: Profile, *, sheet: str | None = None) -> ExportTable:
    """The export as a table whose header holds every column the profile names."""
    if len(export) > MAX_EXPORT_BYTES:
        raise ImportRefused(
            "R-30",
            f"the export is {len(export) / 1_048_576:.1f} MB, over the import's limit of "
            f"{MAX_EXPORT_BYTES // 1_048_576} MB: split it by period and import each part",
            field="file",
        )
    wanted = profile.wanted_columns()
    try:
        table = read_export(
            export,
            wanted=wanted,
            encoding=profile.encoding,
            delimiter=profile.delimiter,
            sheet=sheet or profile.sheet,
            header_row=profile.header_row,
        )
    except ExportUnreadable as error:
        raise ImportRefused("R-30", error.message, field=error.field) from None
    check_columns(profile, table)
    return table


def check_columns(profile: Profile, table: ExportTable) -> None:
    have = {normalised(name) for name in table.header}
    for column, field_name in profile.column_fields().items():
        if normalised(column) not in have:
            named = [name for name in table.header if name]
            lowered = {name.lower(): name for name in named}
            near = near_name(column, named) or lowered.get(near_name(column, list(lowered)) or "")
            hint = f"; did you mean {near!r}?" if near else ""
            where = f"sheet {table.sheet!r} " if table.sheet else ""
            raise ImportRefused(
                "R-30",
                f"profile {field_name}: column {column!r} is not in the export's header ({where}row "
                f"{table.header_number}){hint} The header's columns are {', '.join(repr(n) for n in named)}",
                field=field_name,
            )


# --- planning ------------------------------------------------------------------------------------


class ClaimIndex:
    """The project's claims (recorded, and planned earlier in the file) by what an import knows of
    them: an imported claim's reference and cost code are in its key (`imported_parts`); a claim
    not imported by this profile is known by its category only."""

    def __init__(self, state: ProjectState, profile: str) -> None:
        self.state = state
        self.profile = profile
        self.by_reference: dict[str, list[str]] = {}
        self.by_cost_code: dict[str, list[str]] = {}
        self.others: list[str] = []
        self.cost_codes: dict[str, str] = {}
        for key in state.claims:
            self.add(key)

    def add_planned(self, key: str, cost_code: str, reference: str) -> None:
        """A claim planned from this file: what its key says is known without reading it back
        (but for a long code or reference, which the key shortens)."""
        if len(key) > 150 or len(cost_code) > 40:
            self.add(key)
            return
        self.cost_codes[key] = cost_code
        if reference:
            self.by_reference.setdefault(reference, []).append(key)
        self.by_cost_code.setdefault(cost_code, []).append(key)

    def add(self, key: str) -> None:
        parts = imported_parts(key)
        if parts is None or parts.profile != self.profile:
            self.others.append(key)
            return
        self.cost_codes[key] = parts.cost_code
        if parts.reference:
            self.by_reference.setdefault(parts.reference, []).append(key)
        self.by_cost_code.setdefault(parts.cost_code, []).append(key)

    def describe(self, claims: Sequence[Claim]) -> str:
        shown_claims = []
        for claim in claims[:MAX_CANDIDATES_SHOWN]:
            recorded = self.state.keys.get(claim.key)
            description = getattr(recorded[0].payload, "description", "") if recorded else ""
            shown_claims.append(
                f"{claim.key} ({claim.date}, {format_pounds(claim.outstanding, pence=True)} outstanding of "
                f"{format_pounds(claim.amount, pence=True)}, {description!r})"
            )
        more = len(claims) - MAX_CANDIDATES_SHOWN
        return "; ".join(shown_claims) + (f"; and {more} more" if more > 0 else "")

    def match(self, mapped: Mapped, reverses_column: str | None) -> Claim:
        """The one claim a credit reverses, or `RuleViolation` (R-34) naming the candidates."""
        amount = -mapped.amount
        claims = self.state.claims
        credit = f"a credit of {format_pounds(amount, pence=True)} dated {mapped.day}"
        if mapped.reverses:
            keys = list(self.by_reference.get(mapped.reverses, ()))
            if mapped.reverses in claims and mapped.reverses not in keys:
                keys.append(mapped.reverses)  # the key of a claim recorded by other means
            named = [claims[key] for key in keys]
            if mapped.cost_code:
                same_code = [
                    c for c in named if self.cost_codes.get(c.key, mapped.cost_code) == mapped.cost_code
                ]
                named = same_code or named
            fitting = [c for c in named if c.outstanding >= amount and c.date <= mapped.day]
            if fitting:
                return fitting[0]
            if not named:
                raise RuleViolation(
                    "R-34",
                    f"{credit} names {mapped.reverses!r} in column {reverses_column!r}, but project "
                    f"{self.state.project} has no claim imported with that reference (nor with that key)",
                    field=reverses_column or "reverses",
                )
            raise RuleViolation(
                "R-34",
                f"{credit} names {mapped.reverses!r}, but no claim with that reference has that much "
                f"outstanding on or before {mapped.day}: {self.describe(named)}",
                field=reverses_column or "reverses",
            )
        imported = [claims[key] for key in self.by_cost_code.get(mapped.cost_code, ())]
        fitting = [c for c in imported if c.outstanding >= amount and c.date <= mapped.day]
        basis = f"cost code {mapped.cost_code!r}"
        if not fitting and mapped.category is not None:
            others = [claims[key] for key in self.others]
            fitting = [
                c
                for c in others
                if c.category is mapped.category and c.outstanding >= amount and c.date <= mapped.day
            ]
            basis = f"cost code {mapped.cost_code!r} (nor, of claims not imported, {mapped.category.value})"
        if len(fitting) == 1:
            return fitting[0]
        column = (
            f" in column {reverses_column!r}" if reverses_column else " (a reverses column in the profile)"
        )
        if not fitting:
            raise RuleViolation(
                "R-34",
                f"{credit} reverses no claim: none of {basis} has at least that much outstanding on or "
                f"before that day; name the claim it reverses{column}",
                field="amount",
            )
        raise RuleViolation(
            "R-34",
            f"{credit} could reverse any of {len(fitting)} claims of {basis}: {self.describe(fitting)}; "
            f"name the one it reverses{column}",
            field="amount",
        )


def _source(header: Sequence[str], cells: Sequence[str]) -> dict[str, str]:
    source: dict[str, str] = {}
    for index, cell in enumerate(cells):
        name = header[index] if index < len(header) and header[index] else f"column {index + 1}"
        while name in source:
            name += "'"
        source[name] = cell
    return source


def _event(project: str, key: str, mapped: Mapped, claim: str | None) -> dict[str, Any]:
    """The event a mapped row submits (as `ktpledger record` would read it)."""
    amount = format_money(abs(mapped.amount))
    description = mapped.description or f"(no description) {mapped.reference}".strip()
    data: dict[str, Any]
    if mapped.kind == "claim":
        assert mapped.category is not None
        event_type = "SpendClaimed"
        data = {"category": mapped.category.value, "amount": amount, "description": description}
        if mapped.tags:
            data["tags"] = [tag.value for tag in mapped.tags]
    elif mapped.kind == "credit":
        event_type = "ClaimReversed"
        reason = mapped.description or f"credit {mapped.reference}".strip()
        data = {"claim": claim, "amount": amount, "reason": reason}
    elif mapped.kind == "parental_leave":
        event_type = "ParentalLeaveCost"
        data = {"amount": amount, "description": description}
    else:
        event_type = "GrantPayment"
        data = {"amount": amount}
    return {"type": event_type, "project": project, "key": key, "date": mapped.day.isoformat(), "data": data}


def _plan(
    project: str, filename: str, profile: Profile, table: ExportTable, state: ProjectState
) -> ImportPlan:
    planner = _Planner(project, profile, table, state)
    return ImportPlan(
        project=project,
        file=filename,
        profile=profile.name,
        dry_run=True,
        header=table.header,
        rows=[planner.row(export_row) for export_row in table.rows],
        delimiter=profile.delimiter or ",",
    )


@dataclass
class _Planner:
    """One export planned row by row against `state`, which it folds each accepted row into
    (exactly as `Ledger.append` folds a batch), so each row is judged after the ones above it."""

    project: str
    profile: Profile
    table: ExportTable
    state: ProjectState
    reader: RowReader = field(init=False)
    claims: ClaimIndex = field(init=False)
    occurrences: Counter[str] = field(default_factory=Counter)

    def __post_init__(self) -> None:
        self.reader = RowReader(self.profile, self.table.header)
        self.claims = ClaimIndex(self.state, self.profile.name)

    def row(self, export_row: ExportRow) -> PlannedRow:
        cells = export_row.cells
        planned = PlannedRow(export_row.number, "rejected", self.table.header, cells)
        where = f"row {export_row.number}"
        try:
            mapped = self._read(export_row, where)
        except RuleViolation as error:
            planned.error = error
            return planned
        if isinstance(mapped, Skipped):
            planned.status, planned.reason = "skipped", mapped.reason
            return planned
        self.occurrences[mapped.basis] += 1
        key = planned.key = row_key(mapped.basis, self.occurrences[mapped.basis])
        planned.category = mapped.category if mapped.kind == "claim" else None
        seen = self.state.keys.get(key)
        try:
            target = self._reversed_claim(mapped, seen[0] if seen is not None else None, where)
        except RuleViolation as error:
            planned.error = error
            return planned
        if target is not None:
            claim = self.state.claims.get(target)
            planned.category = claim.category if claim is not None else None
        planned.event = _event(self.project, key, mapped, target)
        try:
            event = parse_event(planned.event)
            if seen is not None:
                if same_content(seen[0], event):
                    planned.status = "duplicate"
                    return planned
                raise RuleViolation(
                    "R-30",
                    f"key {shown(key)} was recorded (version {seen[1]}) with other content: the export "
                    "changed a row already imported; a recorded event is never changed: record a correction",
                    field="key",
                )
            self.state.check(event)
            self.state.apply(event, self.state.version + 1)
        except RuleViolation as error:
            planned.error = RuleViolation(error.rule, f"{where}: {error.message}", field=error.field)
            return planned
        if mapped.kind == "claim":
            self.claims.add_planned(key, mapped.cost_code, mapped.reference)
        planned.status, planned.parsed = "would record", event
        return planned

    def _read(self, export_row: ExportRow, where: str) -> Mapped | Skipped:
        """The row through the profile: skipped (blank, a skip rule: before formulas, as a totals
        row is often a =SUM()), or mapped; a `RuleViolation` naming the row when it cannot be."""
        cells, width = export_row.cells, len(self.table.header)
        skipped = self.reader.skipped(cells)
        if skipped is not None:
            return skipped
        if export_row.formula is not None:
            raise RuleViolation(
                "R-30",
                f"{where}: cell {export_row.formula} holds a formula; ktpledger reads values only: "
                "copy the column and paste values, then import again",
                field=export_row.formula,
            )
        if len(cells) > width and any(cell.strip() for cell in cells[width:]):
            raise RuleViolation(
                "R-30",
                f"{where} has {len(cells)} cells, the header has {width}: a delimiter inside an unquoted "
                "cell? Quote it, or fix the row",
                field="row",
            )
        try:
            return self.reader.read(cells)
        except RowProblem as error:
            raise RuleViolation(error.rule, f"{where}: {error.message}", field=error.field) from None

    def _reversed_claim(self, mapped: Mapped, recorded: Event | None, where: str) -> str | None:
        """The key of the claim a credit reverses (None for any other row): the one it was matched
        to when it was first imported, so a re-import is judged a duplicate; else `ClaimIndex.match`."""
        if mapped.kind == "parental_leave" and mapped.amount < 0:
            raise RuleViolation(
                "R-35",
                f"{where}: a parental leave cost of {format_pounds(mapped.amount, pence=True)} is a credit; "
                "a ParentalLeaveCost is above 0: correct the earlier cost by hand",
                field="amount",
            )
        if mapped.kind != "credit":
            return None
        if recorded is not None and isinstance(recorded.payload, ClaimReversed):
            return recorded.payload.claim
        try:
            return self.claims.match(mapped, self.profile.columns.reverses).key
        except RuleViolation as error:
            raise RuleViolation(error.rule, f"{where}: {error.message}", field=error.field) from None


def _prepared(
    ledger: Ledger, project: str, export: bytes, filename: str, profile_text: str, sheet: str | None
) -> ImportPlan:
    if PROJECT_PATTERN.fullmatch(project) is None:
        raise ImportRefused(
            "R-30",
            f"project must be a reference of 1-64 letters, digits and . _ / - (a letter or digit first), "
            f"got {shown(project)}",
            field="project",
        )
    try:
        state = ledger.state(project)
    except RuleViolation as error:
        raise ImportRefused(error.rule, error.message, field=error.field) from None
    if not state.exists:
        # Refused as a whole, not row by row: no row of a file can go to a project that has no
        # offer. No database is named (`where` None); readers reword it for who may see what.
        raise unknown_project(project, ledger.projects(), None)
    profile = read_profile(profile_text)
    table = read_table(export, profile, sheet=sheet)
    return _plan(project, filename, profile, table, state)


def plan_import(
    ledger: Ledger,
    project: str,
    export: bytes,
    filename: str,
    profile_text: str,
    *,
    sheet: str | None = None,
) -> ImportPlan:
    """What importing `export` into `project` would do, row by row: writes nothing."""
    with collector_paused():
        return _prepared(ledger, project, export, filename, profile_text, sheet)


def run_import(
    ledger: Ledger,
    project: str,
    export: bytes,
    filename: str,
    profile_text: str,
    *,
    sheet: str | None = None,
    skip_rejected: bool = False,
    recorded_by: RecordedBy | None = None,
) -> ImportPlan:
    """Plan, then append what the plan would record in one `ledger.append` (by `recorded_by`, of
    channel `import`); unless `skip_rejected`, nothing at all when any row is rejected. The plan is
    returned with each appended row's fate as the ledger gave it."""
    with collector_paused():
        plan = _prepared(ledger, project, export, filename, profile_text, sheet)
        plan.dry_run = False
        if plan.rejected and not skip_rejected:
            return plan
        chosen = [row for row in plan.rows if row.status == "would record"]
        if not chosen:
            return plan
        results = ledger.append([row.parsed for row in chosen], recorded_by=recorded_by)
    for row, result in zip(chosen, results, strict=True):
        row.status = result.status
        if result.status == "rejected":
            row.error = result.error
    plan.recorded_anything = any(row.status == "recorded" for row in chosen)
    return plan


__all__ = [
    "IMPORTED_TYPES",
    "MAX_EXPORT_BYTES",
    "ImportPlan",
    "ImportRefused",
    "PlannedRow",
    "draft_import_profile",
    "plan_import",
    "read_profile",
    "run_import",
]


def draft_import_profile(export: bytes, *, sheet: str | None = None, name: str = "finance") -> str:
    """A first draft of a profile for `export` (`ktpledger import --init`): its header found below
    any title rows, the columns and the date format guessed, every cost code listed to map."""
    if len(export) > MAX_EXPORT_BYTES:
        raise ImportRefused(
            "R-30",
            f"the export is over the import's limit of {MAX_EXPORT_BYTES // 1_048_576} MB",
            field="file",
        )
    try:
        table = read_export(export, sheet=sheet, header_guess=HEADER_GUESS)
    except ExportUnreadable as error:
        raise ImportRefused("R-30", error.message, field=error.field) from None
    return draft_profile(
        table.header,
        [row.cells for row in table.rows],
        name=name,
        sheet=table.sheet,
        delimiter=table.delimiter,
        encoding=table.encoding,
    )
