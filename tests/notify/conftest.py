"""Loopback servers for the notification tests: an HTTP webhook receiver and an SMTP server."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from sqlalchemy import select

from ktpledger.adapters.database import Database
from ktpledger.adapters.notifiers import DeliveryError
from ktpledger.adapters.tables import alerts, notifications
from ktpledger.service.notify import utc

T0 = datetime(2025, 3, 14, 9, 0, tzinfo=UTC)
SECRET = "s3cret-for-tests"


@dataclass
class Hit:
    headers: dict[str, str]
    body: bytes
    status: int

    @property
    def alert(self) -> dict[str, Any]:
        return dict(json.loads(self.body))


@dataclass
class WebhookServer:
    """Answers each POST with the next status of `script`, then `default`; records every hit."""

    url: str = ""
    script: list[int] = field(default_factory=list)
    default: int = 200
    delay: float = 0.0
    gate: threading.Event | None = None  # when given, each POST waits (at most 30 s) until it is set
    hits: list[Hit] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def answer(self, headers: dict[str, str], body: bytes) -> int:
        if self.delay:
            time.sleep(self.delay)
        if self.gate is not None:
            self.gate.wait(30)
        with self.lock:
            status = self.script.pop(0) if self.script else self.default
            self.hits.append(Hit(headers, body, status))
        return status

    def accepted(self) -> list[Hit]:
        with self.lock:
            return [hit for hit in self.hits if 200 <= hit.status < 300]


class Recorder:
    """A notifier that keeps what it was sent, failing the first `failures` times."""

    def __init__(self, name: str, failures: int = 0, error: type[BaseException] = DeliveryError) -> None:
        self.name = name
        self.failures = failures
        self.error = error
        self.sent: list[dict[str, Any]] = []
        self.calls = 0

    def send(self, alert: Mapping[str, Any]) -> None:
        self.calls += 1
        if self.calls <= self.failures:
            raise self.error(f"{self.name} refused attempt {self.calls}")
        self.sent.append(dict(alert))


@pytest.fixture(autouse=True)
def _no_proxy(monkeypatch: pytest.MonkeyPatch) -> None:
    """Loopback requests must never be sent through a proxy from the environment."""
    for name in ("http_proxy", "https_proxy", "all_proxy", "HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("no_proxy", "127.0.0.1,localhost")


@pytest.fixture
def webhook_server() -> Iterator[WebhookServer]:
    state = WebhookServer()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length)
            status = state.answer(dict(self.headers.items()), body)
            if 300 <= status < 400:
                self.send_response(status)
                self.send_header("Location", state.url + "elsewhere")
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            payload = b'{"ok": true}' if status < 300 else b'{"error": "nope"}'
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def do_GET(self) -> None:  # a followed redirect would arrive here
            state.answer(dict(self.headers.items()), b"")
            self.send_response(200)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - BaseHTTPRequestHandler's signature
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    server.handle_error = lambda request, address: None  # type: ignore[method-assign]  # clients that time out
    state.url = f"http://127.0.0.1:{server.server_address[1]}/hooks/ktp?token=abc"
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


@dataclass
class Mail:
    sender: str
    recipients: list[str]
    data: bytes


class MailBox:
    def __init__(self) -> None:
        self.messages: list[Mail] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802 - aiosmtpd's hook name
        self.messages.append(Mail(envelope.mail_from, list(envelope.rcpt_tos), envelope.original_content))
        return "250 Message accepted for delivery"


class LoopbackController(Controller):
    """aiosmtpd's controller on an ephemeral port: learn the port the OS gave before the self-test."""

    def _trigger_server(self) -> None:
        assert self.server is not None
        self.port = self.server.sockets[0].getsockname()[1]
        super()._trigger_server()


@dataclass
class SmtpServer:
    host: str
    port: int
    mailbox: MailBox


def _start_smtp(**kwargs: Any) -> tuple[LoopbackController, SmtpServer]:
    mailbox = MailBox()
    controller = LoopbackController(
        mailbox,
        hostname="127.0.0.1",
        port=0,
        ready_timeout=10,
        server_hostname="smtp.ktpledger.test",
        **kwargs,
    )
    controller.start()
    return controller, SmtpServer("127.0.0.1", controller.port, mailbox)


@pytest.fixture
def smtp_server() -> Iterator[SmtpServer]:
    controller, server = _start_smtp()
    try:
        yield server
    finally:
        controller.stop()


@pytest.fixture
def smtp_server_with_login() -> Iterator[SmtpServer]:
    from aiosmtpd.smtp import AuthResult, LoginPassword

    def authenticator(server: Any, session: Any, envelope: Any, mechanism: str, data: Any) -> AuthResult:
        ok = isinstance(data, LoginPassword) and (data.login, data.password) == (b"ktp", b"pw")
        return AuthResult(success=ok, handled=False)

    controller, server = _start_smtp(
        authenticator=authenticator, auth_require_tls=False, auth_exclude_mechanism=["LOGIN"]
    )
    try:
        yield server
    finally:
        controller.stop()


def closed_port() -> int:
    """A loopback port with nothing listening on it (bound, then released)."""
    import socket

    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


# --- database helpers ---------------------------------------------------------------------------

_counter = iter(range(1, 1_000_000))


def insert_alert(
    database: Database,
    channels: tuple[str, ...] = ("log",),
    *,
    project: str = "KTP-0042",
    category: str = "consumables",
    kind: str = "over_budget",
    detail: dict[str, Any] | None = None,
    due: datetime = T0,
) -> int:
    """An open alert and its pending notifications, as `Projector.catch_up` writes them."""
    n = next(_counter)
    with database.projection() as connection:
        alert_id = connection.execute(
            alerts.insert().returning(alerts.c.id),
            {
                "project": project,
                "category": category,
                "kind": kind,
                "subject": f"s{n}",
                "detail": json.dumps(detail or {"budget": "4000.00", "spent": "4200.00"}, sort_keys=True),
                "status": "open",
                "raised_at_version": n,
                "resolved_at_version": None,
                "raised_at": due,
                "resolved_at": None,
            },
        ).scalar_one()
        for channel in channels:
            connection.execute(notifications.insert(), notification_row(int(alert_id), channel, due))
        connection.commit()
    return int(alert_id)


def notification_row(alert_id: int, channel: str, due: datetime = T0) -> dict[str, Any]:
    return {
        "alert_id": alert_id,
        "channel": channel,
        "status": "pending",
        "attempts": 0,
        "next_attempt_at": due,
        "last_error": None,
        "delivered_at": None,
    }


def notification(database: Database, alert_id: int, channel: str) -> dict[str, Any]:
    """The row, with its datetimes as aware UTC on both backends."""
    with database.read() as connection:
        row = (
            connection.execute(
                select(notifications).where(
                    notifications.c.alert_id == alert_id, notifications.c.channel == channel
                )
            )
            .mappings()
            .one()
        )
    result = dict(row)
    for key in ("next_attempt_at", "delivered_at", "first_attempt_at", "last_attempt_at", "failed_at"):
        if result[key] is not None:
            result[key] = utc(result[key])
    return result
