"""The project page's summary read from the projector's rows (its stored facts of the head, with
spend by month and the decisions' versions, `PageFacts`) is the summary folded from the stream, on
both databases: after each step of the demo's stories (the fec one, with two claims dated before
a month already claimed in, and the non-fec one, with its derived overheads), on days before,
during and after their periods; and a project the projector has not caught up with yet is folded,
so its summary is still the current one. Spend by month kept event by event is the as-of fold of
every prefix of the stream."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date

import pytest

import ktpledger.service.project_summary as summaries
from ktpledger.bootstrap import App, bootstrap
from ktpledger.cli.demo import record_items
from ktpledger.demo_story import NON_FEC_PROJECT, NON_FEC_STORY, PROJECT, STORY, quarters
from ktpledger.domain.live import LiveProject
from ktpledger.domain.month_ends import FACT_TYPES, MonthEnds, figures_as_of, figures_of, month_of
from ktpledger.domain.recorded import RecordedEvent
from ktpledger.domain.timeline import month_end_states
from ktpledger.service.schema import upgrade
from ktpledger.service.stored_facts import FactsCache, current_facts
from ktpledger.settings import Settings

STORIES = [(PROJECT, STORY), (NON_FEC_PROJECT, NON_FEC_STORY)]
DAYS = [date(2024, 3, 20), date(2024, 11, 5), date(2025, 6, 30), date(2026, 2, 14), date(2026, 9, 1)]


class NoWakeUps:
    """Appends wake no projector: the test says when the workers catch up."""

    def projects_changed(self, projects: set[str]) -> None:
        return None


@pytest.fixture
def app(database_url: str) -> Iterator[App]:
    application = bootstrap(Settings(database_url=database_url), wakeup=NoWakeUps())
    upgrade(application.database)
    yield application
    application.close()


def both(app: App, project: str, today: date) -> tuple[dict[str, object], dict[str, object]]:
    """The summary `project_summary` gives, and the same project folded from its stream."""
    read = summaries.project_summary(app, project, today=today).to_json()
    folded = summaries.folded_summary(app, project, today=today).to_json()
    return read, folded


@pytest.mark.parametrize(("project", "story"), STORIES, ids=["fec", "non_fec"])
def test_the_summary_from_rows_is_the_folded_one_after_each_step(app: App, project: str, story: str) -> None:
    for heading, items in quarters(story):  # bounded: the story's steps
        results, _ = record_items(app, project, items)
        assert all(result.error is None for result in results), heading
        # Not caught up: the stored facts are behind the head, so the summary is folded (current).
        assert summaries.maintained_summary(app, project, today=DAYS[2]) is None, heading
        read, folded = both(app, project, DAYS[2])
        assert read == folded, heading
        app.projector.catch_up(project)
        for today in DAYS:
            assert summaries.maintained_summary(app, project, today=today) is not None, (heading, today)
            read, folded = both(app, project, today)
            assert read == folded, (heading, today)
    assert bool(folded["decisions"]) is (project == PROJECT)  # the fec story has LMC decisions
    assert len({point["cumulative"] for point in folded["spend"]["series"]}) > 3  # spend moved by month


def test_a_summary_is_folded_while_the_facts_are_of_an_older_format(app: App) -> None:
    from ktpledger.adapters.projection_sql import projection_store

    for _, items in quarters():
        record_items(app, PROJECT, items)
    app.projector.catch_up(PROJECT)
    expected = summaries.project_summary(app, PROJECT, today=DAYS[3]).to_json()
    with projection_store(app.database).write() as unit:
        [row] = unit.facts.of_projects([PROJECT])
        unit.facts.upsert([{**row, "facts": row["facts"].replace('"format":', '"format":0')}])
        unit.commit()
    assert summaries.maintained_summary(app, PROJECT, today=DAYS[3]) is None
    assert summaries.project_summary(app, PROJECT, today=DAYS[3]).to_json() == expected


def as_of_each_month(stream: list[RecordedEvent]) -> dict[tuple[int, int], object]:
    """Every line's spend and budget at the end of each month the stream's events are dated in,
    and the month after the last, folded as of that day (what the stream's reader charts)."""
    events = [(item.event(), item.version, item.hash) for item in stream]
    first = min(month_of(event.date) for event, _, _ in events)
    last = max(month_of(event.date) for event, _, _ in events)
    count = (last[0] - first[0]) * 12 + last[1] - first[1] + 2
    found = {}
    for _, ends, state in month_end_states(PROJECT, events, date(*first, 1), count):
        found[month_of(ends)] = figures_as_of(state)
    return found


def test_spend_by_month_kept_event_by_event_is_the_as_of_fold_of_every_prefix(app: App) -> None:
    """As a catch-up after every event does: fold it in, rebuild the months a back-dated event
    made stale, and the figures of every month are the as-of fold's; the same as the figures
    rebuilt from the whole prefix at once (what `replay` stores)."""
    for _, items in quarters():
        record_items(app, PROJECT, items)
    stream = app.ledger.stream(PROJECT)
    assert any(
        month_of(later.date) < month_of(earlier.date)
        for position, later in enumerate(stream)
        for earlier in stream[:position]
    ), "the story has a back-dated event"
    live = LiveProject.new(PROJECT)
    rebuilt = back_dated = 0
    for length in range(1, len(stream) + 1):  # bounded: every prefix of the demo's stream
        prefix = stream[:length]
        item = prefix[-1]
        latest = live.month_ends.latest
        back_dated += latest is not None and month_of(item.date) < latest
        live.apply(item.event(), item.version, item.hash)
        events = [(item.event(), item.version, item.hash) for item in prefix]
        if live.month_ends.stale:
            live.month_ends.rebuild(PROJECT, events)
            rebuilt += 1
        months = live.month_ends.kept()
        assert months is not None
        assert months == MonthEnds.rebuilt(PROJECT, events).kept(), length
        head = figures_of(live.ordered_lines())
        for month, figures in as_of_each_month(prefix).items():
            assert months.at_end_of(month, head) == figures, (length, month)
    # Events dated in an earlier month than one recorded before them: some made months stale and
    # were rebuilt, the other (claims) were added to the months from their own (`add_back`).
    assert back_dated > rebuilt >= 1, (back_dated, rebuilt)


def test_the_worker_keeps_the_page_facts_current(app: App) -> None:
    """A catch-up after a back-dated event rebuilds spend by month from the stream: the stored
    facts hold the page's figures again, equal to the folded summary."""
    for _, items in quarters():
        record_items(app, PROJECT, items)
        app.projector.catch_up(PROJECT)
    facts = current_facts(app.database, [PROJECT], FactsCache())[PROJECT]
    assert facts.page is not None
    assert list(facts.page.fact_versions) == [
        item.version for item in app.ledger.stream(PROJECT) if item.type in FACT_TYPES
    ]


def test_the_projector_keeps_the_versions_of_the_events_the_facts_reader_reads() -> None:
    """The facts reader (`ledger_store.fact_streams`) reads by the partial index's predicate
    (migration 0022), which names exactly the types whose versions the projector keeps."""
    import re

    from ktpledger.adapters import ledger_store
    from ktpledger.adapters.tables import EVENTS_FACTS_PREDICATE

    assert set(re.findall(r"'([A-Za-z]+)'", EVENTS_FACTS_PREDICATE)) == FACT_TYPES
    assert EVENTS_FACTS_PREDICATE in str(ledger_store._FACTS)


def test_a_catch_up_carries_on_when_the_as_of_fold_fails(app: App, monkeypatch: pytest.MonkeyPatch) -> None:
    """Should the months' as-of fold fail (it applies rows without the fold's own wrapping), the
    projection still catches up; its facts keep no page figures from then on, and the page folds."""

    def fails(self: MonthEnds, state: object, others: object) -> None:
        raise KeyError("as-of")

    monkeypatch.setattr(MonthEnds, "rebuild_held", fails)
    for _, items in quarters():
        record_items(app, PROJECT, items)
        caught = app.projector.catch_up(PROJECT)
        assert caught.failed is None
    assert app.projector.states([PROJECT])[PROJECT]["version"] == len(app.ledger.stream(PROJECT))
    facts = current_facts(app.database, [PROJECT], FactsCache())[PROJECT]
    assert facts.page is None
    assert summaries.maintained_summary(app, PROJECT, today=DAYS[2]) is None
    read, folded = both(app, PROJECT, DAYS[2])
    assert read == folded


def test_an_amended_offer_and_a_claim_recorded_late_read_the_same(app: App) -> None:
    """An offer amendment (listed among the decisions, its budget in every later month's figures)
    and then a claim dated two months before the latest event: read from the rows as folded."""
    for _, items in quarters()[:4]:  # the offer through 2024 Q4
        record_items(app, PROJECT, items)
    late = [
        {
            "type": "OfferAmended",
            "project": PROJECT,
            "key": "amend-consumables",
            "date": "2025-01-20",
            "data": {
                "reason": "the offer letter says 4,500",
                "budget": {"consumables": "4500"},
                "justifications": {"consumables": "Sensors for a second line"},
            },
        },
        {
            "type": "SpendClaimed",
            "project": PROJECT,
            "key": "late-consumables",
            "date": "2024-11-28",
            "data": {"category": "consumables", "amount": "412.30", "description": "sensors", "tags": []},
        },
    ]
    for event in late:
        [result] = app.ledger.append([event])
        assert result.error is None, result.to_json()
        app.projector.catch_up(PROJECT)
        for today in DAYS:
            assert summaries.maintained_summary(app, PROJECT, today=today) is not None
            read, folded = both(app, PROJECT, today)
            assert read == folded, (event["key"], today)
    assert [decision["kind"] for decision in folded["decisions"]] == ["offer_amended"]


@pytest.mark.parametrize(("project", "story"), STORIES, ids=["fec", "non_fec"])
def test_two_workers_taking_turns_fold_on_from_what_they_kept(
    app: App, project: str, story: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Wake-ups of one project go to any worker: each keeps its fold warm, and finds it behind
    when the other has caught up since. It folds on from what it kept (the events between folded
    quietly) instead of from a snapshot; the projection (lines, alerts, stored facts with spend by
    month) is what a replay writes, and the page reads as the stream folds."""
    import ktpledger.service.catch_up as catching_up
    from ktpledger.service.projection_check import check_projections
    from ktpledger.service.projections import Projector

    cold_starts: list[str] = []
    resume_cold = catching_up.resume_cold
    monkeypatch.setattr(
        catching_up,
        "resume_cold",
        lambda unit, name, *rest: cold_starts.append(name) or resume_cold(unit, name, *rest),
    )
    workers = (Projector(app.database), Projector(app.database))
    steps = list(quarters(story))
    for turn, (heading, items) in enumerate(steps):  # bounded: the story's steps
        results, _ = record_items(app, project, items)
        assert all(result.error is None for result in results), heading
        caught = workers[turn % 2].catch_up(project)
        assert caught.failed is None and caught.to_version == len(app.ledger.stream(project)), heading
        read, folded = both(app, project, DAYS[2])
        assert read == folded, heading
    assert len(steps) > 4 and cold_starts == [project, project]  # each worker's first catch-up only
    assert check_projections(app.database).ok
