"""A catalog change re-evaluates the hosts it can affect: all of them, or only those whose
matched software changed when only recognition rules did."""

from __future__ import annotations

import dataclasses
import datetime as dt

from sqlalchemy import func, select

from evict.catalog.interface import Catalog
from evict.catalog.loader import load_catalog
from evict.matching.engine import Matcher
from evict.server.worker import MatchWorker, WorkerStats, protection_products
from evict.simulate import fleet
from evict.store import secrets
from evict.store.interface import BulkHost
from evict.store.store import Store
from evict.store.tables import HostSoftware, Meta, SoftwareMatch

NOW = dt.datetime(2026, 11, 27, 12, tzinfo=dt.UTC)
HOSTS = 300


def load_fleet(store: Store) -> None:
    org, _ = store.create_org("DOT", actor="cli:test", now=NOW)
    hosts = [
        BulkHost(
            identifier=inv.host,
            hostname=inv.hostname,
            platform=inv.platform.value,
            credential_hash=secrets.lookup_hash(f"evh_cc{i}"),
            digest=f"{i:064x}",
            observations=inv.observations,
            collected_at=inv.collected_at,
        )
        for i, inv in enumerate(fleet(HOSTS, seed=11))
    ]
    store.bulk_load(store.units(org.id)[0].id, hosts, actor="cli:test", now=NOW)


def run(store: Store, catalog: Catalog, protection: frozenset[str] | None = None) -> WorkerStats:
    chosen = protection_products(catalog, None) if protection is None else protection
    worker = MatchWorker(store, Matcher(catalog), protection=chosen)
    return worker.run_once(now=NOW, today=NOW.date())


def without_product(catalog: Catalog, product: str, version: str) -> Catalog:
    products = tuple(
        dataclasses.replace(p, rules=()) if p.id == product else p for p in catalog.products
    )
    return dataclasses.replace(catalog, version=version, products=products)


def hosts_with_product(store: Store, catalog_version: str, product: str) -> int:
    stmt = (
        select(func.count(func.distinct(HostSoftware.host_id)))
        .join(SoftwareMatch, SoftwareMatch.software_id == HostSoftware.software_id)
        .where(
            SoftwareMatch.catalog_version == catalog_version,
            SoftwareMatch.hits.contains(f'"product":"{product}"'),
        )
    )
    with store.engine.connect() as conn:
        return int(conn.execute(stmt).scalar_one())


def test_a_rules_only_change_reevaluates_just_the_hosts_whose_software_matched_differently(
    fleet_store: Store,
) -> None:
    load_fleet(fleet_store)
    builtin = load_catalog()
    first = run(fleet_store, builtin)
    assert first.catalog_changed and first.evaluated == HOSTS

    # Same rules, new version: everything is matched again, no host needs evaluating.
    same = run(fleet_store, dataclasses.replace(builtin, version=builtin.version + "-same"))
    assert same.catalog_changed and same.matched == first.matched and same.evaluated == 0

    # Microsoft Defender's rules removed: only the hosts that carry Defender are evaluated.
    carrying = hosts_with_product(fleet_store, builtin.version + "-same", "microsoft-defender")
    assert 0 < carrying < HOSTS
    dropped = without_product(builtin, "microsoft-defender", builtin.version + "-nodefender")
    stats = run(fleet_store, dropped, protection_products(builtin, None))
    assert stats.catalog_changed and stats.evaluated == carrying

    # Only the current version's matches remain, and no comparison is left pending.
    with fleet_store.engine.connect() as conn:
        versions = conn.execute(select(SoftwareMatch.catalog_version).distinct()).scalars().all()
        pending = conn.execute(select(Meta.value).where(Meta.key == "catalog_previous")).all()
    assert versions == [dropped.version] and pending == []
    assert fleet_store.verify_audit().ok


def test_a_change_beyond_the_rules_reevaluates_every_host(fleet_store: Store) -> None:
    load_fleet(fleet_store)
    builtin = load_catalog()
    run(fleet_store, builtin)
    # A protection product no longer counted as approved protection changes host states
    # without any rule changing: every host is evaluated again.
    fewer = protection_products(builtin, None) - {"microsoft-defender"}
    stats = run(fleet_store, dataclasses.replace(builtin, version="other"), fewer)
    assert stats.catalog_changed and stats.evaluated == HOSTS
