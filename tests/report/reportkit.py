"""A seeded fleet for the report tests: real-format inventories pushed through the store.

Organisation ``DHS`` adopts BOD 17-01 and M-23-13 from 2026-01-01 and NDAA s.1634 from
2026-01-05 (the day a covered article was identified). Its org units:

- ``DHS`` (the first unit): ``win-fin-01`` and ``lx-app-03`` from an osqueryd results log, both
  with Kaspersky Endpoint Security; ``secureedge-ngfw@7.2.1``, a firewall image whose CycloneDX
  SBOM embeds a Kaspersky component (NDAA s.1634 covers it, BOD 17-01 does not);
- ``CBP``: ``laptop-7`` from a regedit export and five devices from an Intune export (Kaspersky
  on four, TikTok on an iPhone, one clean desktop);
- ``FEMA``: ``win-hr-02`` and ``mac-eng-04`` (clean), and ``new-ws-09``, enrolled but never
  inventoried (pending);
- ``USCG``: no hosts.

Then: laptop-7 is planned, FIN-LT-0142's removal begins, the iPhone is waived under M-23-13 (law
enforcement, until 2026-02-01) and the Pixel under BOD 17-01; on 2026-04-20 a new osquery log no
longer shows Kaspersky on win-fin-01 and lx-app-03 (removed); on 2026-04-25 win-fin-01 runs
Microsoft Defender (replaced), confirmed on 2026-05-05 (verified).
"""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from evict.agent.wire import inventory_digest
from evict.catalog.interface import Catalog
from evict.compliance.lifecycle import Waiver, transition, waive
from evict.inventory.registry import open_source
from evict.matching.engine import Matcher
from evict.model.observations import HostInventory
from evict.model.records import HostInfo, InventoryReport
from evict.model.states import State
from evict.scanning import merge_by_host
from evict.service.evaluate import MatchWorker, protection_products
from evict.store.store import Store

ASSETS = Path(__file__).parents[1] / "assets"
REPORT_ASSETS = ASSETS / "report"
PROFILE = Path(__file__).parents[2] / "docs" / "examples" / "agency-profile.yaml"

T0 = dt.datetime(2026, 1, 5, 10, tzinfo=dt.UTC)
REMOVED_AT = dt.datetime(2026, 4, 20, 9, tzinfo=dt.UTC)
REPLACED_AT = dt.datetime(2026, 4, 25, 9, tzinfo=dt.UTC)
VERIFIED_AT = dt.datetime(2026, 5, 5, 9, tzinfo=dt.UTC)
TODAY = dt.date(2026, 5, 10)

UNITS = {
    "win-fin-01": "DHS",
    "lx-app-03": "DHS",
    "secureedge-ngfw@7.2.1": "DHS",
    "laptop-7": "CBP",
    "0d9c5e7a-3b1f-4a62-9c8e-51f0a2b4c6d8": "CBP",  # FIN-LT-0142
    "9f8e7d6c-5b4a-4392-8a1b-0c2d3e4f5a6b": "CBP",  # MKT-MBP-07
    "c3b2a190-8f7e-4d6c-b5a4-93827160f5e4": "CBP",  # Pixel-7-jsmith
    "e5d4c3b2-a190-4f8e-9d6c-5b4a39281706": "CBP",  # iPhone-akim
    "1a2b3c4d-5e6f-4a7b-8c9d-0e1f2a3b4c5d": "CBP",  # HR-DT-0007
    "win-hr-02": "FEMA",
    "mac-eng-04": "FEMA",
}
PIXEL = "c3b2a190-8f7e-4d6c-b5a4-93827160f5e4"
IPHONE = "e5d4c3b2-a190-4f8e-9d6c-5b4a39281706"
FIN_LT = "0d9c5e7a-3b1f-4a62-9c8e-51f0a2b4c6d8"


def read(kind: str, *paths: Path) -> list[HostInventory]:
    """Inventories from real-format files, through the registered offline source."""
    source = open_source(kind, list(paths))
    return merge_by_host(list(source.collect()))


@dataclass
class SeededFleet:
    """The store after the scenario, with what the tests need to ask it."""

    store: Store
    catalog: Catalog
    matcher: Matcher
    protection: frozenset[str]
    org_id: int
    hosts: dict[str, HostInfo] = field(default_factory=dict)
    reports: int = 0


def _push(
    fleet: SeededFleet,
    secrets: dict[str, str],
    inventories: Iterable[HostInventory],
    now: dt.datetime,
) -> None:
    for inv in inventories:
        host = fleet.hosts.get(inv.host)
        if host is None:
            host, _ = fleet.store.enroll(
                secrets[UNITS[inv.host]],
                inv.host,
                hostname=inv.hostname,
                platform=inv.platform.value,
                now=now,
            )
            fleet.hosts[inv.host] = host
        fleet.reports += 1
        fleet.store.ingest(
            host,
            InventoryReport(
                f"report-{fleet.reports:04d}",
                inventory_digest(inv.observations),
                inv.observations,
                inv.hostname,
                inv.platform.value,
                now,
            ),
            now=now,
        )


def _work(fleet: SeededFleet, now: dt.datetime) -> None:
    worker = MatchWorker(fleet.store, fleet.matcher, protection=fleet.protection)
    worker.run_once(now=now, today=now.date())


def seed(store: Store, catalog: Catalog, matcher: Matcher) -> SeededFleet:
    """Run the scenario of this module's docstring on ``store``."""
    org, first = store.create_org("DHS", actor="cli:test", now=T0)
    secrets = {"DHS": first}
    for unit in ("CBP", "FEMA", "USCG"):
        secrets[unit] = store.create_unit("DHS", unit, actor="cli:test", now=T0)[1]
    for directive, start in (
        ("bod-17-01", dt.date(2026, 1, 1)),
        ("omb-m-23-13", dt.date(2026, 1, 1)),
        ("ndaa-fy18-1634", dt.date(2026, 1, 5)),
    ):
        store.adopt("DHS", directive, start, actor="cli:test", now=T0)
    # The scenario spans months between inventories: a limit that keeps its clean hosts clean.
    store.set_freshness(org.id, 365, actor="cli:test", now=T0)
    fleet = SeededFleet(store, catalog, matcher, protection_products(catalog, None), org.id)
    _push(
        fleet,
        secrets,
        [
            *read("osquery", ASSETS / "server" / "day1.osquery.log"),
            *read("cyclonedx", ASSETS / "cyclonedx" / "secureedge-ngfw-7.2.1.cdx.json"),
            *read("reg", ASSETS / "windows" / "reg" / "laptop-7.reg"),
            *read("intune", ASSETS / "intune" / "AppInvRawData.csv"),
        ],
        T0,
    )
    fleet.hosts["new-ws-09"] = store.enroll(
        secrets["FEMA"], "new-ws-09", hostname="new-ws-09", platform="windows", now=T0
    )[0]
    _work(fleet, T0)

    later = T0 + dt.timedelta(days=2)
    for host, to in (("laptop-7", State.PLANNED), (FIN_LT, State.REMOVING)):
        decide = functools.partial(transition, to=to, now=later, reason="change CHG-0042")
        store.change_state(fleet.hosts[host], "bod-17-01", decide, actor="cli:test", now=later)
    for host, directive, justification, approver, expires in (
        (
            IPHONE,
            "omb-m-23-13",
            "Law enforcement: evidence device in open investigation 2026-014",
            "Deputy CIO (designee)",
            dt.date(2026, 2, 1),
        ),
        (
            PIXEL,
            "bod-17-01",
            "Field device awaiting a vendor-certified replacement",
            "Regional Director",
            dt.date(2026, 12, 31),
        ),
    ):
        waiver = Waiver(host, directive, justification, approver, expires)
        decide = functools.partial(waive, waiver=waiver, today=later.date(), now=later)
        store.change_state(
            fleet.hosts[host],
            directive,
            decide,
            actor="cli:test",
            now=later,
            waiver={"justification": justification, "approver": approver, "expires": expires},
        )

    day2 = [
        inv
        for inv in read("osquery", ASSETS / "server" / "day2.osquery.log")
        if inv.host in ("win-fin-01", "lx-app-03")
    ]
    _push(fleet, secrets, day2, REMOVED_AT)
    _work(fleet, REMOVED_AT)
    replaced = read("osquery", REPORT_ASSETS / "replaced.osquery.log")
    _push(fleet, secrets, replaced, REPLACED_AT)
    _work(fleet, REPLACED_AT)
    _push(fleet, secrets, replaced, VERIFIED_AT)
    _work(fleet, VERIFIED_AT)
    return fleet
