"""Each host's state per directive: evaluations applied, operators' state changes, waivers.

Part of :class:`evict.store.store.Store`, which composes one class per concern.
"""

from __future__ import annotations

import datetime as dt
import functools
import json
from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import psycopg
from sqlalchemy import (
    Connection,
    bindparam,
    insert,
    select,
    text,
    update,
)
from sqlalchemy.exc import IntegrityError

from evict.compliance.lifecycle import Waiver, waive
from evict.model.records import (
    ConflictError,
    DirtyHost,
    HostInfo,
    NotFoundError,
    StateChange,
    WaiverInfo,
)
from evict.model.states import HostState, State
from evict.store.core import (
    _STATE_COLUMNS,
    AuditSpec,
    StoreCore,
    _chunks,
    _naive_utc,
    _state_values,
)
from evict.store.tables import (
    Host,
    HostStateRow,
    OrgUnit,
    WaiverRow,
)


def _state_from_row(row: Any) -> HostState:
    return HostState(
        state=State(row.state),
        since=row.since,
        products=tuple(json.loads(row.products)),
        reason=row.reason,
        checkin=row.checkin,
        prior=State(row.prior) if row.prior else None,
    )


class States(StoreCore):
    """Each host's state per directive: evaluations applied, operators' state changes, waivers."""

    def states(self, host_ids: Sequence[int]) -> dict[int, dict[str, HostState]]:
        """Current lifecycle states of hosts, by host and directive."""
        out: dict[int, dict[str, HostState]] = defaultdict(dict)
        with self._read() as conn:
            for chunk in _chunks(list(host_ids)):
                rows = conn.execute(select(HostStateRow).where(HostStateRow.host_id.in_(chunk)))
                for r in rows:
                    out[r.host_id][r.directive] = _state_from_row(r)
        return out

    def active_waivers(self, host_ids: Sequence[int], today: dt.date) -> set[tuple[int, str]]:
        """(host, directive) pairs with an unexpired, unrevoked waiver."""
        out: set[tuple[int, str]] = set()
        with self._read() as conn:
            for chunk in _chunks(list(host_ids)):
                rows = conn.execute(
                    select(WaiverRow.host_id, WaiverRow.directive).where(
                        WaiverRow.host_id.in_(chunk),
                        WaiverRow.revoked_at.is_(None),
                        WaiverRow.expires > today,
                    )
                )
                out.update((r.host_id, r.directive) for r in rows)
        return out

    def apply_evaluation(
        self,
        hosts: Sequence[DirtyHost],
        changes: Sequence[StateChange],
        *,
        now: dt.datetime,
        identifiers: Mapping[int, str] | None = None,
    ) -> int:
        """Write the worker's decisions for a batch of hosts and take them off the queue.

        A state that changed underneath (an operator's move in the meantime) is not
        overwritten: the host stays queued and is evaluated again. Returns the number of
        state changes written.
        """
        names = dict(identifiers or {})
        org_of = {h.id: h.org_id for h in hosts}
        requeue: set[int] = set()
        written = 0
        with self._write() as conn:
            if not names:
                names = self._identifiers(conn, [h.id for h in hosts])
            events: list[AuditSpec] = []
            first = [c for c in changes if c.old is None]
            first_failed = False
            if first and not self._insert_states(conn, first, org_of):
                first_failed = True
                requeue.update(c.host_id for c in first)
            later = [c for c in changes if c.old is not None]
            stale = self._update_states(conn, later, org_of) if later else set()
            requeue.update(host_id for host_id, _ in stale)
            # A host's first evaluation that finds nothing anywhere is one event, not one per
            # directive: most of a fleet, most of the log otherwise.
            by_host: dict[int, list[StateChange]] = defaultdict(list)
            for c in changes:
                by_host[c.host_id].append(c)
            collapsed = {
                hid
                for hid, mine in by_host.items()
                if len(mine) > 1 and all(c.old is None and c.new.state is State.CLEAN for c in mine)
            }
            for change in changes:
                if change.old is None and first_failed:
                    continue
                if change.old is not None and (change.host_id, change.directive) in stale:
                    continue
                written += 1
                old = change.old.state.value if change.old else None
                if change.host_id in collapsed:
                    continue
                if old != change.new.state.value:
                    subject = f"host:{names.get(change.host_id, change.host_id)}"
                    payload = {
                        "directive": change.directive,
                        "from": old,
                        "to": change.new.state.value,
                        "reason": change.new.reason,
                        "products": list(change.new.products),
                        "checkin": change.new.checkin,
                    }
                    events.append(
                        ("worker", "state.change", subject, org_of[change.host_id], payload)
                    )
            for hid in sorted(collapsed - requeue):
                mine = by_host[hid]
                payload = {
                    "directive": "every directive",
                    "directives": [c.directive for c in mine],
                    "from": None,
                    "to": State.CLEAN.value,
                    "reason": mine[0].new.reason,
                    "products": [],
                    "checkin": mine[0].new.checkin,
                }
                subject = f"host:{names.get(hid, hid)}"
                events.append(("worker", "state.change", subject, org_of[hid], payload))
            done = [
                {"hid": h.id, "seen": h.inventory_version} for h in hosts if h.id not in requeue
            ]
            if done and self.dialect == "postgresql":
                # One statement for the batch instead of one per host.
                conn.execute(
                    text(
                        "UPDATE hosts SET dirty = false"
                        " FROM unnest(CAST(:ids AS bigint[]), CAST(:seen AS integer[]))"
                        " AS done(id, seen)"
                        " WHERE hosts.id = done.id AND hosts.inventory_version = done.seen"
                    ),
                    {"ids": [d["hid"] for d in done], "seen": [d["seen"] for d in done]},
                )
            elif done:
                conn.execute(
                    update(Host)
                    .where(Host.id == bindparam("hid"), Host.inventory_version == bindparam("seen"))
                    .values(dirty=False),
                    done,
                )
            self._audit(conn, now, events)
        return written

    def _identifiers(self, conn: Connection, host_ids: Sequence[int]) -> dict[int, str]:
        out: dict[int, str] = {}
        for chunk in _chunks(list(host_ids)):
            rows = conn.execute(select(Host.id, Host.identifier).where(Host.id.in_(chunk)))
            out.update({r.id: r.identifier for r in rows})
        return out

    def _insert_states(
        self, conn: Connection, changes: Sequence[StateChange], org_of: Mapping[int, int]
    ) -> bool:
        """Insert first states in one batch; False if any already existed (none are kept then).

        Only the worker creates states (an operator's move needs one to exist), and one worker
        runs at a time, so a clash means a state appeared meanwhile: the caller requeues.
        """
        rows = [
            {
                "host_id": c.host_id,
                "directive": c.directive,
                "org_id": org_of[c.host_id],
                **_state_values(c.new),
            }
            for c in changes
        ]
        try:
            with conn.begin_nested():
                self._insert_rows(conn, HostStateRow.__table__, rows)
        except (IntegrityError, psycopg.IntegrityError):
            return False
        return True

    def _update_states(
        self, conn: Connection, changes: Sequence[StateChange], org_of: Mapping[int, int]
    ) -> set[tuple[int, str]]:
        """Write state changes whose stored state is still ``change.old``; return the
        ``(host, directive)`` pairs that changed underneath and were not written.

        PostgreSQL takes the batch in one statement over arrays; SQLite one UPDATE a change.
        """
        if self.dialect != "postgresql":
            return {
                (c.host_id, c.directive)
                for c in changes
                if not self._write_state(conn, c, org_of[c.host_id])
            }
        columns: dict[str, list[object]] = defaultdict(list)
        for c in changes:
            assert c.old is not None
            columns["host_id"].append(c.host_id)
            columns["directive"].append(c.directive)
            columns["old_state"].append(c.old.state.value)
            columns["old_since"].append(_naive_utc(c.old.since))
            for key, value in _state_values(c.new).items():
                columns[key].append(_naive_utc(value))
        types = {"host_id": "bigint", "old_since": "timestamp", "since": "timestamp"}
        names = list(columns)
        arrays = ", ".join(f"CAST(:{n} AS {types.get(n, 'text')}[])" for n in names)
        assigned = ", ".join(f"{n} = u.{n}" for n in _STATE_COLUMNS)
        written = conn.execute(
            text(
                f"UPDATE host_states SET {assigned} FROM unnest({arrays}) AS u({', '.join(names)})"
                " WHERE host_states.host_id = u.host_id AND host_states.directive = u.directive"
                " AND host_states.state = u.old_state AND host_states.since = u.old_since"
                " RETURNING host_states.host_id, host_states.directive"
            ),
            dict(columns),
        )
        done = {(int(r[0]), str(r[1])) for r in written}
        return {(c.host_id, c.directive) for c in changes} - done

    def _write_state(self, conn: Connection, change: StateChange, org_id: int) -> bool:
        """Write one state change if the stored state is still ``change.old``."""
        values = _state_values(change.new)
        if change.old is None:
            stmt = self._insert_ignore(HostStateRow, ["host_id", "directive"]).values(
                host_id=change.host_id, directive=change.directive, org_id=org_id, **values
            )
            return bool(conn.execute(stmt).rowcount)
        done = conn.execute(
            update(HostStateRow)
            .where(
                HostStateRow.host_id == change.host_id,
                HostStateRow.directive == change.directive,
                HostStateRow.state == change.old.state.value,
                HostStateRow.since == change.old.since,
            )
            .values(**values)
        )
        return bool(done.rowcount)

    def change_state(
        self,
        host: HostInfo,
        directive: str,
        decide: Callable[[HostState | None], HostState],
        *,
        actor: str,
        now: dt.datetime,
        waiver: Mapping[str, object] | None = None,
    ) -> StateChange:
        """Apply an operator's decision to a host's state, atomically, with its audit event.

        :param decide: the lifecycle rule to apply (e.g. a ``lifecycle.transition`` partial); it
            raises when the move is not allowed, and nothing is written.
        :param waiver: when the decision is a waiver, its record (justification, approver,
            expires as a date, optionally grounds), stored beside the state change.
        """
        with self._write() as conn:
            row = conn.execute(
                self._for_update(
                    select(HostStateRow).where(
                        HostStateRow.host_id == host.id, HostStateRow.directive == directive
                    )
                )
            ).first()
            old = _state_from_row(row) if row is not None else None
            new = decide(old)
            change = StateChange(host.id, directive, old, new)
            if not self._write_state(conn, change, host.org_id):
                raise ConflictError("the host's state changed meanwhile; try again")
            subject = f"host:{host.identifier}"
            payload: dict[str, object] = {
                "directive": directive,
                "from": old.state.value if old else None,
                "to": new.state.value,
                "reason": new.reason,
            }
            action = "state.change"
            if waiver is not None:
                expires = waiver["expires"]
                assert isinstance(expires, dt.date)
                conn.execute(
                    insert(WaiverRow).values(
                        host_id=host.id,
                        directive=directive,
                        justification=str(waiver["justification"]),
                        grounds=str(waiver.get("grounds", "")),
                        approver=str(waiver["approver"]),
                        expires=expires,
                        created_at=now,
                        created_by=actor,
                    )
                )
                action = "waiver.create"
                payload.update(
                    justification=str(waiver["justification"]),
                    approver=str(waiver["approver"]),
                    expires=expires.isoformat(),
                )
                if waiver.get("grounds"):
                    payload["grounds"] = str(waiver["grounds"])
            self._audit(conn, now, [(actor, action, subject, host.org_id, payload)])
        return change

    def waive(
        self,
        host: HostInfo,
        waiver: Waiver,
        *,
        actor: str,
        now: dt.datetime,
        today: dt.date,
        allowed_grounds: Sequence[str] = (),
    ) -> StateChange:
        """Grant ``waiver`` on ``host``: checked, the state moved to ``waived``, the record and
        its audit event written together.

        :param allowed_grounds: the directive's ``exception_grounds`` (see
            :meth:`evict.compliance.lifecycle.Waiver.check`).
        Raises :class:`~evict.compliance.lifecycle.WaiverError` when it cannot be granted
        (:func:`~evict.compliance.lifecycle.waive` checks it before anything is written).
        """
        decide = functools.partial(
            waive, waiver=waiver, today=today, now=now, allowed_grounds=allowed_grounds
        )
        record = {
            "justification": waiver.justification,
            "approver": waiver.approver,
            "expires": waiver.expires,
            "grounds": waiver.grounds,
        }
        return self.change_state(
            host, waiver.directive, decide, actor=actor, now=now, waiver=record
        )

    def waiver(self, org_id: int, waiver_id: int, *, unit_id: int | None = None) -> WaiverInfo:
        """One waiver of the organisation (or of one org unit's hosts); NotFoundError else."""
        for w in self.waivers(org_id, unit_id=unit_id, waiver_id=waiver_id):
            return w
        raise NotFoundError(f"no waiver {waiver_id}")

    def revoke_waiver(
        self, org_id: int, waiver_id: int, *, reason: str, actor: str, now: dt.datetime
    ) -> WaiverInfo:
        """End a waiver now, with the reason; the worker returns its host to its earlier state.

        Raises :class:`NotFoundError` for another organisation's waiver and
        :class:`ConflictError` for one already revoked.
        """
        with self._write() as conn:
            row = conn.execute(
                self._for_update(
                    select(
                        WaiverRow.id,
                        WaiverRow.host_id,
                        WaiverRow.directive,
                        WaiverRow.revoked_at,
                        Host.identifier,
                    )
                    .join(Host, Host.id == WaiverRow.host_id)
                    .where(WaiverRow.id == waiver_id, Host.org_id == org_id)
                )
            ).one_or_none()
            if row is None:
                raise NotFoundError(f"no waiver {waiver_id}")
            if row.revoked_at is not None:
                raise ConflictError(f"waiver {waiver_id} was already revoked")
            conn.execute(update(WaiverRow).where(WaiverRow.id == waiver_id).values(revoked_at=now))
            conn.execute(update(Host).where(Host.id == row.host_id).values(dirty=True))
            payload = {"waiver": waiver_id, "directive": row.directive, "reason": reason}
            self._audit(
                conn, now, [(actor, "waiver.revoke", f"host:{row.identifier}", org_id, payload)]
            )
        return self.waiver(org_id, waiver_id)

    def waivers(
        self,
        org_id: int,
        *,
        host: str | None = None,
        unit_id: int | None = None,
        waiver_id: int | None = None,
        soonest_first: bool = False,
    ) -> list[WaiverInfo]:
        """An organisation's waivers, newest first (of one host, or one org unit's hosts); with
        ``soonest_first``, soonest expiry first (the waivers page)."""
        stmt = (
            select(WaiverRow, Host.identifier, Host.hostname, OrgUnit.name.label("unit_name"))
            .join(Host, Host.id == WaiverRow.host_id)
            .join(OrgUnit, OrgUnit.id == Host.org_unit_id)
            .where(Host.org_id == org_id)
            .order_by(
                *((WaiverRow.expires, WaiverRow.id) if soonest_first else (WaiverRow.id.desc(),))
            )
        )
        if host is not None:
            stmt = stmt.where(Host.identifier == host)
        if unit_id is not None:
            stmt = stmt.where(Host.org_unit_id == unit_id)
        if waiver_id is not None:
            stmt = stmt.where(WaiverRow.id == waiver_id)
        with self._read() as conn:
            return [
                WaiverInfo(
                    r.id,
                    r.identifier,
                    r.directive,
                    r.justification,
                    r.approver,
                    r.expires,
                    r.created_at,
                    r.created_by,
                    r.revoked_at is not None,
                    r.grounds,
                    r.host_id,
                    r.hostname,
                    r.unit_name,
                )
                for r in conn.execute(stmt)
            ]
