"""The demo fleet: a database with the demo organisation, a simulated fleet with weeks of
inventories, this host, and the history an operator would have made (plans, waivers)."""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import random
import secrets
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from evict.agent.wire import inventory_digest, observation_line
from evict.catalog.loader import load_catalog
from evict.compliance.lifecycle import Waiver, transition
from evict.demo.simulate import ORG_UNITS, generate_host
from evict.inventory.local import LocalHostSource
from evict.matching.engine import Matcher
from evict.model.observations import HostInventory, Observation
from evict.model.records import HostInfo, InventoryReport, Role
from evict.model.states import OPEN_STATES, State
from evict.service.evaluate import MatchWorker, protection_products
from evict.service.fleet import Fleet
from evict.settings import Settings, normalise_database_url
from evict.store.store import Store

ORG = "Demo Agency"

ADMIN = "admin"

ACTOR = "cli:demo"

OWN_CLOCK_DIRECTIVE = "omb-m-23-13"

OWN_CLOCK_DAYS = 30
"""The own-clock adoption starts this many days ago, so its milestones are live."""

SNAPSHOTS = 3
"""Weekly inventories of the simulated fleet, the last one a week ago."""

SILENT_SHARE = 0.04
"""Share of hosts that stop checking in after each round (they show up as not seen lately)."""

PROTECTION_CATALOG = """\
# The demo organisation's approved protection products (its replacement policy), for a catalog
# that has none. Written by `evict demo` beside its database and loaded like any --catalog
# directory: a host whose covered product is gone and that runs one of these is `replaced`,
# then `verified`.
vendors:
  - id: demo-microsoft
    name: Microsoft
    aliases: [Microsoft Corporation]
  - id: demo-clamav
    name: ClamAV (Cisco Talos)
  - id: demo-crowdstrike
    name: CrowdStrike

products:
  - id: microsoft-defender-antivirus
    vendor: demo-microsoft
    name: Microsoft Defender Antivirus
    category: protection
    platforms: [windows]
    rules:
      - id: demo-defender
        field: name
        kinds: [program, service, process]
        equals: [Microsoft Defender Antivirus, WinDefend, MsMpEng.exe]
        source: Windows service WinDefend and process MsMpEng.exe (Microsoft Learn)
  - id: clamav
    vendor: demo-clamav
    name: ClamAV
    category: protection
    platforms: [linux]
    rules:
      - id: demo-clamav
        field: name
        kinds: [package, service]
        equals: [clamav-daemon]
        source: Debian package and systemd unit clamav-daemon
  - id: crowdstrike-falcon
    vendor: demo-crowdstrike
    name: CrowdStrike Falcon
    category: protection
    platforms: [macos]
    rules:
      - id: demo-falcon
        field: name
        kinds: [service]
        equals: [com.crowdstrike.falcond]
        source: launchd job com.crowdstrike.falcond (CrowdStrike Falcon sensor for macOS)
"""


@dataclass
class DemoFleet:
    """What the demo built: where, the login, and the settings to serve it with."""

    settings: Settings
    database: Path
    password: str
    hosts: int = 0
    this_host: str = ""
    notes: list[str] = field(default_factory=list)


def build_demo(
    directory: Path,
    *,
    hosts: int,
    seed: int,
    now: dt.datetime,
    log: Callable[[str], None] = lambda _: None,
    this_host: Iterable[HostInventory] | None = None,
) -> DemoFleet:
    """Recreate ``directory/demo.db`` with the demo organisation, fleet and history.

    :param this_host: the inventories to add as this host (default: scan it now).
    """

    directory.mkdir(parents=True, exist_ok=True)
    database = directory / "demo.db"
    for stale in (database, directory / "demo.db-wal", directory / "demo.db-shm"):
        stale.unlink(missing_ok=True)
    catalog = load_catalog()
    catalog_dirs: tuple[Path, ...] = ()
    if not any(p.category == "protection" for p in catalog.products):
        # A catalog without approved protection products: bring the demo's own policy.
        catalog_dir = directory / "demo-catalog"
        catalog_dir.mkdir(exist_ok=True)
        (catalog_dir / "protection.yaml").write_text(PROTECTION_CATALOG, encoding="utf-8")
        catalog_dirs = (catalog_dir,)
        catalog = load_catalog(catalog_dirs)
    settings = Settings(
        database_url=normalise_database_url(str(database)), catalog_dirs=catalog_dirs
    )
    store = Fleet.open(settings.database_url, migrate=True).store
    worker = MatchWorker(
        store, Matcher(catalog), protection=protection_products(catalog, None), batch=500
    )
    password = secrets.token_urlsafe(12)
    first = now - dt.timedelta(days=7 * SNAPSHOTS)
    day = dt.timedelta(days=1)

    _, default_secret = store.create_org(ORG, actor=ACTOR, now=first - 2 * day)
    unit_secrets = {ORG: default_secret}
    for unit in ORG_UNITS:
        unit_secrets[unit] = store.create_unit(ORG, unit, actor=ACTOR, now=first - 2 * day)[1]
    store.create_user(
        ADMIN, org=ORG, role=Role.ADMIN, password=password, actor=ACTOR, now=first - 2 * day
    )
    bod = catalog.directive("bod-17-01")
    store.adopt(ORG, bod.id, bod.start, actor=ACTOR, now=first - 2 * day)
    own_start = (now - dt.timedelta(days=OWN_CLOCK_DAYS)).date()
    store.adopt(ORG, OWN_CLOCK_DIRECTIVE, own_start, actor=ACTOR, now=first - 2 * day)
    demo = DemoFleet(settings, database, password)

    loader = _FleetLoader(store, unit_secrets, seed=seed, hosts=hosts, log=log)
    for snapshot in range(SNAPSHOTS):
        moment = first + dt.timedelta(days=7 * snapshot)
        loader.load(snapshot, at=first)
        stats = worker.run_once(now=moment + dt.timedelta(hours=2), today=moment.date())
        log(f"week {snapshot + 1}: {stats.evaluated:,} hosts evaluated, {stats.changes:,} changes")
        if snapshot == 0:
            _plan_removals(store, moment + 2 * day, seed=seed)
    _grant_waivers(store, now - 5 * day, now, seed=seed)
    demo.hosts = loader.loaded

    if this_host is None:
        # The inventory sources (with the catalog's schema): not loaded at CLI start-up.

        this_host = LocalHostSource(now=now).collect()
    for inventory in this_host:
        info, _ = store.enroll(
            default_secret,
            inventory.host,
            hostname=inventory.hostname,
            platform=inventory.platform.value,
            now=now,
        )
        store.ingest(info, _report(inventory), now=now)
        demo.this_host = inventory.hostname or inventory.host
        log(f"this host: {demo.this_host} ({len(inventory.observations):,} observations)")
    stats = worker.run_once(now=now, today=now.date())
    log(f"today: {stats.evaluated:,} hosts evaluated, {stats.changes:,} changes")
    store.close()
    return demo


class _FleetLoader:
    """Loads the simulated fleet week by week through the store's ingestion path."""

    def __init__(
        self,
        store: Store,
        unit_secrets: dict[str, str],
        *,
        seed: int,
        hosts: int,
        log: Callable[[str], None],
    ) -> None:
        self.store = store
        self.unit_secrets = unit_secrets
        self.seed = seed
        self.hosts = hosts
        self.log = log
        self.enrolled: dict[int, tuple[HostInfo, str]] = {}
        """Host index -> (host, digest of its stored inventory)."""
        self.silent: set[int] = set()
        self.lines: dict[Observation, str] = {}
        self.loaded = 0

    def digest(self, observations: Iterable[Observation]) -> str:
        """:func:`evict.agent.wire.inventory_digest`, with each distinct line made once."""
        # The agent's wire format (orjson, the network join): not loaded at CLI start-up.

        lines = []
        for o in observations:
            line = self.lines.get(o)
            if line is None:
                line = self.lines[o] = observation_line(o)
            lines.append(line)
        h = hashlib.sha256()
        for line in sorted(lines):
            h.update(line.encode("utf-8"))
            h.update(b"\n")
        return h.hexdigest()

    def load(self, snapshot: int, *, at: dt.datetime) -> None:
        """Send every host's inventory of ``snapshot`` (full, or a digest check-in)."""
        # The synthetic fleet's generator: only for the demo.

        rng = random.Random(f"{self.seed}:silent:{snapshot}")
        full = unchanged = 0
        step = max(1, self.hosts // 4)
        for index in range(self.hosts):
            if index in self.silent:
                continue
            if snapshot and rng.random() < SILENT_SHARE:
                self.silent.add(index)
                continue
            inventory = generate_host(self.seed, index, snapshot=snapshot, at=at)
            digest = self.digest(inventory.observations)
            known = self.enrolled.get(index)
            if known is None:
                secret = self.unit_secrets[inventory.org_unit]
                info, _ = self.store.enroll(
                    secret,
                    inventory.host,
                    hostname=inventory.hostname,
                    platform=inventory.platform.value,
                    now=inventory.collected_at,
                )
                self.loaded += 1
            else:
                info = known[0]
                if known[1] == digest and self.store.checkin_unchanged(
                    info, uuid.uuid4().hex, digest, now=inventory.collected_at
                ):
                    unchanged += 1
                    continue
            self.store.ingest(info, _report(inventory, digest), now=inventory.collected_at)
            self.enrolled[index] = (info, digest)
            full += 1
            if (index + 1) % step == 0:
                self.log(f"week {snapshot + 1}: {index + 1:,} / {self.hosts:,} hosts")
        self.log(
            f"week {snapshot + 1}: {full:,} full inventories, {unchanged:,} unchanged check-ins, "
            f"{len(self.silent):,} hosts silent"
        )


def _report(inventory: HostInventory, digest: str | None = None) -> Any:
    # The agent's wire format (orjson, the network join): not loaded at CLI start-up.

    return InventoryReport(
        report_id=uuid.uuid4().hex,
        digest=digest or inventory_digest(inventory.observations),
        observations=inventory.observations,
        hostname=inventory.hostname,
        platform=inventory.platform.value,
        collected_at=inventory.collected_at,
    )


def _open(store: Store, seed: int, salt: str, states: frozenset[str]) -> tuple[int, list[Any]]:
    """The demo organisation's id and its BOD 17-01 hosts in ``states``, shuffled."""
    org = store.org(ORG)
    rows = [r for r in store.fleet_rows("bod-17-01", org_id=org.id) if r.state in states]
    random.Random(f"{seed}:{salt}").shuffle(rows)
    return org.id, rows


def _plan_removals(store: Store, moment: dt.datetime, *, seed: int) -> None:
    """What operators did after the first week: plan most removals, begin some."""
    # The lifecycle rules (with the catalog's schema): not loaded at CLI start-up.

    org_id, rows = _open(store, seed, "plan", frozenset({State.IDENTIFIED.value}))
    for i, row in enumerate(rows):
        if i % 3 == 2:
            continue  # not looked at yet
        to = State.REMOVING if i % 3 == 1 else State.PLANNED
        decide = functools.partial(
            transition, to=to, now=moment, reason="removal scheduled with the unit's IT lead"
        )
        store.change_state(
            store.host(org_id, row.host), "bod-17-01", decide, actor=f"user:{ADMIN}", now=moment
        )


def _grant_waivers(store: Store, moment: dt.datetime, now: dt.datetime, *, seed: int) -> None:
    """Waivers granted last week: one expiring soon, one already expired, one for months."""
    # The lifecycle rules (with the catalog's schema): not loaded at CLI start-up.

    org_id, rows = _open(store, seed, "waive", frozenset(s.value for s in OPEN_STATES))
    waivers = [
        (now + dt.timedelta(days=9), "Lab instrument controller; vendor replacement on order"),
        (now - dt.timedelta(days=1), "Legacy case-management server pending migration"),
        (now + dt.timedelta(days=75), "Air-gapped test bench scheduled for decommissioning"),
    ]
    for row, (expires, why) in zip(rows, waivers, strict=False):
        waiver = Waiver(row.host, "bod-17-01", why, "J. Rivera, CISO", expires.date())
        store.waive(
            store.host(org_id, row.host),
            waiver,
            actor=f"user:{ADMIN}",
            now=moment,
            today=moment.date(),
        )
