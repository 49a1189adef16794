"""A recorded event the rule core cannot read or fold is one refusal, `UnreadableEvent` (R-30),
naming the row (project, version, position, type) and the cause; never a crash, and the state it
was to be folded into is left as it was. No database: rows are built in memory."""

from __future__ import annotations

import pickle
from datetime import UTC, date, datetime
from decimal import Decimal

import pytest

from ktpledger.domain.chain import canonical_json
from ktpledger.domain.errors import UnreadableEvent
from ktpledger.domain.events import Event, SpendClaimed
from ktpledger.domain.live import LiveProject
from ktpledger.domain.project import ProjectState
from ktpledger.domain.recorded import RecordedEvent, located
from ktpledger.domain.rules import Category
from ktpledger.domain.timeline import state_as_of
from ktpledger.service.ledger import fold, unreadable_rows
from tests.projections.poison import POISONED, bad_offer

AT = datetime(2026, 12, 4, 9, 0, tzinfo=UTC)
CLAIM = {"category": "consumables", "amount": "10.00", "description": "x", "tags": []}


def row(version: int, event_type: str, data: str, *, on: date = date(2025, 1, 15)) -> RecordedEvent:
    return RecordedEvent(100 + version, POISONED, version, event_type, 1, f"k{version}", on, data, AT, "", "")


def offer_row(kind: str = "") -> RecordedEvent:
    event = bad_offer(kind)
    return row(1, "GrantOffered", canonical_json(event.payload.to_data()), on=event.date)


@pytest.mark.parametrize(
    ("event_type", "data", "cause"),
    [
        ("SpendClaimed", '{"category": ', "its data is not JSON"),
        # Read by the scanner `json.loads` ends in (`recorded._json_of`): what follows the object is
        # refused as `json.loads` refuses it, and so is text that is no JSON at all.
        ("SpendClaimed", canonical_json(CLAIM) + " x", "its data is not JSON (Extra data: line 1 column"),
        ("SpendClaimed", "nothing", "its data is not JSON (Expecting value: line 1 column 1"),
        ("SpendClaimed", "[1, 2]", "its data is not a JSON object"),
        ("GrantWithdrawn", "{}", 'R-30: unknown event type "GrantWithdrawn"'),
        ("SpendClaimed", canonical_json({**CLAIM, "amount": "12.3.4"}), "R-22: amount must be an amount"),
        ("SpendClaimed", canonical_json({**CLAIM, "amount": "NaN"}), "R-22"),
        ("SpendClaimed", canonical_json({k: v for k, v in CLAIM.items() if k != "category"}), "R-01"),
        ("LMCDecision", canonical_json({"kind": "virement"}), "R-"),
    ],
)
def test_a_row_that_cannot_be_rebuilt_is_refused_naming_it(event_type: str, data: str, cause: str) -> None:
    with pytest.raises(UnreadableEvent) as caught:
        row(3, event_type, data).event()
    error = caught.value
    assert (error.rule, error.project, error.version, error.position, error.event_type) == (
        "R-30",
        POISONED,
        3,
        103,
        event_type,
    )
    assert error.cause.startswith(cause)
    assert error.message.startswith(
        f"recorded event 3 of project {POISONED} (position 103, {event_type}) cannot be read: "
    )
    assert error.as_dict()["event"] == {
        "project": POISONED,
        "version": 3,
        "position": 103,
        "type": event_type,
    }


@pytest.mark.parametrize(
    "data",
    [
        canonical_json(CLAIM),
        f" {canonical_json(CLAIM)}\n",  # whitespace around it, as `json.loads` takes it
        '{"tags": [], "description": "x", "amount": "10.00", "category": "consumables"}',
    ],
)
def test_a_claim_row_is_read_whatever_its_json_s_spacing(data: str) -> None:
    payload = row(3, "SpendClaimed", data).event().payload
    assert payload == SpendClaimed(Category.CONSUMABLES, Decimal("10.00"), "x")


def test_a_claim_stored_without_its_tags_is_read_as_parsing_reads_it() -> None:
    stored = canonical_json({k: v for k, v in CLAIM.items() if k != "tags"})
    payload = row(3, "SpendClaimed", stored).event().payload
    assert payload == SpendClaimed(Category.CONSUMABLES, Decimal("10.00"), "x")


def test_an_offer_whose_period_ends_after_year_9999_is_refused_and_changes_nothing() -> None:
    state = ProjectState(project=POISONED)
    with pytest.raises(UnreadableEvent) as caught:
        state.apply(bad_offer("year_9999"), 1, "h1")
    assert (caught.value.version, caught.value.position, caught.value.cause) == (
        1,
        None,
        "year 10002 is out of range",
    )
    assert (state.version, state.head_hash, state.offer, state.keys) == (0, "", None, {})


def test_an_offer_no_rule_set_covers_is_refused_naming_the_rule() -> None:
    with pytest.raises(UnreadableEvent) as caught:
        ProjectState(project=POISONED).apply(bad_offer("refused_offer"), 1)
    assert caught.value.cause.startswith(
        "R-31: no KTP costs guidance ktpledger knows was in force on 2020-01-01"
    )


def test_a_reversal_of_a_claim_the_stream_does_not_hold_is_refused() -> None:
    rows = [offer_row(), row(2, "ClaimReversed", canonical_json({"claim": "c9", "reason": "x"}))]
    with pytest.raises(UnreadableEvent) as caught:
        fold(POISONED, rows)
    assert (caught.value.version, caught.value.position) == (2, 102)
    assert 'reverses claim "c9", which the project does not hold' in caught.value.cause


def test_every_fold_of_rows_names_the_position() -> None:
    rows = [offer_row("year_9999")]
    for folding in (
        lambda: fold(POISONED, rows),
        lambda: LiveProject.new(POISONED).apply_append(rows),
    ):
        with pytest.raises(UnreadableEvent) as caught:
            folding()
        assert (caught.value.version, caught.value.position) == (1, 101)
    # A fold handed (event, version, hash) cannot know the position: `located` gives it.
    with pytest.raises(UnreadableEvent) as caught, located(rows):
        state_as_of(POISONED, ((r.event(), r.version, r.hash) for r in rows), date(2030, 1, 1))
    assert caught.value.position == 101


def test_unreadable_rows_marks_each_row_it_cannot_rebuild_and_where_the_fold_stops() -> None:
    rows = [
        offer_row(),
        row(2, "ClaimReversed", canonical_json({"claim": "c9", "reason": "x"})),  # folds no further
        row(3, "SpendClaimed", canonical_json(CLAIM)),  # readable: not marked
        row(4, "SpendClaimed", "not json"),  # cannot be rebuilt: marked
    ]
    assert {version: error.position for version, error in unreadable_rows(rows).items()} == {2: 102, 4: 104}


def test_the_refusal_crosses_processes_whole() -> None:
    error = UnreadableEvent(POISONED, 3, 103, "SpendClaimed", "its data is not JSON")
    again = pickle.loads(pickle.dumps(error))
    assert (again.message, again.as_dict()) == (error.message, error.as_dict())


def test_a_healthy_stream_folds_as_before() -> None:
    claim = Event(
        POISONED, "c1", date(2025, 1, 15), SpendClaimed(Category.CONSUMABLES, Decimal("10.00"), "x")
    )
    state = ProjectState(project=POISONED)
    state.apply(bad_offer(""), 1)
    state.apply(claim, 2)
    assert (state.version, state.end, state.spent) == (
        2,
        date(2026, 9, 30),
        {Category.CONSUMABLES: Decimal("10.00")},
    )
