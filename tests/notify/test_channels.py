"""Each channel against a real receiver on 127.0.0.1: SMTP (aiosmtpd), an HTTP webhook server
and a UDP syslog listener."""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
import re
import socket

import pytest

from evict.notify.channels import SIGNATURE_HEADER, TIMESTAMP_HEADER, send
from evict.notify.interface import Channel, ChannelKind, Event, Notification, NotifyError
from tests.notify.receivers import Hook, Mailbox

NOW = dt.datetime(2026, 3, 2, 10, 0, tzinfo=dt.UTC)
HOSTILE = "ws-\u202eexe.txt\u0085-01"
NOTE = Notification(
    1,
    Event.HOST_OVERDUE,
    "overdue:bod-17-01:day90:2017-12-12:h1",
    f"bod-17-01: 1 host overdue ({HOSTILE})",
    f"These hosts still carry covered software:\n- {HOSTILE} (kaspersky-endpoint-security)",
    {"directive": "bod-17-01", "hosts": ["h1"]},
    severity="warning",
)


def channel(kind: ChannelKind, target: str, **options: str) -> Channel:
    return Channel(1, 1, kind, target, frozenset(Event), 7, dict(options))


def test_mail_reaches_a_real_smtp_server(smtp: Mailbox) -> None:
    ch = channel(ChannelKind.EMAIL, "soc@agency.example", smtp=f"127.0.0.1:{smtp.port}",
                 sender="evict@agency.example")  # fmt: skip
    assert "mail to soc@agency.example" in send(ch, NOTE, now=NOW)
    (mail,) = smtp.messages
    assert mail["To"] == "soc@agency.example" and mail["X-Evict-Event"] == "host-overdue"
    assert "1 host overdue" in mail["Subject"]
    body = mail.get_payload(decode=True).decode()
    assert "kaspersky-endpoint-security" in body
    assert "\u202e" not in body + mail["Subject"] and "\u0085" not in body, "bidi and C1 removed"


def test_an_unreachable_mail_server_is_a_clear_error() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    ch = channel(ChannelKind.EMAIL, "soc@agency.example", smtp=f"127.0.0.1:{port}")
    with pytest.raises(NotifyError, match=f"through 127.0.0.1:{port} failed"):
        send(ch, NOTE, now=NOW)


def test_a_webhook_is_signed_and_retried_with_backoff(webhook: Hook) -> None:
    webhook.statuses = [503, 500]
    waits: list[float] = []
    ch = channel(ChannelKind.WEBHOOK, webhook.url, secret="s3cret", style="json")
    assert "after 3 attempt(s)" in send(ch, NOTE, now=NOW, sleep=waits.append)
    assert waits == [2.0, 4.0], "exponential backoff between attempts"
    headers, body = webhook.requests[-1]
    expected = hmac.new(
        b"s3cret", headers[TIMESTAMP_HEADER.lower()].encode() + b"." + body, hashlib.sha256
    ).hexdigest()
    assert headers[SIGNATURE_HEADER.lower()] == f"sha256={expected}"
    doc = json.loads(body)
    assert doc["event"] == "host-overdue" and doc["details"]["hosts"] == ["h1"]
    assert "\u202e" not in doc["text"]


def test_a_webhook_refusal_is_not_retried(webhook: Hook) -> None:
    webhook.statuses = [404]
    with pytest.raises(NotifyError, match="HTTP 404"):
        send(channel(ChannelKind.WEBHOOK, webhook.url), NOTE, now=NOW, sleep=lambda s: None)
    assert len(webhook.requests) == 1


@pytest.mark.parametrize("style", ["slack", "teams"])
def test_slack_and_teams_bodies(webhook: Hook, style: str) -> None:
    send(channel(ChannelKind.WEBHOOK, webhook.url, style=style), NOTE, now=NOW)
    doc = json.loads(webhook.requests[-1][1])
    if style == "slack":
        assert doc["text"].startswith("*bod-17-01: 1 host overdue")
    else:
        assert doc["@type"] == "MessageCard" and doc["title"].startswith("bod-17-01")


def test_syslog_is_rfc_5424_over_udp(syslog_udp: tuple[str, socket.socket]) -> None:
    target, listener = syslog_udp
    send(channel(ChannelKind.SYSLOG, target), NOTE, now=NOW)
    data = listener.recv(65536).decode("utf-8")
    # <PRI>VERSION SP TIMESTAMP SP HOSTNAME SP APP-NAME SP PROCID SP MSGID SP SD SP MSG
    m = re.fullmatch(
        r"<(\d+)>1 (\S+) (\S+) evict - host-overdue (\[evict@32473 [^\]]*\]) \ufeff(.*)", data
    )
    assert m, data
    assert int(m.group(1)) == 16 * 8 + 4, "local0.warning"
    assert m.group(2) == "2026-03-02T10:00:00.000Z"
    assert 'directive="bod-17-01"' in m.group(4)
    assert "\u202e" not in data
