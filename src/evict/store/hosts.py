"""Hosts: enrolment, lookup by identifier or credential, and the agents' fast path for unchanged
check-ins.

Part of :class:`evict.store.store.Store`, which composes one class per concern.
"""

from __future__ import annotations

import datetime as dt
import threading
import time
from collections.abc import Sequence
from typing import Any

from sqlalchemy import (
    and_,
    bindparam,
    exists,
    insert,
    or_,
    select,
    update,
)
from sqlalchemy.exc import IntegrityError

from evict.compliance.coverage import kinds_from_text
from evict.model.records import (
    ConflictError,
    HeldInventory,
    HostInfo,
    NotFoundError,
)
from evict.model.states import State
from evict.store import secrets
from evict.store.agents import FLUSH_EVERY, AgentDirectory, Checkin, CheckinBuffer
from evict.store.core import (
    REENROLL_STALE,
    StoreCore,
    _aware,
    _chunks,
    _iso,
    log,
)
from evict.store.tables import (
    AuditEventRow,
    AuditHead,
    Host,
    HostStateRow,
    Org,
    OrgUnit,
)


def _reenroll_ground(
    row: Any, proof: str | None, now: dt.datetime, stale_after: dt.timedelta | None
) -> str | None:
    """Why an enrolled host may enrol again (``credential``, ``admin``, ``stale``), or None."""
    if proof is not None and row.credential_hash is not None and proof == row.credential_hash:
        return "credential"
    if row.reenroll_until is not None and _aware(row.reenroll_until) > now:
        return "admin"
    seen = max(_aware(t) for t in (row.enrolled_at, row.last_seen) if t is not None)
    if stale_after is not None and now - seen > stale_after:
        return "stale"
    return None


class Hosts(StoreCore):
    """Hosts: enrolment, lookup by identifier or credential, and the agents' fast path for
    unchanged check-ins.
    """

    def serve_agents(self, flush_every: float = FLUSH_EVERY) -> None:
        """Remember hosts by credential and write unchanged check-ins every ``flush_every``
        seconds in one transaction (see :mod:`evict.store.agents`); ``0`` writes each one."""
        self.agents = AgentDirectory(self._read_agent, self._agent_changes)
        if flush_every > 0:
            self.checkins = CheckinBuffer(self._write_checkins, flush_every)
            agents = self.agents

            def tick() -> None:
                if time.monotonic() - agents._synced > agents.sync_every / 2:
                    agents.sync()

            self.checkins.tick = tick
            self.checkins.start()
        threading.Thread(target=self._warm_agents, name="evict-agents", daemon=True).start()

    def _warm_agents(self) -> None:
        """Read the enrolled hosts into the directory (up to its limit), once, at start."""
        agents = self.agents
        if agents is None:
            return
        try:
            agents.sync()
            generation = agents.generation
            head = select(AuditHead.seq).where(AuditHead.id == 1).scalar_subquery()
            stmt = (
                self._host_select()
                .add_columns(Host.credential_hash, head.label("audit_seq"))
                .where(Host.credential_hash.is_not(None))
                .limit(agents.limit)
            )
            with self._read() as conn:
                rows = conn.execute(stmt).all()
            if rows:
                seq = int(rows[0].audit_seq if rows[0].audit_seq is not None else -1)
                hosts = [(str(r.credential_hash), self._host_info(r)) for r in rows]
                for _ in range(3):  # events applied meanwhile: drop the hosts they name
                    names, newest = self._agent_changes(seq)
                    if names is None:
                        return
                    changed = set(names)
                    hosts = [h for h in hosts if (h[1].org_id, h[1].identifier) not in changed]
                    if agents.remember(hosts, newest, generation) or not hosts:
                        return
                    seq = newest
        except Exception as e:  # only slower: hosts are then read as they come
            log.warning("could not read the enrolled hosts ahead: %s", e)

    def _read_agent(self, lookup: str) -> tuple[HostInfo, int] | None:
        head = select(AuditHead.seq).where(AuditHead.id == 1).scalar_subquery()
        stmt = self._host_select().add_columns(head.label("audit_seq"))
        with self._read_one() as conn:
            row = conn.execute(stmt.where(Host.credential_hash == lookup)).first()
        if row is None:
            return None
        return self._host_info(row), int(row.audit_seq if row.audit_seq is not None else -1)

    def _agent_changes(self, after: int) -> tuple[list[tuple[int, str]] | None, int]:
        limit = 10_000
        with self._read() as conn:
            seq = conn.execute(select(AuditHead.seq).where(AuditHead.id == 1)).scalar()
            head = int(seq if seq is not None else -1)
            if after < 0 or head - after > limit:
                return None, head
            rows = conn.execute(
                select(AuditEventRow.org_id, AuditEventRow.subject).where(
                    AuditEventRow.seq > after,
                    AuditEventRow.seq <= head,
                    AuditEventRow.subject.startswith("host:"),
                )
            ).all()
        return [(int(r.org_id or 0), r.subject[5:]) for r in rows], head

    def agent_host(self, credential: str) -> HostInfo | None:
        """The host a credential was issued to (remembered when :meth:`serve_agents` ran)."""
        if self.agents is None:
            return self.host_for_credential(credential)
        return self.agents.lookup(secrets.lookup_hash(credential))

    def cached_agent_host(self, credential: str) -> HostInfo | None:
        """:meth:`agent_host` from memory only: None when it would have to read."""
        if self.agents is None:
            return None
        return self.agents.cached(secrets.lookup_hash(credential))

    def _host_changed(self, host: HostInfo) -> None:
        """Forget what is remembered of ``host`` (its credential or inventory changed)."""
        if self.agents is not None:
            self.agents.forget(host.org_id, host.identifier)
        if self.checkins is not None:
            self.checkins.discard(host.id)

    def flush_checkins(self) -> None:
        """Write the unchanged check-ins that wait (before reading what they change)."""
        if self.checkins:
            self.checkins.flush()

    def _write_checkins(self, batch: Sequence[Checkin]) -> None:
        waiting = exists().where(  # no IN list: an executemany cannot expand one
            HostStateRow.host_id == Host.id,
            or_(
                HostStateRow.state == State.REPLACED.value,
                HostStateRow.state == State.STALE.value,
            ),
        )
        stmt = (
            update(Host)
            .where(
                Host.id == bindparam("b_id"),
                or_(
                    and_(Host.digest == bindparam("b_digest"), Host.digest != ""),
                    Host.held_digest == bindparam("b_digest"),
                ),
            )
            .values(
                last_seen=bindparam("b_at", type_=Host.last_seen.type),
                last_checkin=bindparam("b_report"),
                dirty=or_(Host.dirty, waiting),
            )
        )
        rows = [
            {"b_id": c.host_id, "b_digest": c.digest, "b_at": c.at, "b_report": c.report_id}
            for c in sorted(batch, key=lambda c: c.host_id)
        ]
        with self._write() as conn:
            if self.dialect == "postgresql":
                conn.exec_driver_sql("SET LOCAL synchronous_commit TO OFF")
            for chunk in _chunks(rows):
                conn.execute(stmt, list(chunk))

    def enroll(
        self,
        secret: str,
        identifier: str,
        *,
        hostname: str,
        platform: str,
        now: dt.datetime,
        credential: str | None = None,
        address: str = "",
        stale_after: dt.timedelta | None = REENROLL_STALE,
    ) -> tuple[HostInfo, str]:
        """Enrol a host with an org unit's secret; return it with a fresh host credential.

        An identifier already enrolled is a takeover attempt unless one of these holds (then
        a new credential is issued and the old one retired):

        - ``credential`` is the host's current credential (the agent proves it is the host);
        - an admin allowed the host to enrol again (:meth:`allow_reenroll`; used up here);
        - the host has not been seen (nor enrolled) for ``stale_after`` (None: never).

        Otherwise :class:`ConflictError` (the attempt is audit-logged with ``address``).
        Every re-enrolment is audit-logged with ``address`` and the ground it was allowed on.
        """
        new_credential = secrets.new_secret(secrets.HOST_PREFIX)
        lookup = secrets.lookup_hash(new_credential)
        proof = secrets.lookup_hash(credential) if credential else None
        for attempt in range(2):
            try:
                host = self._enroll(
                    secret,
                    identifier,
                    hostname,
                    platform,
                    lookup,
                    now,
                    proof=proof,
                    address=address,
                    stale_after=stale_after,
                )
            except IntegrityError as e:
                if attempt:
                    raise ConflictError(f"could not enrol {identifier!r}: {e.orig}") from e
                continue
            if host is None:
                raise ConflictError(
                    f"host {identifier!r} is already enrolled and was seen recently: an admin "
                    "must allow it to enrol again (evict host allow-reenroll, or the host's "
                    "page), or the agent must present its current credential"
                )
            self._host_changed(host)
            return host, new_credential
        raise AssertionError("unreachable")  # pragma: no cover

    def _enroll(
        self,
        secret: str,
        identifier: str,
        hostname: str,
        platform: str,
        lookup: str,
        now: dt.datetime,
        *,
        proof: str | None,
        address: str,
        stale_after: dt.timedelta | None,
    ) -> HostInfo | None:
        """Enrol or re-enrol in one transaction; None when a re-enrolment is refused."""
        with self._write() as conn:
            unit = conn.execute(
                select(OrgUnit.id, OrgUnit.org_id, OrgUnit.name).where(
                    OrgUnit.secret_hash == secrets.lookup_hash(secret)
                )
            ).first()
            if unit is None:
                raise NotFoundError("unknown enrolment secret")
            existing = conn.execute(
                self._for_update(
                    select(
                        Host.id,
                        Host.credential_hash,
                        Host.enrolled_at,
                        Host.last_seen,
                        Host.reenroll_until,
                    ).where(Host.org_id == unit.org_id, Host.identifier == identifier)
                )
            ).first()
            values: dict[str, object] = {
                "org_unit_id": unit.id,
                "hostname": hostname,
                "platform": platform,
                "credential_hash": lookup,
            }
            payload: dict[str, object] = {
                "unit": unit.name,
                "hostname": hostname,
                "platform": platform,
                "address": address,
            }
            subject = f"host:{identifier}"
            if existing is None:
                host_id = conn.execute(
                    insert(Host)
                    .values(
                        org_id=unit.org_id,
                        identifier=identifier,
                        enrolled_at=now,
                        digest="",
                        last_checkin="",
                        observations=0,
                        inventory_version=0,
                        dirty=False,
                        **values,
                    )
                    .returning(Host.id)
                ).scalar_one()
                action = "host.enroll"
            else:
                host_id = existing.id
                ground = _reenroll_ground(existing, proof, now, stale_after)
                if ground is None:
                    self._audit(
                        conn,
                        now,
                        [(subject, "host.reenroll_refused", subject, unit.org_id, payload)],
                    )
                    return None
                payload["allowed_by"] = ground
                values["reenroll_until"] = None
                conn.execute(update(Host).where(Host.id == host_id).values(**values))
                action = "host.reenroll"
            self._audit(conn, now, [(subject, action, subject, unit.org_id, payload)])
        return self._host_where(Host.id == host_id)

    def allow_reenroll(
        self,
        host: HostInfo,
        *,
        actor: str,
        now: dt.datetime,
        valid_for: dt.timedelta = dt.timedelta(days=7),
    ) -> dt.datetime:
        """Let ``host`` enrol again once with its unit's secret, within ``valid_for``.

        Returns when the permission lapses. The next enrolment of the host uses it up.
        """
        until = now + valid_for
        with self._write() as conn:
            conn.execute(update(Host).where(Host.id == host.id).values(reenroll_until=until))
            subject = f"host:{host.identifier}"
            payload = {"until": _iso(until)}
            self._audit(conn, now, [(actor, "host.reenroll_allow", subject, host.org_id, payload)])
        return until

    def _host_select(self) -> Any:
        return select(Host, OrgUnit.name.label("unit_name")).join(
            OrgUnit, OrgUnit.id == Host.org_unit_id
        )

    @staticmethod
    def _host_info(row: Any) -> HostInfo:
        return HostInfo(
            id=row.id,
            org_id=row.org_id,
            org_unit_id=row.org_unit_id,
            identifier=row.identifier,
            hostname=row.hostname,
            platform=row.platform,
            org_unit=row.unit_name,
            enrolled_at=row.enrolled_at,
            last_seen=row.last_seen,
            collected_at=row.collected_at,
            observations=row.observations,
            digest=row.digest,
            last_checkin=row.last_checkin,
            kinds=kinds_from_text(row.kinds),
            held=(
                HeldInventory(
                    row.held_report, row.held_digest or "", row.held_at, row.held_address or ""
                )
                if row.held_report
                else None
            ),
            reenroll_until=row.reenroll_until,
        )

    def _host_where(self, *conditions: Any) -> HostInfo:
        with self._read_one() as conn:
            row = conn.execute(self._host_select().where(*conditions)).first()
        if row is None:
            raise NotFoundError("no such host")
        return self._host_info(row)

    def host_for_credential(self, credential: str) -> HostInfo | None:
        """The host a credential was issued to, if it is still its current one."""
        try:
            return self._host_where(Host.credential_hash == secrets.lookup_hash(credential))
        except NotFoundError:
            return None

    def host(self, org_id: int, identifier: str, *, unit_id: int | None = None) -> HostInfo:
        """An organisation's host by identifier (within ``unit_id`` when the caller is limited)."""
        self.flush_checkins()
        conditions = [Host.org_id == org_id, Host.identifier == identifier]
        if unit_id is not None:
            conditions.append(Host.org_unit_id == unit_id)
        try:
            return self._host_where(*conditions)
        except NotFoundError:
            raise NotFoundError(f"no host {identifier!r}") from None

    def find_host(self, identifier: str, *, org: str | None = None) -> HostInfo:
        """A host by identifier (or hostname) across organisations, for the command line."""
        self.flush_checkins()
        stmt = self._host_select().join(Org, Org.id == Host.org_id)
        if org is not None:
            stmt = stmt.where(Org.name == org)
        with self._read() as conn:
            rows = conn.execute(stmt.where(Host.identifier == identifier)).all()
            if not rows:
                rows = conn.execute(stmt.where(Host.hostname == identifier)).all()
        if not rows:
            raise NotFoundError(f"no host {identifier!r}" + (f" in {org}" if org else ""))
        if len(rows) > 1:
            raise ConflictError(
                f"{identifier!r} names {len(rows)} hosts: give --org, or the host id"
            )
        return self._host_info(rows[0])

    def checkin_unchanged(
        self, host: HostInfo, report_id: str, digest: str, *, now: dt.datetime
    ) -> bool:
        """Record a check-in whose inventory is the stored one; False if the digest differs.

        Only ``last_seen`` moves (and the host is queued when a ``replaced`` state waits for a
        later check-in to be verified); nothing else is written, so an unchanged fleet costs one
        short UPDATE per host. On PostgreSQL it commits without waiting for the WAL flush.

        On a server (:meth:`serve_agents`) the digest is compared with ``host``'s, as read or
        remembered, and the check-in waits in memory for the next batch write instead.
        """
        if self.checkins is not None:
            held = host.held.digest if host.held else None
            if not ((digest == host.digest and digest) or digest == held):
                return False
            self.checkins.add(Checkin(host.id, report_id, digest, now))
            return True
        # A replaced host waits for a later check-in to be verified; a stale one is fresh again.
        waiting = exists().where(
            HostStateRow.host_id == Host.id,
            HostStateRow.state.in_([State.REPLACED.value, State.STALE.value]),
        )
        with self._write() as conn:
            if self.dialect == "postgresql":
                # Losing the last moments of check-ins in a crash only leaves last_seen a little
                # older (the agent checks in again); not waiting for the WAL flush lets one
                # flush serve many check-ins.
                conn.exec_driver_sql("SET LOCAL synchronous_commit TO OFF")
            done = conn.execute(
                update(Host)
                .where(
                    Host.id == host.id,
                    or_(and_(Host.digest == digest, Host.digest != ""), Host.held_digest == digest),
                )
                .values(
                    last_seen=now,
                    last_checkin=report_id,
                    dirty=or_(Host.dirty, waiting),
                )
            )
        return bool(done.rowcount)
