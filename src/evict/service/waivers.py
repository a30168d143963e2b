"""Waivers, written once for the command line, the API and the dashboard: grant one host an
exception for one directive, renew it with a new justification, or revoke it with a reason.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass

from evict.catalog.interface import Directive
from evict.compliance.lifecycle import LifecycleError, Waiver, WaiverError
from evict.model.records import ConflictError, HostInfo, StateChange, WaiverInfo
from evict.store.store import Store


def check(
    directive: Directive,
    host: str,
    *,
    justification: str,
    approver: str,
    expires: dt.date,
    grounds: str = "",
    today: dt.date,
) -> Waiver:
    """The waiver asked for, checked before its host is even looked up (so ``*`` is refused
    as a blanket waiver); :class:`WaiverError` when it cannot be granted."""
    waiver = Waiver(
        host, directive.id, justification.strip(), approver.strip(), expires, grounds.strip()
    )
    waiver.check(today, allowed_grounds=directive.exception_grounds)
    return waiver


def grant(
    store: Store,
    directive: Directive,
    host: HostInfo,
    *,
    justification: str,
    approver: str,
    expires: dt.date,
    grounds: str = "",
    actor: str,
    now: dt.datetime,
) -> StateChange:
    """Put ``host`` under a waiver for ``directive`` (checked against the directive's exception
    grounds; :class:`WaiverError` when it cannot be granted)."""
    waiver = check(
        directive, host.identifier, justification=justification, approver=approver,
        expires=expires, grounds=grounds, today=now.date(),
    )  # fmt: skip
    return store.waive(
        host, waiver, actor=actor, now=now, today=now.date(),
        allowed_grounds=directive.exception_grounds,
    )  # fmt: skip


def renew(
    store: Store,
    directive: Directive,
    host: HostInfo,
    old: WaiverInfo,
    *,
    justification: str,
    approver: str,
    expires: dt.date,
    actor: str,
    now: dt.datetime,
) -> StateChange:
    """Grant ``old``'s host a new waiver until ``expires`` and retire ``old`` (its record stays,
    marked revoked, with the new waiver named in the audit log)."""
    if old.revoked:
        raise WaiverError(f"waiver {old.id} was revoked: grant a new one instead")
    if expires <= old.expires:
        raise WaiverError(f"a renewal must end after {old.expires.isoformat()}")
    change = grant(
        store, directive, host, justification=justification, approver=approver,
        expires=expires, grounds=old.grounds, actor=actor, now=now,
    )  # fmt: skip
    store.revoke_waiver(
        host.org_id, old.id, reason=f"renewed until {expires.isoformat()}", actor=actor, now=now
    )
    return change


def revoke(
    store: Store, org_id: int, waiver_id: int, *, reason: str, actor: str, now: dt.datetime
) -> WaiverInfo:
    """End a waiver now; a reason is required and goes to the audit log."""
    if not reason.strip():
        raise WaiverError("give the reason the waiver is revoked")
    return store.revoke_waiver(org_id, waiver_id, reason=reason.strip(), actor=actor, now=now)


def grant_many(
    store: Store,
    directive: Directive,
    hosts: Iterable[HostInfo],
    *,
    justification: str,
    approver: str,
    expires: dt.date,
    grounds: str = "",
    actor: str,
    now: dt.datetime,
) -> Granted:
    """:func:`grant` each of ``hosts`` the same waiver, each its own transaction and audit
    event; a host refused (not carrying anything, say) is listed with the reason."""
    changed: list[StateChange] = []
    refused: list[tuple[HostInfo, str]] = []
    for host in hosts:
        try:
            changed.append(
                grant(
                    store,
                    directive,
                    host,
                    justification=justification,
                    approver=approver,
                    expires=expires,
                    grounds=grounds,
                    actor=actor,
                    now=now,
                )  # fmt: skip
            )
        except (LifecycleError, ConflictError) as e:
            refused.append((host, str(e)))
    return Granted(tuple(changed), tuple(refused))


@dataclass(frozen=True, slots=True)
class Granted:
    """What :func:`grant_many` did: the waivers granted and, per host refused, why."""

    changed: tuple[StateChange, ...]
    refused: tuple[tuple[HostInfo, str], ...]
