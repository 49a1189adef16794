"""The three channels against real loopback servers (no database)."""

from __future__ import annotations

import email
import email.policy
import json
import logging
import time
from typing import Any

import pytest

from ktpledger.adapters.notifiers import (
    DeliveryError,
    EmailNotifier,
    LogNotifier,
    Notifier,
    WebhookNotifier,
    alert_body,
    sign,
    subject_of,
    verify_signature,
)
from tests.notify.conftest import SECRET, SmtpServer, WebhookServer, closed_port

ALERT: dict[str, Any] = {
    "id": 17,
    "project": "KTP-0042",
    "category": "consumables",
    "kind": "over_budget",
    "detail": {"budget": "4000.00", "spent": "4200.00", "excess": "200.00"},
    "status": "open",
    "raised_at_version": 9,
    "resolved_at_version": None,
    "type": "alert",
    "delivery_id": "ktp-0123456789abcdef0123456789abcdef",
}


def test_each_notifier_satisfies_the_protocol(smtp_server: SmtpServer) -> None:
    notifiers = [
        LogNotifier(),
        WebhookNotifier("https://hooks.example.org/ktp", "k"),
        EmailNotifier("127.0.0.1", smtp_server.port, "ktp@example.org", ["lmc@example.org"]),
    ]
    assert [n.name for n in notifiers] == ["log", "webhook", "email"]
    assert all(isinstance(n, Notifier) for n in notifiers)


# --- log ----------------------------------------------------------------------------------------


def test_log_notifier_writes_one_line_per_alert(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.INFO, logger="ktpledger.alerts"):
        LogNotifier().send(ALERT)
        LogNotifier().send({**ALERT, "id": 18, "project": "KTP-0043\nforged line", "kind": "threshold"})
    records = [r for r in caplog.records if r.name == "ktpledger.alerts"]
    assert len(records) == 2
    first = records[0].getMessage()
    for text in ("KTP-0042", "consumables", "over_budget", '"excess": "200.00"', "alert 17"):
        assert text in first
    assert records[0].levelno == logging.WARNING
    second = records[1].getMessage()
    assert "\n" not in second and "KTP-0043 forged line" in second


# --- webhook ------------------------------------------------------------------------------------


def test_webhook_posts_the_alert_json_signed_with_hmac(webhook_server: WebhookServer) -> None:
    before = int(time.time())
    WebhookNotifier(webhook_server.url, SECRET).send(ALERT)
    assert len(webhook_server.hits) == 1
    hit = webhook_server.hits[0]
    headers = {k.lower(): v for k, v in hit.headers.items()}
    assert headers["content-type"] == "application/json"
    assert headers["x-ktpledger-alert-id"] == "17"
    assert headers["x-ktpledger-delivery"] == "ktp-0123456789abcdef0123456789abcdef"
    assert headers["x-ktpledger-type"] == "alert"
    assert before <= int(headers["x-ktpledger-timestamp"]) <= int(time.time())
    assert hit.body == alert_body(ALERT)
    assert json.loads(hit.body) == ALERT
    assert verify_signature(SECRET, hit.body, headers["x-ktpledger-signature"])
    assert headers["x-ktpledger-signature"].startswith("sha256=")
    assert not verify_signature("another secret", hit.body, headers["x-ktpledger-signature"])
    assert not verify_signature(SECRET, hit.body + b" ", headers["x-ktpledger-signature"])
    assert not verify_signature(SECRET, hit.body, None)


def test_signature_is_hmac_sha256_of_the_exact_bytes() -> None:
    import hashlib
    import hmac

    body = b'{"id":1}'
    assert sign("key", body) == "sha256=" + hmac.new(b"key", body, hashlib.sha256).hexdigest()


@pytest.mark.parametrize("status", [400, 404, 500, 503])
def test_webhook_non_2xx_is_a_delivery_error(webhook_server: WebhookServer, status: int) -> None:
    webhook_server.default = status
    with pytest.raises(DeliveryError, match=f"HTTP {status}") as raised:
        WebhookNotifier(webhook_server.url, SECRET).send(ALERT)
    assert "token=abc" not in str(raised.value)  # the URL's query may hold a credential


def test_webhook_redirect_is_not_followed(webhook_server: WebhookServer) -> None:
    webhook_server.default = 302
    with pytest.raises(DeliveryError, match="HTTP 302"):
        WebhookNotifier(webhook_server.url, SECRET).send(ALERT)
    assert len(webhook_server.hits) == 1  # no GET to the Location


def test_webhook_unreachable_is_a_delivery_error() -> None:
    with pytest.raises(DeliveryError, match="unreachable"):
        WebhookNotifier(f"http://127.0.0.1:{closed_port()}/hook", SECRET, timeout=2).send(ALERT)


def test_webhook_timeout_is_a_delivery_error(webhook_server: WebhookServer) -> None:
    webhook_server.delay = 0.5
    with pytest.raises(DeliveryError):
        WebhookNotifier(webhook_server.url, SECRET, timeout=0.1).send(ALERT)


@pytest.mark.parametrize("url", ["file:///etc/passwd", "ftp://127.0.0.1/x", "127.0.0.1:8000", "http://"])
def test_webhook_needs_an_http_url(url: str) -> None:
    with pytest.raises(ValueError, match="http"):
        WebhookNotifier(url, SECRET)


def test_webhook_needs_a_secret() -> None:
    with pytest.raises(ValueError, match="secret"):
        WebhookNotifier("http://127.0.0.1/hook", "")


# --- e-mail -------------------------------------------------------------------------------------


def parse(data: bytes) -> email.message.EmailMessage:
    message = email.message_from_bytes(data, policy=email.policy.default)
    assert isinstance(message, email.message.EmailMessage)
    return message


def test_email_sends_a_plain_text_message(smtp_server: SmtpServer) -> None:
    notifier = EmailNotifier(
        smtp_server.host, smtp_server.port, "ktpledger@uni.example", ["lmc@uni.example", "fd@crumb.example"]
    )
    notifier.send(ALERT)
    [mail] = smtp_server.mailbox.messages
    assert mail.sender == "ktpledger@uni.example"
    assert mail.recipients == ["lmc@uni.example", "fd@crumb.example"]
    message = parse(mail.data)
    assert message["Subject"] == "[ktpledger] KTP-0042 consumables over_budget"
    assert message["From"] == "ktpledger@uni.example"
    assert message["To"] == "lmc@uni.example, fd@crumb.example"
    # The delivery id, the same on every attempt and resend: mail systems drop a repeat by it.
    assert message["Message-ID"] == "<ktp-0123456789abcdef0123456789abcdef@uni.example>"
    assert message.get_content_type() == "text/plain"
    body = message.get_content()
    for text in ("Project:  KTP-0042", "Kind:     over_budget", "excess: 200.00", "spent: 4200.00"):
        assert text in body
    assert "Delivery id: ktp-0123456789abcdef0123456789abcdef" in body


def test_email_subject_cannot_carry_injected_headers(smtp_server: SmtpServer) -> None:
    hostile = {**ALERT, "project": "KTP-0042\r\nBcc: thief@evil.example", "kind": "over_budget\nX-Evil: 1"}
    assert "\n" not in subject_of(hostile) and "\r" not in subject_of(hostile)
    EmailNotifier(smtp_server.host, smtp_server.port, "ktp@uni.example", ["lmc@uni.example"]).send(hostile)
    [mail] = smtp_server.mailbox.messages
    assert mail.recipients == ["lmc@uni.example"]
    message = parse(mail.data)
    assert message["Bcc"] is None and message["X-Evil"] is None
    assert (
        message["Subject"] == "[ktpledger] KTP-0042 Bcc: thief@evil.example consumables over_budget X-Evil: 1"
    )


def test_email_logs_in_when_given_credentials(smtp_server_with_login: SmtpServer) -> None:
    server = smtp_server_with_login
    EmailNotifier(
        server.host, server.port, "ktp@uni.example", ["lmc@uni.example"], username="ktp", password="pw"
    ).send(ALERT)
    assert len(server.mailbox.messages) == 1
    with pytest.raises(DeliveryError, match="SMTP"):
        EmailNotifier(
            server.host, server.port, "ktp@uni.example", ["lmc@uni.example"], username="ktp", password="no"
        ).send(ALERT)
    assert len(server.mailbox.messages) == 1


def test_email_unreachable_is_a_delivery_error() -> None:
    notifier = EmailNotifier("127.0.0.1", closed_port(), "ktp@uni.example", ["lmc@uni.example"], timeout=2)
    with pytest.raises(DeliveryError, match="unreachable"):
        notifier.send(ALERT)


def test_starttls_against_a_server_without_it_is_a_delivery_error(smtp_server: SmtpServer) -> None:
    notifier = EmailNotifier(
        smtp_server.host, smtp_server.port, "ktp@uni.example", ["lmc@uni.example"], starttls=True, timeout=2
    )
    with pytest.raises(DeliveryError):
        notifier.send(ALERT)
    assert smtp_server.mailbox.messages == []


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"sender": "ktp@uni.example\r\nBcc: x@evil.example"}, "sender"),
        ({"sender": "not-an-address"}, "sender"),
        ({"recipients": []}, "recipient"),
        ({"recipients": "lmc@uni.example"}, "list"),
        ({"recipients": ["lmc@uni.example\nBcc: x@evil.example"]}, "recipient"),
        ({"port": 0}, "port"),
        ({"username": "ktp"}, "password"),
    ],
)
def test_email_rejects_bad_settings(kwargs: dict[str, Any], message: str) -> None:
    settings: dict[str, Any] = {
        "host": "127.0.0.1",
        "port": 25,
        "sender": "ktp@uni.example",
        "recipients": ["lmc@uni.example"],
    }
    settings.update(kwargs)
    with pytest.raises(ValueError, match=message):
        EmailNotifier(**settings)


# --- system alerts ------------------------------------------------------------------------------

SYSTEM: dict[str, Any] = {
    "type": "system_alert",
    "id": 3,
    "kind": "channel_down",
    "subject": "webhook",
    "message": "The webhook alert channel has failed every attempt since 2025-03-14T09:00 UTC.",
    "detail": {"failures": 12, "last_error": "HTTP 503"},
    "status": "open",
    "raised_at": "2025-03-14T09:05:00+00:00",
    "resolved_at": None,
    "resolved_reason": None,
    "delivery_id": "sys-0123456789abcdef0123456789abcdef",
}


def test_a_system_alert_in_the_log(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.INFO, logger="ktpledger.alerts"):
        LogNotifier().send(SYSTEM)
    [record] = [r for r in caplog.records if r.name == "ktpledger.alerts"]
    line = record.getMessage()
    assert line.startswith("system alert 3 kind=channel_down subject=webhook status=open: The webhook")
    assert '"failures": 12' in line and line.endswith("delivery=sys-0123456789abcdef0123456789abcdef")


def test_a_system_alert_by_webhook_says_its_type(webhook_server: WebhookServer) -> None:
    WebhookNotifier(webhook_server.url, SECRET).send(SYSTEM)
    [hit] = webhook_server.hits
    headers = {k.lower(): v for k, v in hit.headers.items()}
    assert json.loads(hit.body) == SYSTEM
    assert (headers["x-ktpledger-type"], headers["x-ktpledger-delivery"]) == (
        "system_alert",
        "sys-0123456789abcdef0123456789abcdef",
    )
    assert verify_signature(SECRET, hit.body, headers["x-ktpledger-signature"])


def test_a_system_alert_by_email(smtp_server: SmtpServer) -> None:
    notifier = EmailNotifier(smtp_server.host, smtp_server.port, "ktpledger@uni.example", ["ops@uni.example"])
    notifier.send(SYSTEM)
    notifier.send(
        {
            **SYSTEM,
            "status": "resolved",
            "resolved_at": "2025-03-14T09:08:00+00:00",
            "resolved_reason": "delivered again",
        }
    )
    first, second = (parse(mail.data) for mail in smtp_server.mailbox.messages)
    assert first["Subject"] == "[ktpledger] system alert: channel_down webhook"
    assert second["Subject"] == "[ktpledger] system alert: channel_down webhook (resolved)"
    assert first["Message-ID"] == second["Message-ID"] == "<sys-0123456789abcdef0123456789abcdef@uni.example>"
    body = first.get_content()
    assert body.startswith("The webhook alert channel has failed every attempt")
    for text in ("Kind:     channel_down", "Subject:  webhook", "System alert id: 3", "failures: 12"):
        assert text in body
    assert "Resolved: 2025-03-14T09:08:00+00:00 (delivered again)" in second.get_content()


def test_a_message_id_is_made_only_from_a_delivery_id_of_ours(smtp_server: SmtpServer) -> None:
    notifier = EmailNotifier(smtp_server.host, smtp_server.port, "ktp@uni.example", ["lmc@uni.example"])
    notifier.send({**ALERT, "delivery_id": "<x>\r\nBcc: thief@evil.example"})
    notifier.send({key: value for key, value in ALERT.items() if key != "delivery_id"})
    for mail in smtp_server.mailbox.messages:
        message = parse(mail.data)
        assert message["Bcc"] is None and "evil" not in str(message["Message-ID"] or "")
    assert mail.recipients == ["lmc@uni.example"]
