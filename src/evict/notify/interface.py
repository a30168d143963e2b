"""The values notifications are made of, and the channel settings."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Any

from evict.errors import EvictError


class Event(enum.StrEnum):
    """What a notification is about."""

    MILESTONE_DUE = "milestone-due"
    """A directive's milestone is due within the channel's ``days_before``."""
    HOST_OVERDUE = "host-overdue"
    """Hosts still carry a covered product after the milestone passed."""
    NEW_PRODUCT = "new-product"
    """A covered product was found in the organisation for the first time."""
    WAIVER_EXPIRING = "waiver-expiring"
    """A waiver ends within the channel's ``days_before``."""


class ChannelKind(enum.StrEnum):
    """How a notification is delivered."""

    EMAIL = "email"
    WEBHOOK = "webhook"
    SYSLOG = "syslog"


class PayloadStyle(enum.StrEnum):
    """The body a webhook receives."""

    JSON = "json"
    """evict's own JSON object (event, subject, text, details)."""
    SLACK = "slack"
    """``{"text": ...}``, which Slack's and Mattermost's incoming webhooks take."""
    TEAMS = "teams"
    """A MessageCard, which Microsoft Teams' incoming webhooks take."""


@dataclass(frozen=True, slots=True)
class Notification:
    """One thing to tell an organisation.

    :param key: what makes it unique: the same key is never sent twice to a channel.
    :param subject: one line.
    :param text: a few lines a person reads.
    :param details: the facts behind it, for machines (webhook JSON, syslog structured data).
    """

    org_id: int
    event: Event
    key: str
    subject: str
    text: str
    details: dict[str, Any] = field(default_factory=dict)
    severity: str = "notice"
    """A syslog severity name: ``warning`` for overdue hosts, ``notice`` otherwise."""


@dataclass(frozen=True, slots=True)
class Channel:
    """Where one organisation's notifications go, and which of them.

    :param target: an e-mail address, a webhook URL, or a syslog ``host:port``.
    :param options: per kind: ``smtp`` (``host:port``), ``sender``, ``starttls``, ``username``,
        ``password`` for e-mail; ``secret`` (HMAC key) and ``style`` for webhooks; ``transport``
        (``udp`` or ``tcp``) for syslog.
    """

    id: int
    org_id: int
    kind: ChannelKind
    target: str
    events: frozenset[Event]
    days_before: int
    options: dict[str, str]
    enabled: bool = True


class NotifyError(EvictError):
    """A channel could not deliver, or is set up wrong."""
