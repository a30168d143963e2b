"""Delivering a notification: e-mail over SMTP, a signed JSON webhook, an RFC 5424 syslog line.

Each sender raises :class:`NotifyError` with a message a person can act on when delivery
fails; the webhook retries transient failures (connection errors, 429 and 5xx) with
exponential backoff first. Host-supplied text (host names, product names) travels as data:
JSON-encoded in webhooks, in the body of a plain-text mail, escaped in syslog structured data,
and stripped of control and bidirectional characters everywhere.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import smtplib
import socket
import ssl
import time
from collections.abc import Callable
from email.message import EmailMessage
from email.utils import formatdate, make_msgid

import httpx

from evict import __version__
from evict.neutral import json_dumps, neutralise
from evict.notify.interface import Channel, ChannelKind, Notification, NotifyError, PayloadStyle

SIGNATURE_HEADER = "X-Evict-Signature"
"""``sha256=<hex HMAC-SHA256 of the body under the channel's secret>``."""
TIMESTAMP_HEADER = "X-Evict-Timestamp"
"""Seconds since the epoch when the request was signed; part of the signed text."""

RETRIES = 4
"""Webhook attempts after the first."""

SEVERITIES = {"emergency": 0, "alert": 1, "critical": 2, "error": 3, "warning": 4,
              "notice": 5, "info": 6, "debug": 7}  # fmt: skip
"""RFC 5424 severities."""
FACILITY_LOCAL0 = 16
SD_ID = "evict@32473"
"""The structured-data id (32473 is the enterprise number RFC 5612 reserves for examples)."""


def clean(text: str) -> str:
    """``text`` with control and bidirectional characters shown as ``<U+XXXX>`` (the one rule
    of :func:`evict.neutral.neutralise`)."""
    return neutralise(text)


def send(
    channel: Channel,
    note: Notification,
    *,
    now: dt.datetime,
    http: httpx.Client | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> str:
    """Deliver ``note`` on ``channel``; return a short description of the delivery."""
    if channel.kind is ChannelKind.EMAIL:
        return send_email(channel, note, now=now)
    if channel.kind is ChannelKind.WEBHOOK:
        return send_webhook(channel, note, now=now, http=http, sleep=sleep)
    return send_syslog(channel, note, now=now)


# -- e-mail --------------------------------------------------------------------------------------


def _host_port(value: str, default_port: int) -> tuple[str, int]:
    host, sep, port = value.rpartition(":")
    if not sep:
        return value, default_port
    try:
        return host.strip("[]"), int(port)
    except ValueError as e:
        raise NotifyError(f"not a host:port: {value!r}") from e


def send_email(channel: Channel, note: Notification, *, now: dt.datetime) -> str:
    """Send a plain-text mail through the channel's SMTP server."""
    options = channel.options
    host, port = _host_port(options.get("smtp", "localhost:25"), 25)
    message = EmailMessage()
    message["From"] = options.get("sender", "evict@localhost")
    message["To"] = channel.target
    message["Subject"] = clean(note.subject).replace("\n", " ")[:200]
    message["Date"] = formatdate(now.timestamp(), usegmt=True)
    message["Message-ID"] = make_msgid(domain="evict.invalid")
    message["X-Evict-Event"] = note.event.value
    message.set_content(clean(note.text) + "\n\n-- \nevict " + __version__ + "\n")
    try:
        with smtplib.SMTP(host, port, timeout=30) as smtp:
            if options.get("starttls", "") in ("1", "true", "yes"):
                smtp.starttls(context=ssl.create_default_context())
            if options.get("username"):
                smtp.login(options["username"], options.get("password", ""))
            smtp.send_message(message)
    except (OSError, smtplib.SMTPException) as e:
        raise NotifyError(f"mail to {channel.target} through {host}:{port} failed: {e}") from e
    return f"mail to {channel.target} via {host}:{port}"


# -- webhook -------------------------------------------------------------------------------------


def webhook_body(note: Notification, style: PayloadStyle, *, now: dt.datetime) -> bytes:
    """The JSON a webhook receives in ``style``."""
    subject, text = clean(note.subject), clean(note.text)
    body: dict[str, object]
    if style is PayloadStyle.SLACK:
        body = {"text": f"*{subject}*\n{text}"}
    elif style is PayloadStyle.TEAMS:
        body = {
            "@type": "MessageCard",
            "@context": "https://schema.org/extensions",
            "summary": subject,
            "title": subject,
            "text": text.replace("\n", "  \n"),
            "themeColor": "B42318" if note.severity == "warning" else "1F6FEB",
        }
    else:
        body = {
            "event": note.event.value,
            "org_id": note.org_id,
            "key": note.key,
            "subject": subject,
            "text": text,
            "details": note.details,
            "severity": note.severity,
            "sent_at": now.isoformat(),
            "evict_version": __version__,
        }
    return json_dumps(body, indent=None).encode("utf-8")


def signature(secret: str, timestamp: str, body: bytes) -> str:
    """The value of :data:`SIGNATURE_HEADER`: HMAC-SHA256 of ``timestamp.body``."""
    mac = hmac.new(secret.encode("utf-8"), timestamp.encode("ascii") + b"." + body, hashlib.sha256)
    return "sha256=" + mac.hexdigest()


def send_webhook(
    channel: Channel,
    note: Notification,
    *,
    now: dt.datetime,
    http: httpx.Client | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> str:
    """POST the notification, signed, retrying transient failures with backoff."""
    try:
        style = PayloadStyle(channel.options.get("style", "json"))
    except ValueError as e:
        raise NotifyError(f"unknown webhook style {channel.options.get('style')!r}") from e
    body = webhook_body(note, style, now=now)
    client = http or httpx.Client(timeout=15, follow_redirects=False)
    last = ""
    try:
        for attempt in range(RETRIES + 1):
            if attempt:
                sleep(min(2.0**attempt, 60.0))
            stamp = str(int(time.time()))
            headers = {
                "Content-Type": "application/json",
                "User-Agent": f"evict/{__version__}",
                TIMESTAMP_HEADER: stamp,
                "X-Evict-Event": note.event.value,
            }
            if channel.options.get("secret"):
                headers[SIGNATURE_HEADER] = signature(channel.options["secret"], stamp, body)
            try:
                response = client.post(channel.target, content=body, headers=headers)
            except httpx.HTTPError as e:
                last = f"{type(e).__name__}: {e}"
                continue
            if response.status_code < 300:
                return f"webhook {response.status_code} after {attempt + 1} attempt(s)"
            last = f"HTTP {response.status_code}"
            if response.status_code != 429 and response.status_code < 500:
                break
    finally:
        if http is None:
            client.close()
    raise NotifyError(f"webhook {channel.target} failed: {last}")


# -- syslog --------------------------------------------------------------------------------------


def _sd_value(value: object) -> str:
    # RFC 5424 section 6.3.3: escape '"', '\' and ']' in PARAM-VALUE.
    text = neutralise(str(value), one_line=True)
    return text.replace("\\", "\\\\").replace('"', '\\"').replace("]", "\\]")


def syslog_line(note: Notification, *, now: dt.datetime, hostname: str | None = None) -> bytes:
    """The RFC 5424 message for ``note`` (facility local0)."""
    pri = FACILITY_LOCAL0 * 8 + SEVERITIES.get(note.severity, 5)
    stamp = now.astimezone(dt.UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    host = (hostname or socket.gethostname() or "-")[:255]
    params = {
        "event": note.event.value,
        "org": note.org_id,
        **{k: v for k, v in note.details.items() if isinstance(v, str | int)},
    }
    sd = "[" + SD_ID + "".join(f' {k}="{_sd_value(v)}"' for k, v in params.items()) + "]"
    msg = neutralise(note.subject, one_line=True)
    return f"<{pri}>1 {stamp} {host} evict - {note.event.value} {sd} \ufeff{msg}".encode()


def send_syslog(channel: Channel, note: Notification, *, now: dt.datetime) -> str:
    """Send one RFC 5424 message over UDP, or TCP with octet counting (RFC 6587)."""
    host, port = _host_port(channel.target, 514)
    transport = channel.options.get("transport", "udp")
    line = syslog_line(note, now=now)
    try:
        if transport == "tcp":
            with socket.create_connection((host, port), timeout=15) as s:
                s.sendall(str(len(line)).encode() + b" " + line)
        else:
            family = socket.getaddrinfo(host, port, type=socket.SOCK_DGRAM)[0]
            with socket.socket(family[0], socket.SOCK_DGRAM) as s:
                s.sendto(line, family[4])
    except OSError as e:
        raise NotifyError(f"syslog {transport} to {host}:{port} failed: {e}") from e
    return f"syslog {transport} to {host}:{port}"
