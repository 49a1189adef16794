"""The ledger's contract, run on SQLite and on PostgreSQL alike (R-30..R-36)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import func, select

from ktpledger.adapters.tables import events as events_table
from ktpledger.bootstrap import App
from ktpledger.service.json_input import load_json_lines
from tests.examples import LIFECYCLE
from tests.ledger.factory import PROJECT, claim, decision, event, offer, reversal

EXAMPLE = LIFECYCLE


def count(app: App) -> int:
    with app.database.read() as connection:
        return int(connection.execute(select(func.count()).select_from(events_table)).scalar_one())


def append_one(app: App, item: Any) -> dict[str, Any]:
    [result] = app.ledger.append([item])
    return result.to_json()


def assert_refused(app: App, item: Any, rule: str, *, words: str = "") -> dict[str, Any]:
    """`item` is rejected naming `rule`, and nothing new is recorded."""
    before = count(app)
    result = append_one(app, item)
    assert result["status"] == "rejected", result
    assert result["error"]["rule"] == rule, result
    assert words.lower() in result["error"]["message"].lower(), result
    assert count(app) == before
    return result


@pytest.fixture
def project(app: App) -> App:
    assert append_one(app, offer())["status"] == "recorded"
    return app


# --- recording ----------------------------------------------------------------------------------


def test_the_example_lifecycle_is_recorded_in_order(app: App) -> None:
    results = app.ledger.append(load_json_lines(EXAMPLE.read_text()))
    assert [r.status for r in results] == ["recorded"] * 10
    assert [r.version for r in results] == list(range(1, 11))
    stream = app.ledger.stream("KTP-0042")
    assert [e.version for e in stream] == list(range(1, 11))
    positions = [e.position for e in stream]
    assert positions == sorted(positions)
    assert app.ledger.verify() == (10, None)


def test_recorded_events_carry_version_position_recorded_at_and_a_chained_hash(project: App) -> None:
    append_one(project, claim("c1", "184.20", category="travel_subsistence"))
    first, second = project.ledger.stream(PROJECT)
    as_json = second.to_json()
    assert as_json["data"] == {
        "category": "travel_subsistence",
        "amount": "184.20",
        "description": "claim c1",
        "tags": [],
    }
    assert as_json["version"] == 2 and as_json["position"] > first.position
    assert second.prev_hash == first.hash and len(second.hash) == 64
    assert first.prev_hash == ""


def test_two_dates_a_backdated_claim_is_visible_as_such(project: App) -> None:
    append_one(project, claim("old", date="2024-10-02"))
    recorded = project.ledger.stream(PROJECT)[-1]
    assert recorded.date.isoformat() == "2024-10-02"
    recorded_at = (
        recorded.recorded_at if recorded.recorded_at.tzinfo else recorded.recorded_at.replace(tzinfo=UTC)
    )
    assert (datetime.now(UTC) - recorded_at).total_seconds() < 60
    assert recorded.to_json()["recorded_at"].endswith("Z")


def test_money_is_normalised_to_two_decimals_whatever_its_spelling(project: App) -> None:
    assert append_one(project, claim("a", "12.5"))["status"] == "recorded"
    assert append_one(project, claim("b", 13))["status"] == "recorded"
    amounts = [json.loads(e.data).get("amount") for e in project.ledger.stream(PROJECT)[1:]]
    assert amounts == ["12.50", "13.00"]


# --- idempotency --------------------------------------------------------------------------------


def test_same_key_same_content_is_a_duplicate_with_no_new_row(project: App) -> None:
    first = append_one(project, claim("c1", "12.50"))
    before = count(project)
    again = append_one(project, claim("c1", "12.5"))
    assert again["status"] == "duplicate" and again["version"] == first["version"]
    assert count(project) == before


def test_same_key_other_content_is_a_conflict(project: App) -> None:
    append_one(project, claim("c1", "12.50"))
    assert_refused(project, claim("c1", "13.00"), "R-30", words="other content")


def test_a_duplicate_inside_one_batch_is_recorded_once(project: App) -> None:
    results = project.ledger.append([claim("c1"), claim("c1"), claim("c1", "1.00")])
    assert [r.status for r in results] == ["recorded", "duplicate", "rejected"]


def test_recorded_keys_in_a_batch_after_batches_of_new_keys_are_still_found(project: App) -> None:
    """A batch's keys are taken as new (not looked up: `Ledger._append_locked`) until the unique
    index refuses one; one the ledger holds is still a duplicate, or a
    conflict with other content, and the rest of the batch is recorded once, in order, on its
    chain, whether it goes in by COPY (PostgreSQL, 16 rows or more) or by INSERT."""
    project.ledger.append([claim(f"a{number}", "1.00") for number in range(20)])
    project.ledger.append([claim(f"b{number}", "1.00") for number in range(20)])
    before = count(project)
    batch = [claim(f"c{number}", "1.00") for number in range(20)]
    batch[5] = claim("a3", "1.00")  # recorded, same content
    batch[9] = claim("b4", "2.00")  # recorded, other content
    results = project.ledger.append(batch)
    statuses = [result.status for result in results]
    assert statuses == ["recorded"] * 5 + ["duplicate"] + ["recorded"] * 3 + ["rejected"] + ["recorded"] * 10
    assert results[5].version == 1 + 1 + 3  # the offer, a0..a2, a3
    assert results[9].error is not None and results[9].error.rule == "R-30"
    assert [result.version for result in results if result.status == "recorded"] == list(
        range(before + 1, before + 19)
    )
    assert count(project) == before + 18
    assert project.ledger.verify()[1] is None
    # Once more with a small batch (INSERT on both databases), after one that found keys held.
    again = project.ledger.append([claim("b5", "1.00"), claim("d1", "1.00")])
    assert [result.status for result in again] == ["duplicate", "recorded"]


# --- refusals: each names its rule and records nothing -------------------------------------------


@pytest.mark.parametrize(
    ("change", "rule", "words"),
    [
        ({"budget": {"associate_employment": "120000"}}, "R-31", "maximum"),  # 24 months: 110,000
        ({"london": True, "budget": {"associate_employment": "116001"}}, "R-31", "maximum"),
        ({"budget": {"associate_development": "4001"}}, "R-31", "maximum"),
        ({"budget": {"associate_estates": "10001"}}, "R-31", "maximum"),
        ({"budget": {"travel_subsistence": "2501"}}, "R-31", "justification"),
        ({"budget": {"consumables": "4001"}}, "R-31", "justification"),
        ({"budget": {"academic_secretarial_support": "1"}}, "R-31", "does not exist"),
        ({"budget": {"knowledge_base_overheads": "1"}}, "R-31", "does not exist"),
        ({"methodology": "non_fec", "budget": {"knowledge_base_overheads": "1"}}, "R-19", "derived"),
        ({"methodology": "non_fec", "budget": {"academic_secretarial_support": "30001"}}, "R-31", "maximum"),
        ({"virtual": True, "london": True}, "R-11", "virtual"),
        ({"months": 0}, "R-02", "months"),
        ({"months": 61}, "R-02", "months"),
        ({"months": "24"}, "R-02", "whole number"),
        ({"methodology": "fecc"}, "R-01", "fec, non_fec"),
        ({"business_type": "charity"}, "R-03", "sme"),
        ({"budget": {"consumables": "100.50"}}, "R-20", "whole pounds"),
        ({"budget": {"consumables": "-5"}}, "R-22", "0 or more"),
        ({"budget": {"telescopes": "5"}}, "R-01", "budget names an unknown category"),
        ({"grant_rate": "1.5"}, "R-03", "at most 1"),
        ({"start": "2024-02-30"}, "R-01", "calendar date"),
        ({"title": ""}, "R-31", "title"),
    ],
)
def test_grant_offer_refusals(app: App, change: dict[str, Any], rule: str, words: str) -> None:
    body, change = offer(), dict(change)
    if "budget" in change:
        budget = {**body["data"]["budget"], **change.pop("budget")}
        if change.get("methodology") == "non_fec":
            budget = {
                k: v
                for k, v in budget.items()
                if k not in ("knowledge_base_supervisor", "associate_estates", "additional_associate_support")
            }
        body["data"]["budget"] = budget
    body["data"].update(change)
    assert_refused(app, body, rule, words=words)


def test_a_justified_soft_line_above_standard_is_accepted(app: App) -> None:
    body = offer(budget={"travel_subsistence": "5000"}, justifications={"travel_subsistence": "three sites"})
    assert append_one(app, body)["status"] == "recorded"


def test_a_second_offer_is_refused(project: App) -> None:
    assert_refused(project, offer(key="offer-2"), "R-31", words="already has a grant offer")


def test_an_offer_dated_before_the_rule_sets_is_refused(app: App) -> None:
    assert_refused(app, offer(date="2022-12-01"), "R-31", words="2023-01-26")


@pytest.mark.parametrize(
    ("item", "rule", "words"),
    [
        (claim("c", project="KTP-9999"), "R-31", "unknown project"),
        (claim("c", category="telescopes"), "R-01", "unknown category"),
        (claim("c", category="academic_secretarial_support"), "R-33", "does not exist"),
        (claim("c", category="knowledge_base_overheads"), "R-33", "does not exist for a fec project"),
        (claim("c", "0"), "R-22", "greater than 0"),
        (claim("c", "-10.00"), "R-22", "greater than 0"),
        (claim("c", "10.001"), "R-22", "2 decimal places"),
        (claim("c", "ten pounds"), "R-22", "amount in pounds"),
        (claim("c", "NaN"), "R-22", "finite"),
        (claim("c", date="2024-09-30"), "R-33", "outside the project's period"),
        (claim("c", date="2026-10-01"), "R-33", "outside the project's period"),
        (claim("c", date="2025/01/01"), "R-30", "YYYY-MM-DD"),
        (claim("c", tags=["gold_plated"]), "R-33", "unknown tag"),
        (claim("c", tags=["computer"], category="travel_subsistence"), "R-33", "applies to consumables"),
        ({**claim("c"), "type": "SpendClaimd"}, "R-30", "unknown event type"),
        ({**claim("c"), "extra": 1}, "R-30", "no field"),
        ({**claim("c"), "key": ""}, "R-30", "key"),
        ({**claim("c"), "key": "a\x00b"}, "R-30", "printable"),
        (
            event(
                "SpendClaimed",
                "c",
                "2025-01-01",
                {"category": "consumables", "amount": "5", "description": "a\x00"},
            ),
            "R-33",
            "NUL",
        ),
        ({**claim("c"), "project": "bad project!"}, "R-30", "project"),
        (
            event("SpendClaimed", "c", "2025-01-01", {"category": "consumables", "amount": "5"}),
            "R-33",
            "description",
        ),
        (
            event("SpendClaimed", "c", "2025-01-01", {"category": "consumables", "description": "x"}),
            "R-22",
            "required",
        ),
        (
            event(
                "SpendClaimed",
                "c",
                "2025-01-01",
                {"category": "consumables", "amount": "5", "description": "x", "amont": 1},
            ),
            "R-30",
            'no field "amont"',
        ),
        ("not an object", "R-30", "JSON object"),
    ],
)
def test_claim_refusals(project: App, item: Any, rule: str, words: str) -> None:
    assert_refused(project, item, rule, words=words)


def test_non_fec_overheads_are_never_claimed_directly(app: App) -> None:
    budget = {"associate_employment": "90000", "academic_secretarial_support": "30000", "consumables": "4000"}
    append_one(app, offer(methodology="non_fec", budget=budget))
    assert_refused(app, claim("c", category="knowledge_base_overheads"), "R-19", words="derived")
    assert append_one(app, claim("c", category="academic_secretarial_support"))["status"] == "recorded"


def test_a_float_amount_through_the_python_api_is_refused(project: App) -> None:
    assert_refused(project, claim("c", 10.5), "R-22", words="decimal string")  # type: ignore[arg-type]


def test_a_claim_over_budget_is_recorded_spend_happened(project: App) -> None:
    assert append_one(project, claim("big", "9999.99"))["status"] == "recorded"


def test_an_extension_admits_later_claims(project: App) -> None:
    assert_refused(project, claim("late", date="2026-11-15"), "R-33")
    assert append_one(project, decision("ext", kind="extension", months=3))["status"] == "recorded"
    assert append_one(project, claim("late", date="2026-11-15"))["status"] == "recorded"
    assert_refused(project, decision("ext2", kind="extension", months=34), "R-02", words="60")


def test_closure_refuses_later_events_but_not_grant_payments(project: App) -> None:
    append_one(project, event("ProjectClosed", "close", "2026-10-15", {}))
    assert_refused(project, claim("after"), "R-36", words="closed")
    assert_refused(project, event("ProjectClosed", "close-2", "2026-10-16", {}), "R-36")
    assert_refused(project, decision("v", kind="extension", months=1), "R-36")
    payment = event("GrantPayment", "final-payment", "2026-12-01", {"amount": "1000.00"})
    assert append_one(project, payment)["status"] == "recorded"


def test_virement_refusals(project: App) -> None:
    append_one(project, claim("c1", "3500.00", category="consumables"))
    assert_refused(
        project,
        decision(
            "v1",
            kind="virement",
            **{"from": "consumables", "to": "associate_employment", "amount": "501", "minute": "LMC2"},
        ),
        "R-32",
        words="already claimed",
    )
    assert_refused(
        project,
        decision(
            "v2",
            kind="virement",
            **{
                "from": "additional_associate_support",
                "to": "associate_employment",
                "amount": "10001",
                "minute": "LMC2",
            },
        ),
        "R-32",
        words="maximum",
    )
    assert_refused(
        project,
        decision(
            "v3",
            kind="virement",
            **{
                "from": "additional_associate_support",
                "to": "travel_subsistence",
                "amount": "1",
                "minute": "LMC2",
            },
        ),
        "R-40",
        words="approve an exceedance",
    )
    assert_refused(
        project,
        decision(
            "v4",
            kind="virement",
            **{"from": "consumables", "to": "consumables", "amount": "1", "minute": "x"},
        ),
        "R-32",
    )
    assert_refused(
        project,
        decision("v5", kind="virement", **{"from": "consumables", "to": "travel_subsistence", "amount": "1"}),
        "R-32",
        words="minute",
    )
    assert_refused(project, decision("v6", kind="sideways"), "R-32", words="unknown LMC decision kind")
    ok = decision(
        "v7",
        kind="virement",
        **{"from": "consumables", "to": "associate_employment", "amount": "500", "minute": "LMC2"},
    )
    assert append_one(project, ok)["status"] == "recorded"


def test_an_approved_exceedance_lets_a_virement_take_a_standard_line_higher(project: App) -> None:
    move = decision(
        "v",
        kind="virement",
        **{
            "from": "additional_associate_support",
            "to": "travel_subsistence",
            "amount": "1000",
            "minute": "LMC2",
        },
    )
    assert_refused(project, move, "R-40")
    approval = decision(
        "a",
        kind="approve_exceedance",
        category="travel_subsistence",
        limit="3500",
        justification="site visits",
        approved_by="KTP programme manager",
    )
    assert append_one(project, approval)["status"] == "recorded"
    assert append_one(project, move)["status"] == "recorded"
    assert_refused(
        project,
        decision(
            "a2",
            kind="approve_exceedance",
            category="associate_employment",
            limit="200000",
            justification="x",
            approved_by="y",
        ),
        "R-32",
        words="only a standard line",
    )


def test_virtual_business_travel_may_not_be_vired(app: App) -> None:
    append_one(app, offer(virtual=True))
    move = decision(
        "v",
        kind="virement",
        **{"from": "travel_subsistence", "to": "consumables", "amount": "100", "minute": "LMC2"},
    )
    assert_refused(app, move, "R-32", words="virtual")
    revision = decision(
        "r",
        kind="budget_revision",
        budget={"travel_subsistence": "2000", "consumables": "4000"},
        minute="LMC2",
    )
    assert_refused(app, revision, "R-32", words="virtual")


def test_budget_revision_may_not_lower_the_business_contribution(project: App) -> None:
    lower = decision("r1", kind="budget_revision", budget={"associate_employment": "90000"}, minute="LMC2")
    assert_refused(project, lower, "R-32", words="contribution")
    over = decision("r2", kind="budget_revision", budget={"associate_employment": "110001"}, minute="LMC2")
    assert_refused(project, over, "R-32", words="maximum")
    same = decision(
        "r3",
        kind="budget_revision",
        budget={"associate_employment": "101000", "additional_associate_support": "35000"},
        minute="LMC2",
    )
    assert append_one(project, same)["status"] == "recorded"
    higher = decision("r4", kind="budget_revision", budget={"associate_employment": "110000"}, minute="LMC3")
    assert append_one(project, higher)["status"] == "recorded"


@pytest.mark.parametrize(
    ("item", "rule", "words"),
    [
        (reversal("r", "nope"), "R-34", "no SpendClaimed"),
        (reversal("r", "c1", "150.00"), "R-34", "more than"),
        (reversal("r", "c1", "0"), "R-22", "greater than 0"),
        (reversal("r", "c1", date="2025-01-01"), "R-34", "precede"),
        (reversal("r", "offer"), "R-34", "no SpendClaimed"),
    ],
)
def test_reversal_refusals(project: App, item: Any, rule: str, words: str) -> None:
    append_one(project, claim("c1", "100.00"))
    assert_refused(project, item, rule, words=words)


def test_reversals_partial_then_the_rest_then_nothing_left(project: App) -> None:
    append_one(project, claim("c1", "100.00"))
    assert append_one(project, reversal("r1", "c1", "20.00"))["status"] == "recorded"
    assert append_one(project, reversal("r2", "c1"))["status"] == "recorded"
    assert_refused(project, reversal("r3", "c1"), "R-34", words="in full")
    state = project.ledger.state(PROJECT)
    assert state.spent["consumables"] == 0


def test_parental_leave_and_payments(project: App) -> None:
    leave = event("ParentalLeaveCost", "pl", "2025-06-30", {"amount": "2400.00", "description": "paternity"})
    assert append_one(project, leave)["status"] == "recorded"
    assert_refused(
        project, event("ParentalLeaveCost", "pl2", "2027-01-01", {"amount": "1", "description": "x"}), "R-35"
    )
    assert_refused(project, event("GrantPayment", "p", "2024-01-01", {"amount": "1"}), "R-42")
    assert_refused(project, event("GrantPayment", "p", "2025-01-01", {"amount": "-1"}), "R-22")


def test_a_rejected_event_in_a_batch_does_not_stop_the_others(project: App) -> None:
    results = project.ledger.append([claim("a"), claim("b", "-1"), claim("c")])
    assert [r.status for r in results] == ["recorded", "rejected", "recorded"]
    assert [r.version for r in results if r.version] == [2, 3]


def test_a_batch_can_create_and_use_a_project(app: App) -> None:
    results = app.ledger.append(
        [offer("P-1"), claim("c", project="P-1"), offer("P-2"), claim("c", project="P-2")]
    )
    assert [r.status for r in results] == ["recorded"] * 4
    assert app.ledger.projects() == ["P-1", "P-2"]


def test_another_process_appending_is_seen_through_the_cache(app: App) -> None:
    from ktpledger.bootstrap import bootstrap

    other = bootstrap(app.settings)
    try:
        append_one(app, offer())
        append_one(app, claim("c1", "100.00"))
        # The other process's cache is cold; then this one's is stale.
        assert append_one(other, reversal("r1", "c1"))["status"] == "recorded"
        assert_refused(app, reversal("r2", "c1"), "R-34", words="in full")
        assert append_one(app, claim("c2"))["version"] == 4
    finally:
        other.close()
