"""A catalog change re-evaluates the hosts it can affect: all of them, or only those whose
matched software changed when only recognition rules did."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json

from sqlalchemy import func, select, update

from evict.catalog.interface import Catalog, ProductID
from evict.catalog.loader import load_catalog
from evict.demo.simulate import fleet
from evict.matching.engine import Matcher
from evict.model.records import BulkHost
from evict.service.evaluate import MatchWorker, WorkerStats, protection_products
from evict.store import secrets
from evict.store.store import Store
from evict.store.tables import Host, HostSoftware, Meta, SoftwareMatch

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
        for i, inv in enumerate(fleet(HOSTS, seed=11, at=NOW - dt.timedelta(days=1)))
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


def hosts_a_wider_change_can_affect(store: Store, catalog: Catalog) -> int:
    """Hosts carrying a covered product under ``catalog``, or whose state is not settled."""
    from evict.store.tables import HostStateRow

    with store.engine.connect() as conn:
        rows = conn.execute(
            select(SoftwareMatch.software_id, SoftwareMatch.hits).where(
                SoftwareMatch.catalog_version == catalog.version, SoftwareMatch.matched
            )
        ).all()
        covered = [
            sid
            for sid, hits in rows
            if any(
                catalog.directives_for(catalog.product(h["product"]), embedded=True)
                for h in json.loads(hits)
            )
        ]
        carrying = set(
            conn.execute(
                select(HostSoftware.host_id).where(HostSoftware.software_id.in_(covered))
            ).scalars()
        )
        unsettled = set(
            conn.execute(
                select(HostStateRow.host_id).where(HostStateRow.state.not_in(["clean", "verified"]))
            ).scalars()
        )
    return len(carrying | unsettled)


def test_a_change_beyond_the_rules_reevaluates_the_hosts_it_can_affect(fleet_store: Store) -> None:
    load_fleet(fleet_store)
    builtin = load_catalog()
    run(fleet_store, builtin)
    protection = protection_products(builtin, None)
    affected = hosts_a_wider_change_can_affect(fleet_store, builtin)
    assert 0 < affected < HOSTS
    # Kaspersky Endpoint Security taken out of every directive's scope, no rule changed: the
    # hosts carrying a covered product (or removed/replaced/waived) are evaluated again, and
    # those carrying only that product are no longer identified. A host with nothing covered,
    # clean or verified, cannot change and is left alone.
    kes = "kaspersky-endpoint-security"
    narrower = dataclasses.replace(
        builtin,
        version="other",
        directives=tuple(
            dataclasses.replace(d, excluded_products=(*d.excluded_products, ProductID(kes)))
            for d in builtin.directives
        ),
    )
    stats = run(fleet_store, narrower, protection)
    assert stats.catalog_changed and stats.evaluated == affected and stats.changes > 0

    # The same states as evaluating every host: a forced pass over the whole fleet with the
    # same catalog changes nothing.
    with fleet_store.engine.begin() as conn:
        conn.execute(update(Host).values(dirty=True))
    again = run(fleet_store, narrower, protection)
    assert not again.catalog_changed and again.evaluated == HOSTS and again.changes == 0
    events = fleet_store.audit_events(action_prefix="catalog.")
    assert events[-1].payload["requeue"] == "covered"


def test_a_directive_added_or_withdrawn_reevaluates_every_host(fleet_store: Store) -> None:
    load_fleet(fleet_store)
    builtin = load_catalog()
    run(fleet_store, builtin)
    withdrawn = dataclasses.replace(builtin, version="fewer", directives=builtin.directives[:-1])
    stats = run(fleet_store, withdrawn)
    assert stats.catalog_changed and stats.evaluated == HOSTS
    assert fleet_store.audit_events(action_prefix="catalog.")[-1].payload["requeue"] == "all"


def test_a_first_evaluation_that_finds_nothing_is_one_audit_event_per_host(
    fleet_store: Store,
) -> None:
    load_fleet(fleet_store)
    builtin = load_catalog()
    run(fleet_store, builtin)
    directives = [d.id for d in builtin.directives]
    events = fleet_store.audit_events(action_prefix="state.", limit=100_000)
    per_host: dict[str, list[dict[str, object]]] = {}
    for e in events:
        per_host.setdefault(e.subject, []).append(dict(e.payload))
    assert len(per_host) == HOSTS
    clean = [p for p in per_host.values() if len(p) == 1 and p[0]["to"] == "clean"]
    assert clean and all(p[0]["directives"] == directives for p in clean)
    # A host with a finding keeps one event per directive, each naming its directive.
    found = [p for p in per_host.values() if any(x["to"] == "identified" for x in p)]
    assert found and all(len(p) == len(directives) for p in found)
    assert all(x["directive"] in directives for p in found for x in p)
    assert fleet_store.verify_audit().ok
