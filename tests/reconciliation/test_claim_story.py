"""A KTP's grant claims and business invoices from the offer to closure, on both databases (R-45,
R-44, R-32): 24 months claimed quarter by quarter through the command line, with a late cost, a
reversal, variance narratives, a submission refused without one, each claim paid by a grant payment
naming it and each invoice by the business; the claims add up to the final reconciliation's grant
with the final adjustment; and replay reproduces every submitted claim byte for byte.

The factory's offer: 67% grant (SME, fec), 24 months from 2025-01-01 (2025Q1 to 2026Q4), budget
associate 100,000, development 4,000, travel 2,500, consumables 4,000, supervisor 16,000, support
36,000. Its spend profile (R-43): consumables `amounts` 1,200.00 in 2025Q1 then 400.00 in each of
the seven next quarters (4,000 in all); travel `in_quarters` 2025Q3 and 2026Q2 (1,250.00 each);
the other lines even by month: associate 12,500.00 a quarter, supervisor 2,000.00, support
4,500.00, development 500.00.

Every quarter the associate (12,500.00), supervisor (2,000.00), support (4,500.00) and development
(500.00) are spent on their forecasts: grant 8,375.00 + 1,340.00 + 3,015.00 + 335.00 = 13,065.00.
A line's grant is its cumulative eligible spend x 0.67, half up to the penny (R-23,
`shares.reconciled_grant`, as `reconcile` rounds it), so a quarter adds the difference of two
rounded cumulative figures. Hand-worked, quarter by quarter:

- 2025Q1: consumables 1,150.00 against 1,200.00 (-4.2%, no narrative): grant 770.50.
  Claim 1 = 13,065.00 + 770.50 = 13,835.50. Business: eligible 20,650.00 - 13,835.50 = 6,814.50.
- 2025Q2: consumables 400.00 (268.00), a rail fare of 123.45 against a travel forecast of 0.00
  (any spend needs a narrative: the first submission is refused), grant 123.45 x 0.67 = 82.7115
  -> 82.71. Claim 2 = 13,065.00 + 268.00 + 82.71 = 13,415.71. Business 20,023.45 - 13,415.71 =
  6,607.74.
- After claim 2, a courier bill of 87.65 dated 2025-06-15 (a claimed quarter) arrives: a late cost.
- 2025Q3: development 500.00 less a 120.00 refund (reversal): 380.00 against 500.00 (-24%,
  narrative), grant 1,380.00 x 0.67 - 1,000.00 x 0.67 = 924.60 - 670.00 = 254.60 in place of
  335.00; travel 980.00 against 1,250.00 (-21.6%, narrative): 1,103.45 x 0.67 = 739.3115 -> 739.31,
  less 82.71 = 656.60; consumables 400.00: 2,037.65 x 0.67 = 1,365.2255 -> 1,365.23 less
  1,637.65 x 0.67 = 1,097.2255 -> 1,097.23 = 268.00; and the courier as the prior-period
  adjustment on consumables: 1,097.23 (its grant before 2025Q3 as the ledger now stands) -
  770.50 - 268.00 (claimed) = 58.73. Claim 3 = 13,065.00 - 335.00 + 254.60 + 656.60 + 268.00 +
  58.73 = 13,967.93. Business: 20,760.00 - 13,909.20 = 6,850.80, and the courier's 87.65 - 58.73 =
  28.92 prior period: 6,879.72.
- 2025Q4, 2026Q1, 2026Q3: consumables 400.00 on forecast: claim 13,333.00, business 19,900.00 -
  13,333.00 = 6,567.00.
- 2026Q2: travel 1,270.00 against 1,250.00 (+1.6%): 2,373.45 x 0.67 = 1,590.2115 -> 1,590.21 less
  739.31 = 850.90. Claim 6 = 13,333.00 + 850.90 = 14,183.90. Business 21,170.00 - 14,183.90 =
  6,986.10.
- 2026Q4 (the final quarter): consumables 300.00 against 400.00 (-25%, narrative): 3,937.65 x 0.67
  = 2,638.2255 -> 2,638.23 less 3,637.65 x 0.67 = 2,437.2255 -> 2,437.23 = 201.00. Claim 8 =
  13,065.00 + 201.00 = 13,266.00.
- After claim 8, before closure, a taxi of 45.67 dated 2026-12-20: travel 2,419.12 x 0.67 =
  1,620.8104 -> 1,620.81, 30.60 more than claimed: the final adjustment.

Claims: 13,835.50 + 13,415.71 + 13,967.93 + 13,333.00 x 3 + 14,183.90 + 13,266.00 = 108,668.04;
plus 30.60 = 108,698.64, the final reconciliation's grant: 67,000.00 + 2,599.60 (development
3,880.00) + 1,620.81 + 2,638.23 + 10,720.00 + 24,120.00.

The business: its share of the eligible costs, 162,236.77 - 108,698.64 = 53,538.13, is 86.87 short
of the offer's business total 53,625.00 (R-32), so the final invoice tops it up: 19,845.67 -
13,296.60 = 6,549.07 + 86.87 = 6,635.94, and the eight invoices come to 53,625.00.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any, ClassVar

import pytest
from sqlalchemy import create_engine, text
from typer.testing import CliRunner

from ktpledger.bootstrap import App, bootstrap
from ktpledger.cli import app as cli
from ktpledger.domain.chain import canonical_json
from ktpledger.domain.claims import claim_worked
from ktpledger.domain.events import ClaimSubmitted
from ktpledger.domain.money import ZERO
from ktpledger.domain.project import ProjectState
from ktpledger.domain.reconciliation import History, reconcile
from ktpledger.domain.recorded import RecordedBy, RecordedEvent
from ktpledger.domain.rules import Category
from ktpledger.service import ledger as ledger_module
from ktpledger.service import ledger_deciding
from ktpledger.service.schema import upgrade
from ktpledger.service.statements import reconciliation
from ktpledger.settings import Settings
from tests.ledger.factory import claim, event, offer, reversal

PROJECT = "KTP-0042"
FORMATS = ("json", "csv", "xlsx", "pdf")
STANDARD = {  # spent on their forecasts every quarter, dated the quarter's last day
    "associate_employment": "12500.00",
    "knowledge_base_supervisor": "2000.00",
    "additional_associate_support": "4500.00",
}
PROFILE = event(
    "SpendProfileSet",
    "profile-offer",
    "2024-12-01",
    {
        "lines": {
            "consumables": {
                "rule": "amounts",
                "quarters": {"2025Q1": "1200.00"}
                | dict.fromkeys(
                    ("2025Q2", "2025Q3", "2025Q4", "2026Q1", "2026Q2", "2026Q3", "2026Q4"), "400.00"
                ),
            },
            "travel_subsistence": {"rule": "in_quarters", "quarters": ["2025Q3", "2026Q2"]},
        },
        "minute": "Offer letter, annex B: spend profile",
    },
)
QUARTERS = {  # quarter: (its last day, the claim's and invoice's date, its spend beyond STANDARD)
    "2025Q1": ("2025-03-31", "2025-04-07", [("consumables", "1150.00", "2025-01-20")]),
    "2025Q2": (
        "2025-06-30",
        "2025-07-07",
        [("consumables", "400.00", "2025-05-12"), ("travel_subsistence", "123.45", "2025-05-20")],
    ),
    "2025Q3": (
        "2025-09-30",
        "2025-10-06",
        [("consumables", "400.00", "2025-08-12"), ("travel_subsistence", "980.00", "2025-09-10")],
    ),
    "2025Q4": ("2025-12-31", "2026-01-07", [("consumables", "400.00", "2025-11-12")]),
    "2026Q1": ("2026-03-31", "2026-04-07", [("consumables", "400.00", "2026-02-12")]),
    "2026Q2": (
        "2026-06-30",
        "2026-07-07",
        [("consumables", "400.00", "2026-05-12"), ("travel_subsistence", "1270.00", "2026-05-19")],
    ),
    "2026Q3": ("2026-09-30", "2026-10-07", [("consumables", "400.00", "2026-08-12")]),
    "2026Q4": ("2026-12-31", "2027-01-08", [("consumables", "300.00", "2026-11-12")]),
}
NARRATIVES = {  # where the variance is over 10% of the forecast (hand-worked above)
    "2025Q2": {"travel_subsistence": "An unplanned site visit the LMC asked for"},
    "2025Q3": {
        "associate_development": "The course provider refunded the unused workshop",
        "travel_subsistence": "The conference was cheaper than planned",
    },
    "2026Q4": {"consumables": "Fewer trial materials were needed at the end"},
}
CLAIMS = {  # the grant claimed (hand-worked above)
    "2025Q1": "13835.50",
    "2025Q2": "13415.71",
    "2025Q3": "13967.93",
    "2025Q4": "13333.00",
    "2026Q1": "13333.00",
    "2026Q2": "14183.90",
    "2026Q3": "13333.00",
    "2026Q4": "13266.00",
}
INVOICES = {  # the business's invoice (hand-worked above)
    "2025Q1": "6814.50",
    "2025Q2": "6607.74",
    "2025Q3": "6879.72",
    "2025Q4": "6567.00",
    "2026Q1": "6567.00",
    "2026Q2": "6986.10",
    "2026Q3": "6567.00",
    "2026Q4": "6635.94",
}


def run_cli(url: str, *args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, ["--db", url, *args])
    return result.exit_code, result.stdout, result.stderr


def record(app: App, items: list[dict[str, Any]]) -> None:
    results = app.ledger.append(items)
    assert all(r.status == "recorded" for r in results), [r.to_json() for r in results]


def head(app: App) -> int:
    return app.ledger.stream(PROJECT)[-1].version


def packs(url: str, quarter: str, folder: Path) -> dict[str, bytes]:
    """The quarter's claim pack in every format, as `ktpledger claim-pack --out` writes it."""
    folder.mkdir(parents=True, exist_ok=True)
    found = {}
    for fmt in FORMATS:
        path = folder / f"{quarter}.{fmt}"
        code, _, err = run_cli(
            url, "claim-pack", PROJECT, "--quarter", quarter, "--format", fmt, "--out", str(path)
        )
        assert code == 0, err
        found[fmt] = path.read_bytes()
    return found


@pytest.fixture(autouse=True)
def no_broker(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("KTPLEDGER_BROKER_URL", raising=False)
    monkeypatch.delenv("KTPLEDGER_TODAY", raising=False)


@pytest.fixture
def copy_url(database_url: str, tmp_path: Path) -> Iterator[str]:
    """A second, fresh database of the same kind as `database_url`."""
    if database_url.startswith("sqlite"):
        yield f"sqlite:///{tmp_path}/copy.db"
        return
    server = database_url.split("?", 1)[0]
    schema = f"t_{uuid.uuid4().hex[:12]}"
    admin = create_engine(server, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE SCHEMA "{schema}"'))
    yield f"{server}?options=-csearch_path%3D{schema}"
    with admin.connect() as connection:
        connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
    admin.dispose()


class RecordedClock(datetime):
    """`datetime` whose `now` is the instant an event was first recorded at: `recorded_at` is
    covered by each event's hash (domain/chain.py), and a claim names its head's hash, so a copy of
    the ledger is the same chain only if its events are recorded at the same instants."""

    instant: ClassVar[datetime] = datetime.now(UTC)

    @classmethod
    def now(cls, tz: Any = None) -> RecordedClock:
        moment = cls.instant
        return cls(
            moment.year, moment.month, moment.day, moment.hour, moment.minute, moment.second,
            moment.microsecond, moment.tzinfo,
        )  # fmt: skip


def copy_ledger(rows: list[RecordedEvent], url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """Append `rows` to the fresh database at `url`, append by append as they were recorded (runs
    of the same `recorded_at`, which the claim pack's alerts read), by whoever recorded them."""
    monkeypatch.setattr(ledger_module, "datetime", RecordedClock)
    monkeypatch.setattr(ledger_deciding, "datetime", RecordedClock)
    copy = bootstrap(Settings(database_url=url))
    try:
        upgrade(copy.database)
        groups: list[list[RecordedEvent]] = []
        for row in rows:
            if groups and (groups[-1][-1].recorded_at, groups[-1][-1].recorded_by) == (
                row.recorded_at,
                row.recorded_by,
            ):
                groups[-1].append(row)
            else:
                groups.append([row])
        for group in groups:
            RecordedClock.instant = group[0].recorded_at
            by = json.loads(group[0].recorded_by) if group[0].recorded_by else None
            results = copy.ledger.append(
                [
                    {
                        "type": row.type,
                        "project": row.project,
                        "key": row.key,
                        "date": row.date.isoformat(),
                        "data": json.loads(row.data),
                    }
                    for row in group
                ],
                recorded_by=RecordedBy(by["name"], by["role"], by["channel"]) if by else None,
            )
            assert all(r.status == "recorded" for r in results), [r.to_json() for r in results]
        copied = copy.ledger.stream(PROJECT)
    finally:
        copy.close()
        monkeypatch.undo()
    # The same chain: versions, data, instants and hashes. Not `position`, which no hash covers:
    # PostgreSQL's sequence may skip a number (on the first database a position was skipped before
    # the taxi, recorded after the CLI's claim, and none in the copy), so positions are not
    # reproducible; each claim keeps the position it was made from in its data.
    assert [(row.version, row.data, row.recorded_at, row.hash) for row in copied] == [
        (row.version, row.data, row.recorded_at, row.hash) for row in rows
    ]


def test_a_project_claimed_invoiced_and_paid_from_offer_to_closure(
    app: App, database_url: str, copy_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    record(app, [offer(date="2024-12-01", start="2025-01-01"), PROFILE])
    rendered: dict[str, dict[str, bytes]] = {}
    for number, (quarter, (last_day, on, extra)) in enumerate(QUARTERS.items(), start=1):
        spend = [
            claim(f"{quarter}-{category}", amount, category=category, date=last_day)
            for category, amount in STANDARD.items()
        ]
        spend += [
            claim(f"{quarter}-{category}", amount, category=category, date=day)
            for category, amount, day in extra
        ]
        spend.append(
            claim(f"{quarter}-course", "500.00", category="associate_development", date=last_day[:8] + "01")
        )
        if quarter == "2025Q3":
            # The late cost of claimed 2025Q2, and a refund on this quarter's course.
            spend.append(claim("courier", "87.65", category="consumables", date="2025-06-15"))
            spend.append(reversal("course-refund", "2025Q3-course", "120.00", date="2025-09-20"))
        record(app, spend)
        narrated = NARRATIVES.get(quarter, {})
        passes = [part for line, words in narrated.items() for part in ("--narrative", f"{line}={words}")]
        args = ("claim", "submit", PROJECT, "--quarter", quarter, "--date", on, "--format", "json")
        if narrated:
            # Refused without its narratives: each line named with its variance, nothing recorded.
            before = head(app)
            code, out, err = run_cli(database_url, *args)
            assert code == 1, out
            assert "R-45" in err
            for line in narrated:
                assert f"--narrative {line}=TEXT" in err
            assert head(app) == before
            if quarter == "2025Q2":
                assert "travel_subsistence: actual 123.45 against forecast 0.00, variance 123.45" in err
        code, out, err = run_cli(database_url, *args, *passes)
        assert code == 0, err
        submitted = json.loads(out)
        assert (submitted["status"], submitted["number"], submitted["grant"]) == (
            "recorded",
            number,
            CLAIMS[quarter],
        )
        assert {name for name, line in submitted["lines"].items() if line["narrative"]} == set(narrated)
        rendered[quarter] = packs(database_url, quarter, tmp_path / "submitted")
        if quarter == "2025Q3":
            lines = submitted["lines"]
            assert (lines["consumables"]["grant"], lines["consumables"]["prior_period"]) == (
                "268.00",
                "58.73",
            )
            assert (lines["associate_development"]["actual"], lines["associate_development"]["grant"]) == (
                "380.00",
                "254.60",
            )
            assert (lines["travel_subsistence"]["variance"], lines["travel_subsistence"]["grant"]) == (
                "-270.00",
                "656.60",
            )
            assert (submitted["quarter_grant"], submitted["prior_period"]) == ("13909.20", "58.73")
        if quarter == "2026Q4":
            assert submitted["final_quarter"] is True
            final_claim_version = submitted["version"]
            # After the final claim, before closure: a taxi dated in the final quarter.
            record(app, [claim("taxi", "45.67", category="travel_subsistence", date="2026-12-20")])
        code, out, err = run_cli(
            database_url, "invoice", PROJECT, "--quarter", quarter, "--date", on, "--format", "json"
        )
        assert code == 0, err
        invoiced = json.loads(out)
        assert invoiced["amount"] == INVOICES[quarter], quarter
        if quarter == "2025Q3":
            assert (invoiced["quarter_costs"], invoiced["prior_period"]) == ("6850.80", "28.92")
        if quarter == "2026Q4":
            assert (invoiced["quarter_costs"], invoiced["offer_top_up"]) == ("6549.07", "86.87")
            record(app, [event("ProjectClosed", "close", "2027-01-25", {})])
        paid_on = f"{on[:8]}2{on[9]}"  # the 27th or 28th of the claim's month
        record(
            app,
            [
                event(
                    "GrantPayment",
                    f"pay-claim-{number}",
                    paid_on,
                    {"amount": CLAIMS[quarter], "claim": number},
                )
            ],
        )
        code, _, err = run_cli(
            database_url, "invoice-payment", PROJECT, "--invoice", invoiced["number"], "--amount", invoiced["amount"],
            "--date", paid_on,
        )  # fmt: skip
        assert code == 0, err
    # The final adjustment is paid without naming a claim (it is on none).
    record(app, [event("GrantPayment", "pay-final", "2027-03-01", {"amount": "30.60"})])

    # The claims add up to the final reconciliation's grant with the final adjustment, to the penny.
    rows = app.ledger.stream(PROJECT)
    statement = reconciliation(app.database, PROJECT)
    assert statement["final"] is True
    final_grant = Decimal(statement["totals"]["grant"])
    assert final_grant == Decimal("108698.64")
    at_final_claim = ProjectState(project=PROJECT, track_keys=False)
    for row in rows[: final_claim_version - 1]:  # the ledger the final claim was made from
        at_final_claim.apply(row.event(), row.version, row.hash)
    grant_then = reconcile(at_final_claim, History()).total("grant")
    adjustment = final_grant - grant_then
    assert (grant_then, adjustment) == (Decimal("108668.04"), Decimal("30.60"))
    claims = statement["receivables"]["grant"]["claims"]
    assert sum((Decimal(row["claimed"]) for row in claims), ZERO) + adjustment == final_grant
    assert [(row["claimed"], row["paid"], row["outstanding"]) for row in claims] == [
        (amount, amount, "0.00") for amount in CLAIMS.values()
    ]
    assert statement["balance_due"] == "0.00"
    # The business: invoiced its share (topped up to the offer, R-32), and paid.
    business = statement["receivables"]["business"]
    assert (business["invoiced"], business["received"], business["outstanding"]) == (
        "53625.00",
        "53625.00",
        "0.00",
    )
    assert business["offer_check"] == {
        "rule": "R-32",
        "offer_total": "53625.00",
        "share_of_eligible": "53538.13",
        "top_up": "86.87",
        "contribution_due": "53625.00",
        "invoiced_at_least_offer": True,
    }
    assert statement["totals"]["business"] == "53538.13"

    # Replay reproduces every submitted claim byte for byte: the event as stored is the claim
    # re-worked from the ledger up to its version, narratives put back ...
    claimed = [row for row in rows if row.type == ClaimSubmitted.TYPE]
    assert len(claimed) == 8
    for row in claimed:
        data = json.loads(row.data)
        upto = [(item.event(), item.version, item.hash) for item in rows if item.version <= data["version"]]
        narratives = {
            Category(name): line["narrative"] for name, line in data["lines"].items() if line.get("narrative")
        }
        again = claim_worked(PROJECT, upto, data["quarter"]).with_narratives(narratives)
        assert canonical_json(again.data(data["number"], data["position"])) == row.data
    # ... and each quarter's pack, rendered when it was submitted, is the same bytes now, after
    # `ktpledger replay`, and from a copy of the ledger in a fresh database.
    for quarter, made in rendered.items():
        assert packs(database_url, quarter, tmp_path / "end") == made, quarter
    code, _, err = run_cli(database_url, "replay")
    assert code == 0, err
    for quarter, made in rendered.items():
        assert packs(database_url, quarter, tmp_path / "replayed") == made, quarter
    copy_ledger(rows, copy_url, monkeypatch)
    for quarter, made in rendered.items():
        assert packs(copy_url, quarter, tmp_path / "copy") == made, quarter
