"""The hash chain is byte-identical to what the code before issue 18's speed work computed: a fixed
stream (offer, claims with tags, non-ASCII, quotes, escapes and padding, an extension, a reversal;
recorded by nobody said, a person with a role, one without) chained at a fixed instant gives the
hashes written here, which that code gave (`domain/chain.py`, README "Tamper evidence")."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import Any

from ktpledger.domain.chain import ChainLink, canonical_json, format_instant
from ktpledger.domain.events import parse_event
from ktpledger.domain.project import ProjectState
from ktpledger.domain.recorded import RecordedBy
from ktpledger.service.ledger import new_row
from tests.ledger.factory import PROJECT, claim, decision, offer

STREAM: list[dict[str, Any]] = [
    offer(),
    claim("c1", "100.00"),
    claim("c2", "0.5", category="travel_subsistence", tags=["academic_travel", "conference"]),
    claim("c3", 12, description='caf\u00e9 \u2603 "quoted" back\\slash tab\there \U0001f600', tags=[]),  # type: ignore[arg-type]
    claim("c\u00e9-4", "3999.99", category="associate_development", date="2025-03-31"),
    decision("ext", kind="extension", months=3),
    {
        "type": "ClaimReversed",
        "project": PROJECT,
        "key": "r1",
        "date": "2025-04-01",
        "data": {"claim": "c1", "amount": "10.00", "reason": "duplicate invoice"},
    },
    claim("c5", "1.00", category="consumables", tags=["computer"], description="  padded  "),
]
BY = [None, RecordedBy("ana", "finance", "cli"), RecordedBy("b\u00f6b", None, "api")]
NOW = datetime(2025, 5, 6, 7, 8, 9, 123456, tzinfo=UTC)

# Computed by the code of 2026-12-06 before the change (main at d733f18).
EXPECTED = [
    "7006d1021a2095967ccef36ef8d78e4f1ffc2a526601781bcaf349faee11a944",
    "ae9c2416e4f2871060a208bb33d2bf690ebfbceb2eb25fdc2cda8c0a1dfb3285",
    "261e8c0935594d8fae03f6bd810449efadbcc5715cd1de9680a005cd4cb750c9",
    "03ce2cf4e6f8d7983f49daba3a66f31de44610dec2ef9d47eb05fab6b9b0a864",
    "2e8aa33e619b568195340e78e77f9a2b8e2c88794aea894a17d1c33b4962b6c4",
    "c3fc83f36920a984f0a877c54a525a22a8767d838ef096044ce031f2ba606ace",
    "91ab69f29b70c053cfbb97adc1433d717f869984c364e971b6935d6608d969dc",
    "4722046b13255eddd837828cf452b108bcccd3e9d57aa2f8c125c797b3b08148",
]


def test_a_fixed_stream_chains_to_the_hashes_the_earlier_code_gave() -> None:
    state = ProjectState(project=PROJECT)
    rows = []
    for number, raw in enumerate(STREAM):
        event = parse_event(raw)
        state.check(event)
        row = new_row(event, state, NOW, format_instant(NOW), BY[number % len(BY)])
        state.apply(event, row["version"], row["hash"])
        rows.append(row)
        # The data stored is the canonical JSON of the event's data, and re-checks with the link alone.
        assert row["data"] == canonical_json(event.payload.to_data())
        link = ChainLink(
            project=row["project"],
            version=row["version"],
            type=row["type"],
            schema_version=row["schema_version"],
            key=row["key"],
            date=row["date"].isoformat(),
            recorded_at=format_instant(NOW),
            data=row["data"],
            prev=row["prev_hash"],
            chain_version=row["chain_version"],
            recorded_by=row["recorded_by"],
        )
        assert link.digest() == row["hash"]
    assert [row["hash"] for row in rows] == EXPECTED


def test_an_instant_is_written_the_same_however_its_zone_was_given() -> None:
    """`recorded_at` as hashed: an append's `datetime.now(UTC)` (written as it is) gives the text
    the conversions give for the same instant given naive or in another zone, whole seconds
    included; a year before 1000 is written as it always was."""
    elsewhere = timezone(timedelta(hours=5, minutes=30))
    for instant, text in [
        (NOW, "2025-05-06T07:08:09.123456Z"),
        (datetime(2025, 5, 6, 7, 8, 9, tzinfo=UTC), "2025-05-06T07:08:09.000000Z"),
        (datetime(9999, 12, 31, 23, 59, 59, 999999, tzinfo=UTC), "9999-12-31T23:59:59.999999Z"),
        (
            datetime(999, 1, 2, 3, 4, 5, 6, tzinfo=UTC),
            datetime(999, 1, 2, 3, 4, 5, 6).strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
        ),
    ]:
        assert format_instant(instant) == text
        assert format_instant(instant.replace(tzinfo=None)) == text
        if instant.year < 9999:
            assert format_instant(instant.astimezone(elsewhere)) == text
