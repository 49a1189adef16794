"""Digest notifications (issue 16, item 5) against a loopback SMTP server, on both databases.

Two projects from tests.ledger.factory's offer (fec SME, 24 months from 2024-10-01; travel &
subsistence 2,500, consumables 4,000). Worked by hand:

- day 1, 30 November 2024: KTP-0042 spends 2,796 on travel: over budget by 296, and its 80% and
  90% thresholds; KTP-0043 spends 3,300 on consumables: its 80% threshold. 4 alerts open.
- day 2, 1 December 2024: KTP-0042 spends 699 more on travel: over budget by 995 (worse);
  KTP-0043 spends 900 more on consumables (4,200): over budget by 200 and its 90% threshold (new).
- day 3, 2 December 2024: KTP-0043's 900 is reversed (3,300): its over-budget and 90% alerts
  resolve.
"""

from __future__ import annotations

import email
import email.policy
import json
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select, update
from typer.testing import CliRunner

from ktpledger import cli
from ktpledger.adapters.digest_tables import digests
from ktpledger.adapters.notifiers import DigestMailer, EmailNotifier
from ktpledger.adapters.tables import alerts, notifications
from ktpledger.bootstrap import App, bootstrap
from ktpledger.digest_settings import load_recipients, parse_recipients
from ktpledger.domain.digest import DigestRecipient
from ktpledger.notify_settings import ChannelSettings
from ktpledger.service.delivery_policy import DeliveryPolicy
from ktpledger.service.digest import send_digests
from ktpledger.service.schema import upgrade
from ktpledger.settings import Settings
from tests.ledger.factory import claim, offer, reversal
from tests.notify.conftest import SmtpServer, closed_port

TS, CO = "travel_subsistence", "consumables"
A, B = "KTP-0042", "KTP-0043"
DAY1, DAY2, DAY3 = date(2024, 11, 30), date(2024, 12, 1), date(2024, 12, 2)
NOW = datetime(2024, 12, 1, 6, 0, tzinfo=UTC)
SENDER = "ktpledger@uni.example"
OFFICE = "ktp-office@uni.example"
LMC = "lmc-0043@uni.example"

RECIPIENTS = f"""
[[recipient]]
email = "{OFFICE}"

[[recipient]]
email = "{LMC}"
projects = ["{B}"]
kinds = ["over_budget"]
"""


def smtp_settings(server: SmtpServer) -> ChannelSettings:
    return ChannelSettings(
        smtp_host=server.host, smtp_port=str(server.port), smtp_from=SENDER, smtp_to="lmc@uni.example"
    )


@pytest.fixture
def recipients_file(tmp_path: Path) -> str:
    path = tmp_path / "digest.toml"
    path.write_text(RECIPIENTS, encoding="utf-8")
    return str(path)


@pytest.fixture
def digest_app(database_url: str, smtp_server: SmtpServer, recipients_file: str) -> Iterator[App]:
    """The embedded default with the log, email and digest channels on (KTPLEDGER_NOTIFY=
    log,email,digest): e-mail sends over_cap and over_budget at once, the digest the rest."""
    settings = Settings.from_env(
        {
            "KTPLEDGER_DATABASE_URL": database_url,
            "KTPLEDGER_NOTIFY": "log,email,digest",
            "KTPLEDGER_DIGEST_RECIPIENTS": recipients_file,
            "KTPLEDGER_SMTP_HOST": smtp_server.host,
            "KTPLEDGER_SMTP_PORT": str(smtp_server.port),
            "KTPLEDGER_SMTP_FROM": SENDER,
            "KTPLEDGER_SMTP_TO": "lmc@uni.example",
        }
    )
    application = bootstrap(settings)
    upgrade(application.database)
    yield application
    application.close()


def record(app: App, items: list[dict[str, Any]]) -> None:
    results = app.ledger.append(items)
    assert all(r.status == "recorded" for r in results), [r.to_json() for r in results]


def day1(app: App) -> None:
    record(
        app,
        [
            offer(A),
            claim("rail", "2796.00", category=TS, date="2024-10-20", project=A),
            offer(B),
            claim("kit", "3300.00", category=CO, date="2024-10-20", project=B),
        ],
    )


def day2(app: App) -> None:
    record(
        app,
        [
            claim("hotel", "699.00", category=TS, date="2024-11-05", project=A),
            claim("kit2", "900.00", category=CO, date="2024-11-06", project=B),
        ],
    )


def day3(app: App) -> None:
    record(app, [reversal("rev", "kit2", date="2024-11-10", project=B)])


def digests_in(server: SmtpServer) -> list[EmailMessage]:
    found = []
    for mail in server.mailbox.messages:
        parsed = email.message_from_bytes(mail.data, policy=email.policy.default)
        assert isinstance(parsed, EmailMessage)
        if str(parsed["Subject"]).startswith("KTP alerts:"):
            found.append(parsed)
    return found


def text_of(message: EmailMessage) -> str:
    part = message.get_body(preferencelist=("plain",))
    assert part is not None
    return str(part.get_content())


def send(app: App, today: date, now: datetime = NOW) -> Any:
    assert app.digest is not None
    app.delivery and app.delivery.close()  # the immediate e-mails first: the mailbox is shared
    return send_digests(app.database, app.digest.recipients, app.digest.mailer, today, now=now)


def by_recipient(server: SmtpServer, start: int = 0) -> dict[str, EmailMessage]:
    return {str(m["To"]): m for m in digests_in(server)[start:]}


# --- the digest, day by day ------------------------------------------------------------------------


def test_one_digest_per_recipient_with_new_worsening_resolved_and_open(
    digest_app: App, smtp_server: SmtpServer
) -> None:
    day1(digest_app)
    run = send(digest_app, DAY1)
    assert run.delivery.delivered == 1  # the office; the LMC's subscription has nothing: not sent
    [office] = digests_in(smtp_server)
    assert office["To"] == OFFICE and office["From"] == SENDER
    assert office["Subject"] == "KTP alerts: 4 new, 0 resolved, 4 open (30 November 2024)"
    body = text_of(office)
    assert "Your first digest: the 4 alerts open now." in body
    assert "New (4)" in body
    # grouped by kind, most pressing first: over budget (red) before the thresholds (info)
    assert body.index("[red] Over budget") < body.index("[info]")
    assert "£296.00 over the budget £2,500.00" in body
    assert office.get_body(preferencelist=("html",)) is not None
    assert str(office["Message-ID"]).startswith("<dig-")

    day2(digest_app)
    send(digest_app, DAY2, NOW + timedelta(days=1))
    second = by_recipient(smtp_server, 1)
    assert set(second) == {OFFICE, LMC}
    # new: KTP-0043's over budget and 90% threshold; worsening: KTP-0042's excess 296 -> 995;
    # still open: KTP-0042's two thresholds and KTP-0043's 80% threshold
    assert second[OFFICE]["Subject"] == "KTP alerts: 2 new, 0 resolved, 6 open, 1 worsening (1 December 2024)"
    body = text_of(second[OFFICE])
    assert "New (2)" in body and "Worsening (1)" in body and "Still open (3)" in body
    assert "excess 296.00 to 995.00" in body
    # the LMC of KTP-0043, over budget only: their first digest, one alert
    assert second[LMC]["Subject"] == "KTP alerts: 1 new, 0 resolved, 1 open (1 December 2024)"
    lmc_body = text_of(second[LMC])
    assert "KTP-0043" in lmc_body and "KTP-0042" not in lmc_body and "threshold" not in lmc_body.lower()

    day3(digest_app)
    send(digest_app, DAY3, NOW + timedelta(days=2))
    third = by_recipient(smtp_server, 3)
    assert third[OFFICE]["Subject"] == "KTP alerts: 0 new, 2 resolved, 4 open (2 December 2024)"
    assert "Resolved (2)" in text_of(third[OFFICE])
    # nothing open for the LMC, but something resolved: sent, once more
    assert third[LMC]["Subject"] == "KTP alerts: 0 new, 1 resolved, 0 open (2 December 2024)"
    assert len(digests_in(smtp_server)) == 5


def test_a_second_send_of_the_same_period_sends_nothing(digest_app: App, smtp_server: SmtpServer) -> None:
    day1(digest_app)
    day2(digest_app)
    send(digest_app, DAY2)
    assert len(digests_in(smtp_server)) == 2
    again = send(digest_app, DAY2, NOW + timedelta(hours=1))
    assert again.composed == [] and again.delivery.delivered == 0
    assert {who for who, _ in again.already} == {OFFICE, LMC}
    assert len(digests_in(smtp_server)) == 2
    with digest_app.database.read() as connection:
        rows = connection.execute(select(digests.c.recipient, digests.c.status)).all()
    assert sorted(rows) == [(OFFICE, "delivered"), (LMC, "delivered")]


def test_a_quiet_period_is_stored_empty_and_not_sent(digest_app: App, smtp_server: SmtpServer) -> None:
    day1(digest_app)
    send(digest_app, DAY1)
    with digest_app.database.read() as connection:
        statuses = dict(connection.execute(select(digests.c.recipient, digests.c.status)).all())
    assert statuses == {OFFICE: "delivered", LMC: "empty"}
    assert [m["To"] for m in digests_in(smtp_server)] == [OFFICE]


def test_over_budget_is_still_sent_at_once_and_the_other_kinds_only_in_the_digest(
    digest_app: App, smtp_server: SmtpServer
) -> None:
    day1(digest_app)
    assert digest_app.delivery is not None
    digest_app.delivery.close()  # the embedded default's delivery of what day 1 raised
    immediate = [
        email.message_from_bytes(m.data, policy=email.policy.default) for m in smtp_server.mailbox.messages
    ]
    assert [str(m["Subject"]) for m in immediate] == [f"[ktpledger] {A} {TS} over_budget"]
    with digest_app.database.read() as connection:
        query = select(alerts.c.kind, notifications.c.channel).join(
            notifications, notifications.c.alert_id == alerts.c.id
        )
        queued = sorted(connection.execute(query).all())
    # the log keeps every kind; e-mail has over_budget only (KTPLEDGER_EMAIL_KINDS' default)
    assert queued == [
        ("over_budget", "email"),
        ("over_budget", "log"),
        ("threshold", "log"),
        ("threshold", "log"),
        ("threshold", "log"),
    ]


# --- subscriptions, worsening on the calendar, weekly ------------------------------------------------


def test_a_claim_going_overdue_is_worsening_and_subscriptions_narrow_it(
    database_url: str, smtp_server: SmtpServer
) -> None:
    app = bootstrap(Settings(database_url=database_url))
    upgrade(app.database)
    try:
        day1(app)
        mailer = DigestMailer(EmailNotifier(smtp_server.host, smtp_server.port, SENDER, [SENDER]))
        claims_a = DigestRecipient(
            "claims@uni.example", projects=frozenset({A}), kinds=frozenset({"claim_due", "claim_overdue"})
        )
        # 25 January 2025: 2024Q4's claim is due on 30 January, in 5 days (R-45)
        send_digests(app.database, [claims_a], mailer, date(2025, 1, 25), now=NOW)
        # 3 February 2025: four days overdue: the same claim, worse
        send_digests(app.database, [claims_a], mailer, date(2025, 2, 3), now=NOW)
    finally:
        app.close()
    first, second = digests_in(smtp_server)
    assert first["Subject"] == "KTP alerts: 1 new, 0 resolved, 1 open (25 January 2025)"
    assert second["Subject"] == "KTP alerts: 0 new, 0 resolved, 1 open, 1 worsening (3 February 2025)"
    body = text_of(second)
    assert "now overdue" in body and "amber to red" in body
    assert B not in body and "threshold" not in body.lower()


def test_a_weekly_digest_is_made_on_its_day_for_the_week_to_it(
    database_url: str, smtp_server: SmtpServer
) -> None:
    app = bootstrap(Settings(database_url=database_url))
    upgrade(app.database)
    try:
        day1(app)
        mailer = DigestMailer(EmailNotifier(smtp_server.host, smtp_server.port, SENDER, [SENDER]))
        weekly = DigestRecipient(OFFICE, every="week", weekday=6)  # Sundays
        saturday = send_digests(app.database, [weekly], mailer, DAY1, now=NOW)
        assert saturday.composed == []
        sunday = send_digests(app.database, [weekly], mailer, DAY2, now=NOW)
        [made] = sunday.composed
        assert (made.start, made.end) == (date(2024, 11, 25), DAY2)
    finally:
        app.close()
    [mail] = digests_in(smtp_server)
    assert mail["Subject"] == "KTP alerts: 4 new, 0 resolved, 4 open (week to 1 December 2024)"


# --- retries ---------------------------------------------------------------------------------------


def test_the_smtp_server_down_is_retried_not_lost(database_url: str, smtp_server: SmtpServer) -> None:
    app = bootstrap(Settings(database_url=database_url))
    upgrade(app.database)
    office = DigestRecipient(OFFICE)
    policy = DeliveryPolicy(retry_period=timedelta(hours=72))
    try:
        day1(app)
        down = DigestMailer(EmailNotifier("127.0.0.1", closed_port(), SENDER, [SENDER], timeout=2))
        run = send_digests(app.database, [office], down, DAY1, now=NOW, policy=policy)
        assert (run.delivery.delivered, run.delivery.retried, run.delivery.failed) == (0, 1, 0)
        with app.database.read() as connection:
            row = connection.execute(select(digests)).one()
        assert (row.status, row.attempts) == ("pending", 1)
        assert "unreachable" in row.last_error
        # the server is back: the next run after the back-off sends it, once
        up = DigestMailer(EmailNotifier(smtp_server.host, smtp_server.port, SENDER, [SENDER]))
        later = send_digests(app.database, [office], up, DAY1, now=NOW + timedelta(minutes=1), policy=policy)
        assert later.composed == [] and later.delivery.delivered == 1
        # down for the whole retry period: failed, with the reason, never silently dropped
        send_digests(app.database, [office], down, DAY2, now=NOW, policy=policy)
        with app.database.projection() as connection:  # its first attempt was 72 h ago
            connection.execute(
                update(digests)
                .where(digests.c.period_end == DAY2)
                .values(first_attempt_at=NOW - timedelta(hours=72), next_attempt_at=NOW)
            )
            connection.commit()
        send_digests(app.database, [office], down, DAY2, now=NOW + timedelta(seconds=5), policy=policy)
        with app.database.read() as connection:
            rows = {r.period_end: r for r in connection.execute(select(digests))}
    finally:
        app.close()
    assert rows[DAY1].status == "delivered" and rows[DAY1].attempts == 2
    assert rows[DAY2].status == "failed" and "gave up after 2 attempts" in rows[DAY2].last_error
    assert len(digests_in(smtp_server)) == 1


# --- settings ---------------------------------------------------------------------------------------


def test_settings_turn_the_digest_on_and_narrow_email() -> None:
    on = Settings.from_env({"KTPLEDGER_NOTIFY": "log,email,digest"})
    assert (on.notify_channels, on.digest, on.email_kinds) == (
        ("log", "email"),
        True,
        frozenset({"over_cap", "over_budget"}),
    )
    chosen = Settings.from_env({"KTPLEDGER_NOTIFY": "email,digest", "KTPLEDGER_EMAIL_KINDS": "over_cap"})
    assert chosen.email_kinds == frozenset({"over_cap"})
    assert Settings.from_env({"KTPLEDGER_NOTIFY": "email"}).email_kinds is None
    assert Settings.from_env({"KTPLEDGER_NOTIFY": "digest"}).notify_channels == ()
    with pytest.raises(ValueError, match="KTPLEDGER_EMAIL_KINDS names an unknown alert kind 'overbudget'"):
        Settings.from_env({"KTPLEDGER_NOTIFY": "email,digest", "KTPLEDGER_EMAIL_KINDS": "overbudget"})


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            '[[recipient]]\nemail = "a@b.example"\nevery = "month"',
            r"recipient 1 \(a@b.example\): every must be",
        ),
        ('[[recipient]]\nemail = "nobody"', "recipient 1: email must be one e-mail address, not 'nobody'"),
        (
            '[[recipient]]\nemail = "a@b.example"\nkinds = ["overspend"]',
            r"recipient 1 \(a@b.example\): kinds names an unknown alert kind 'overspend'",
        ),
        (
            '[[recipient]]\nemail = "a@b.example"\nprojects = "KTP-1"',
            r"\(a@b.example\): projects must be a list",
        ),
        (
            '[[recipient]]\nemail = "a@b.example"\nevery = "week"\nweekday = "caturday"',
            "weekday must be one of monday",
        ),
        ('[[recipient]]\nemail = "a@b.example"\nemial = "x"', "unknown field 'emial'"),
        (
            '[[recipient]]\nemail = "a@b.example"\n[[recipient]]\nemail = "A@b.example"',
            "recipient 2 .*given twice",
        ),
        ("weekday = 'monday'", "no recipient"),
        ("[[recipient", "not TOML"),
    ],
)
def test_bad_recipients_are_refused_naming_the_file_recipient_and_field(text: str, message: str) -> None:
    with pytest.raises(ValueError, match=message) as refused:
        parse_recipients(text, "/etc/ktpledger/digest.toml")
    assert str(refused.value).startswith("/etc/ktpledger/digest.toml")


def test_the_recipients_file_must_be_named_and_readable(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="KTPLEDGER_DIGEST_RECIPIENTS must name"):
        load_recipients(None)
    with pytest.raises(ValueError, match="KTPLEDGER_DIGEST_RECIPIENTS: cannot read"):
        load_recipients(str(tmp_path / "missing.toml"))


# --- the command --------------------------------------------------------------------------------------


@pytest.fixture
def cli_env(monkeypatch: pytest.MonkeyPatch, recipients_file: str, smtp_server: SmtpServer) -> None:
    for name in (
        "KTPLEDGER_BROKER_URL",
        "KTPLEDGER_DATABASE_URL",
        "KTPLEDGER_TODAY",
        "KTPLEDGER_EMAIL_KINDS",
    ):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("KTPLEDGER_NOTIFY", "log,digest")
    monkeypatch.setenv("KTPLEDGER_DIGEST_RECIPIENTS", recipients_file)
    monkeypatch.setenv("KTPLEDGER_SMTP_HOST", smtp_server.host)
    monkeypatch.setenv("KTPLEDGER_SMTP_PORT", str(smtp_server.port))
    monkeypatch.setenv("KTPLEDGER_SMTP_FROM", SENDER)


def test_digest_send_dry_run_prints_each_recipients_digest_and_sends_nothing(
    digest_app: App, smtp_server: SmtpServer, cli_env: None
) -> None:
    day1(digest_app)
    day2(digest_app)
    digest_app.delivery and digest_app.delivery.close()
    immediate = len(smtp_server.mailbox.messages)
    url = str(digest_app.settings.database_url)
    result = CliRunner().invoke(
        cli.app, ["--db", url, "digest", "send", "--today", "2024-12-01", "--dry-run"]
    )
    assert result.exit_code == 0, result.stderr
    out = result.stdout
    assert f"To: {OFFICE}\nSubject: KTP alerts: 6 new, 0 resolved, 6 open (1 December 2024)" in out
    assert f"To: {LMC}\nSubject: KTP alerts: 1 new, 0 resolved, 1 open (1 December 2024)" in out
    assert "Your first digest" in out
    assert len(smtp_server.mailbox.messages) == immediate
    with digest_app.database.read() as connection:
        assert connection.execute(select(digests)).first() is None
    as_json = CliRunner().invoke(
        cli.app, ["--db", url, "digest", "send", "--today", "2024-12-01", "--dry-run", "--format", "json"]
    )
    document = json.loads(as_json.stdout)
    assert document["dry_run"] is True
    assert [d["counts"] for d in document["composed"]] == [
        {"new": 6, "resolved": 0, "worsening": 0, "open": 6},
        {"new": 1, "resolved": 0, "worsening": 0, "open": 1},
    ]
    # and for real: sent, then a rerun says it was composed already
    sent = CliRunner().invoke(cli.app, ["--db", url, "digest", "send", "--today", "2024-12-01"])
    assert sent.exit_code == 0, sent.stderr
    assert "sent 2, to retry 0, failed 0" in sent.stdout
    rerun = CliRunner().invoke(cli.app, ["--db", url, "digest", "send", "--today", "2024-12-01"])
    assert "was composed already" in rerun.stdout and "sent 0" in rerun.stdout
    assert len(digests_in(smtp_server)) == 2


def test_digest_send_refuses_a_bad_recipients_file_naming_it(
    sqlite_url: str, tmp_path: Path, cli_env: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text('[[recipient]]\nemail = "a@b.example"\nevery = "fortnight"\n', encoding="utf-8")
    monkeypatch.setenv("KTPLEDGER_DIGEST_RECIPIENTS", str(bad))
    result = CliRunner().invoke(cli.app, ["--db", sqlite_url, "digest", "send"])
    assert result.exit_code == 2
    assert f"{bad}: recipient 1 (a@b.example): every must be" in result.stderr
    monkeypatch.setenv("KTPLEDGER_NOTIFY", "log")
    off = CliRunner().invoke(cli.app, ["--db", sqlite_url, "digest", "send"])
    assert off.exit_code == 2 and "the digest channel is off" in off.stderr


# --- never twice, whoever runs it --------------------------------------------------------------------


def test_two_schedulers_compose_and_claim_a_period_once(database_url: str, smtp_server: SmtpServer) -> None:
    """Two beat schedulers (or a rerun while a send is under way) race for the same period: the
    unique (recipient, period_end) lets one insert win, the conditional claim one send."""
    import threading

    from ktpledger.adapters.digest_store import DigestStore

    app = bootstrap(Settings(database_url=database_url))
    upgrade(app.database)
    office = DigestRecipient(OFFICE)
    mailer = DigestMailer(EmailNotifier(smtp_server.host, smtp_server.port, SENDER, [SENDER]))
    try:
        day1(app)
        start = threading.Barrier(2, timeout=30)
        errors: list[BaseException] = []

        def scheduler() -> None:
            try:
                start.wait()
                send_digests(app.database, [office], mailer, DAY1, now=NOW)
            except BaseException as error:  # noqa: BLE001 - reported by the assertion below
                errors.append(error)

        threads = [threading.Thread(target=scheduler) for _ in range(2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)
        assert errors == []
        store = DigestStore(app.database)
        [row] = store.listed()
        # a claim made with the row as read before another claim took it loses
        assert store.claim(row, now=NOW, lease_until=NOW) is False
    finally:
        app.close()
    assert (row.status, row.attempts) == ("delivered", 1)
    assert len(digests_in(smtp_server)) == 1


def test_the_smtp_server_down_for_the_digest_raises_channel_down(
    database_url: str, smtp_server: SmtpServer
) -> None:
    from ktpledger.service.system_alerts import read_system_alerts

    app = bootstrap(Settings(database_url=database_url))
    upgrade(app.database)
    office = DigestRecipient(OFFICE)
    policy = DeliveryPolicy(channel_down_after=timedelta(0))  # down at its first failure, for the test
    try:
        day1(app)
        down = DigestMailer(EmailNotifier("127.0.0.1", closed_port(), SENDER, [SENDER], timeout=2))
        send_digests(app.database, [office], down, DAY1, now=NOW, policy=policy, channels=("log",))
        [raised] = read_system_alerts(app.database)
        assert (raised["kind"], raised["subject"], raised["status"]) == ("channel_down", "digest", "open")
        assert "`ktpledger digest list`" in raised["message"]
        up = DigestMailer(EmailNotifier(smtp_server.host, smtp_server.port, SENDER, [SENDER]))
        send_digests(app.database, [office], up, DAY1, now=NOW + timedelta(minutes=1), policy=policy)
        [after] = read_system_alerts(app.database, include_resolved=True)
    finally:
        app.close()
    assert after["status"] == "resolved"
    assert len(digests_in(smtp_server)) == 1
