"""Alert notification channels: the log, a webhook (JSON POST, HMAC-signed) and e-mail (SMTP).

A notifier sends one message and either returns, meaning the channel accepted it, or raises
`DeliveryError`. A message is a mapping with a `type`:

- `"alert"`: a KTP alert, the shape of `ktpledger.service.projections.alert_json` as readers show
  it (with `current` and `message`);
- `"system_alert"`: a system alert for administrators (`system_alert_json`: `kind`, `subject`,
  `message`, `detail`, `status`, `raised_at` ...), e.g. `channel_down`;

and a `delivery_id`, the same on every attempt and resend of one (alert, channel), which the webhook
sends as `X-KTPLedger-Delivery` (and in the body) and e-mail as its `Message-ID`, so that a receiver
can drop a repeat. Retrying, back-off and never sending one (alert, channel) twice are the outbox's
job (`ktpledger.service.notify`), not the notifier's: a notifier makes exactly one attempt per call.
"""

from __future__ import annotations

import hashlib
import hmac
import http.client
import json
import logging
import re
import smtplib
import ssl
import time
import urllib.error
import urllib.request
from collections.abc import Mapping, Sequence
from email.message import EmailMessage
from typing import Any, Protocol, runtime_checkable
from urllib.parse import urlsplit

ALERT_LOGGER = "ktpledger.alerts"
SIGNATURE_HEADER = "X-KTPLedger-Signature"
ALERT_ID_HEADER = "X-KTPLedger-Alert-Id"
TIMESTAMP_HEADER = "X-KTPLedger-Timestamp"
DELIVERY_HEADER = "X-KTPLedger-Delivery"
TYPE_HEADER = "X-KTPLedger-Type"
SYSTEM_ALERT = "system_alert"

_CONTROL = re.compile(r"[\x00-\x1f\x7f]+")
_MESSAGE_ID_PART = re.compile(r"[A-Za-z0-9][A-Za-z0-9.-]{0,80}")  # the delivery ids ktpledger makes


class DeliveryError(Exception):
    """A channel did not accept an alert; the outbox retries it later."""


@runtime_checkable
class Notifier(Protocol):
    """One channel. `send` returns when the channel has accepted the alert."""

    name: str

    def send(self, alert: Mapping[str, Any]) -> None: ...


def one_line(value: Any) -> str:
    """A value as text with no line breaks or other control characters (for headers and logs)."""
    return _CONTROL.sub(" ", str(value)).strip()


def alert_body(alert: Mapping[str, Any]) -> bytes:
    """The webhook body: the alert as compact JSON with sorted keys (the signed bytes)."""
    return json.dumps(dict(alert), sort_keys=True, separators=(",", ":"), default=str).encode("utf-8")


def sign(secret: str, body: bytes) -> str:
    """The `X-KTPLedger-Signature` value for `body`: `sha256=` and the hex HMAC-SHA256."""
    return "sha256=" + hmac.new(secret.encode("utf-8"), body, hashlib.sha256).hexdigest()


def verify_signature(secret: str, body: bytes, header: str | None) -> bool:
    """What a receiver checks: the header is the signature of exactly these bytes."""
    return header is not None and hmac.compare_digest(sign(secret, body), header)


def is_system(message: Mapping[str, Any]) -> bool:
    """A system alert (for administrators), not a KTP alert."""
    return message.get("type") == SYSTEM_ALERT


def subject_of(alert: Mapping[str, Any]) -> str:
    """`[ktpledger] KTP-0042 consumables over_budget`, or for a system alert
    `[ktpledger] system alert: channel_down webhook` (`(resolved)` once it is), on one line whatever
    the alert holds."""
    if is_system(alert):
        parts = [one_line(alert.get(field, "")) for field in ("kind", "subject")]
        resolved = " (resolved)" if alert.get("status") == "resolved" else ""
        return one_line("[ktpledger] system alert: " + " ".join(p for p in parts if p) + resolved)
    parts = [one_line(alert.get(field, "")) for field in ("project", "category", "kind")]
    return one_line("[ktpledger] " + " ".join(part for part in parts if part))


def delivery_of(message: Mapping[str, Any]) -> str:
    """The message's delivery id on one line ("" when it has none)."""
    return one_line(message.get("delivery_id") or "")


# --- the log ------------------------------------------------------------------------------------


class LogNotifier:
    """One line per alert on the `ktpledger.alerts` logger (the default channel)."""

    name = "log"

    def __init__(self, logger: logging.Logger | None = None, level: int = logging.WARNING) -> None:
        self.logger = logger or logging.getLogger(ALERT_LOGGER)
        self.level = level

    def send(self, alert: Mapping[str, Any]) -> None:
        detail = json.dumps(alert.get("detail", {}), sort_keys=True, default=str)
        delivery = f" delivery={delivery_of(alert)}" if alert.get("delivery_id") else ""
        if is_system(alert):
            self.logger.log(
                self.level,
                "system alert %s kind=%s subject=%s status=%s: %s detail=%s%s",
                one_line(alert.get("id", "")),
                one_line(alert.get("kind", "")),
                one_line(alert.get("subject", "")),
                one_line(alert.get("status", "")),
                one_line(alert.get("message", "")),
                one_line(detail),
                delivery,
            )
            return
        self.logger.log(
            self.level,
            "alert %s project=%s category=%s kind=%s status=%s detail=%s%s%s",
            one_line(alert.get("id", "")),
            one_line(alert.get("project", "")),
            one_line(alert.get("category", "")),
            one_line(alert.get("kind", "")),
            one_line(alert.get("status", "")),
            one_line(detail),
            f" now: {one_line(alert['message'])}" if alert.get("message") else "",
            delivery,
        )


# --- a webhook ----------------------------------------------------------------------------------


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    """A redirect is an answer, not a delivery: urllib would turn the POST into a body-less GET."""

    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


class WebhookNotifier:
    """POSTs the message as JSON. `X-KTPLedger-Signature: sha256=<hex>` is the HMAC-SHA256 of the
    exact body bytes with the shared secret; `X-KTPLedger-Delivery` is the message's delivery id (also
    the body's `delivery_id`) and `X-KTPLedger-Type` its `type`; any answer but 2xx, or no answer, is
    a `DeliveryError`."""

    name = "webhook"

    def __init__(self, url: str, secret: str, timeout: float = 5) -> None:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"webhook URL must be an http:// or https:// URL with a host, not {url!r}")
        if not secret:
            raise ValueError("webhook secret must not be empty")
        if timeout <= 0:
            raise ValueError("webhook timeout must be positive")
        self.url = url
        self.secret = secret
        self.timeout = timeout
        # Name the endpoint in errors without its path or query, which may carry a token.
        port = f":{parts.port}" if parts.port else ""
        self.endpoint = f"{parts.scheme}://{parts.hostname}{port}"

    def request(self, alert: Mapping[str, Any], *, timestamp: int | None = None) -> urllib.request.Request:
        body = alert_body(alert)
        headers = {
            "Content-Type": "application/json",
            "User-Agent": "ktpledger-notifier",
            ALERT_ID_HEADER: one_line(alert.get("id", "")),
            SIGNATURE_HEADER: sign(self.secret, body),
            TIMESTAMP_HEADER: str(int(time.time()) if timestamp is None else timestamp),
        }
        if alert.get("delivery_id"):
            headers[DELIVERY_HEADER] = delivery_of(alert)
        if alert.get("type"):
            headers[TYPE_HEADER] = one_line(alert["type"])
        return urllib.request.Request(self.url, data=body, headers=headers, method="POST")

    def send(self, alert: Mapping[str, Any]) -> None:
        request = self.request(alert)
        opener = urllib.request.build_opener(_NoRedirect())
        try:
            with opener.open(request, timeout=self.timeout) as response:
                status = response.status
                response.read(65536)
        except urllib.error.HTTPError as error:
            error.close()
            raise DeliveryError(f"webhook {self.endpoint} answered HTTP {error.code}") from None
        except urllib.error.URLError as error:
            raise DeliveryError(f"webhook {self.endpoint} unreachable: {one_line(error.reason)}") from None
        except (OSError, http.client.HTTPException) as error:
            raise DeliveryError(
                f"webhook {self.endpoint} failed: {type(error).__name__}: {one_line(error)}"
            ) from None
        if not 200 <= status < 300:
            raise DeliveryError(f"webhook {self.endpoint} answered HTTP {status}")


# --- e-mail -------------------------------------------------------------------------------------


def _address(value: str, what: str) -> str:
    if not value or _CONTROL.search(value) or "@" not in value:
        raise ValueError(f"{what} must be one e-mail address on one line, not {value!r}")
    return value.strip()


class EmailNotifier:
    """A plain-text message per alert through an SMTP server (optionally STARTTLS and login)."""

    name = "email"

    def __init__(
        self,
        host: str,
        port: int,
        sender: str,
        recipients: Sequence[str],
        username: str | None = None,
        password: str | None = None,
        starttls: bool = False,
        timeout: float = 10,
    ) -> None:
        if not host or _CONTROL.search(host):
            raise ValueError(f"SMTP host must be a host name, not {host!r}")
        if not 0 < int(port) < 65536:
            raise ValueError(f"SMTP port must be 1 to 65535, not {port!r}")
        if isinstance(recipients, str):
            raise ValueError("recipients must be a list of addresses, not one string")
        if not recipients:
            raise ValueError("an e-mail channel needs at least one recipient")
        if (username is None) != (password is None):
            raise ValueError("SMTP username and password go together: give both or neither")
        self.host = host
        self.port = int(port)
        self.sender = _address(sender, "the sender")
        self.recipients = [_address(r, "each recipient") for r in recipients]
        self.username = username
        self.password = password
        self.starttls = starttls
        self.timeout = timeout

    def message(self, alert: Mapping[str, Any]) -> EmailMessage:
        message = EmailMessage()
        message["Subject"] = subject_of(alert)
        message["From"] = self.sender
        message["To"] = ", ".join(self.recipients)
        alert_id = one_line(alert.get("id", ""))
        delivery = delivery_of(alert)
        if _MESSAGE_ID_PART.fullmatch(delivery):
            # The same id on every attempt and resend lets a mail system drop a copy sent again.
            domain = self.sender.rsplit("@", 1)[1].strip(">").strip() or "ktpledger"
            message["Message-ID"] = f"<{delivery}@{domain}>"
        if is_system(alert):
            message.set_content(self.system_body(alert, delivery))
            return message
        detail = alert.get("detail") or {}
        current = alert.get("current")
        lines = []
        if alert.get("message"):
            lines += [one_line(alert["message"]), ""]
        lines += [
            f"Project:  {one_line(alert.get('project', ''))}",
            f"Category: {one_line(alert.get('category', ''))}",
            f"Kind:     {one_line(alert.get('kind', ''))}",
            f"Status:   {one_line(alert.get('status', ''))}",
            f"Raised at version: {one_line(alert.get('raised_at_version', ''))}",
            f"Alert id: {alert_id}",
        ]
        if delivery:
            lines.append(f"Delivery id: {delivery}")
        # The figures now first (they are what to act on), then those of the raise (the record).
        for heading, figures in (("Figures now:", current), ("Figures when raised:", detail)):
            if figures is None:
                continue
            lines += ["", heading]
            if isinstance(figures, Mapping):
                lines += [f"  {one_line(key)}: {one_line(value)}" for key, value in sorted(figures.items())]
            else:
                lines.append(f"  {one_line(figures)}")
        message.set_content("\n".join(lines) + "\n")
        return message

    @staticmethod
    def system_body(alert: Mapping[str, Any], delivery: str) -> str:
        """A system alert for administrators: what is wrong, then its facts."""
        lines = [one_line(alert.get("message", "")), ""]
        lines += [
            f"Kind:     {one_line(alert.get('kind', ''))}",
            f"Subject:  {one_line(alert.get('subject', ''))}",
            f"Status:   {one_line(alert.get('status', ''))}",
            f"Raised:   {one_line(alert.get('raised_at', ''))}",
        ]
        if alert.get("resolved_at"):
            lines.append(
                f"Resolved: {one_line(alert['resolved_at'])} ({one_line(alert.get('resolved_reason') or '')})"
            )
        lines.append(f"System alert id: {one_line(alert.get('id', ''))}")
        if delivery:
            lines.append(f"Delivery id: {delivery}")
        detail = alert.get("detail")
        if isinstance(detail, Mapping) and detail:
            lines += ["", "Detail:"]
            lines += [f"  {one_line(key)}: {one_line(value)}" for key, value in sorted(detail.items())]
        return "\n".join(lines) + "\n"

    def send(self, alert: Mapping[str, Any]) -> None:
        refused = self.transmit(self.message(alert), self.recipients)
        if refused:
            # Some recipients took it: sending again would give them a second copy.
            logging.getLogger(ALERT_LOGGER).warning(
                "alert %s: SMTP refused %s", one_line(alert.get("id", "")), ", ".join(sorted(refused))
            )

    def transmit(self, message: EmailMessage, recipients: Sequence[str]) -> dict[str, Any]:
        """One SMTP session that sends `message` to `recipients`: the recipients refused (some
        took it), or `DeliveryError` when none did or the server could not be reached."""
        try:
            with smtplib.SMTP(self.host, self.port, timeout=self.timeout) as smtp:
                if self.starttls:
                    smtp.starttls(context=ssl.create_default_context())
                    smtp.ehlo()
                if self.username is not None and self.password is not None:
                    smtp.login(self.username, self.password)
                return dict(smtp.send_message(message, self.sender, list(recipients)))
        except smtplib.SMTPException as error:
            raise DeliveryError(
                f"SMTP {self.host}:{self.port} refused: {type(error).__name__}: {one_line(error)}"
            ) from None
        except OSError as error:
            raise DeliveryError(
                f"SMTP {self.host}:{self.port} unreachable: {type(error).__name__}: {one_line(error)}"
            ) from None


class DigestMailer:
    """Sends digests (`ktpledger.service.digest`): one message, plain text and HTML, to one
    recipient, through the e-mail channel's SMTP server and sender. One attempt per call, as a
    notifier makes; the digests table retries."""

    name = "digest"

    def __init__(self, smtp: EmailNotifier) -> None:
        self.smtp = smtp  # its recipients are the e-mail channel's, never used here

    def message(self, to: str, subject: str, text: str, html: str, delivery_id: str) -> EmailMessage:
        message = EmailMessage()
        message["Subject"] = one_line(subject)
        message["From"] = self.smtp.sender
        message["To"] = _address(to, "a digest's recipient")
        if _MESSAGE_ID_PART.fullmatch(delivery_id):
            # The same id on every attempt: a mail system may drop a copy sent again.
            domain = self.smtp.sender.rsplit("@", 1)[1].strip(">").strip() or "ktpledger"
            message["Message-ID"] = f"<{delivery_id}@{domain}>"
        message.set_content(text)
        message.add_alternative(html, subtype="html")
        return message

    def send(self, to: str, subject: str, text: str, html: str, delivery_id: str) -> None:
        self.smtp.transmit(self.message(to, subject, text, html, delivery_id), [to])
