"""The simulated fleet: reproducible, long-tailed, with covered products that get removed."""

from __future__ import annotations

import json
import types
from collections import Counter

from evict.cli import main
from evict.demo.simulate import fleet, generate_host, osquery_lines
from evict.inventory.evict_json import EvictJsonSource
from evict.matching.cache import load_matcher
from evict.model.observations import Kind, Platform


def test_same_seed_same_host_and_other_seed_differs() -> None:
    at = next(fleet(1)).collected_at
    a = generate_host(7, 42, at=at)
    assert a == generate_host(7, 42, at=at)
    assert a.observations != generate_host(8, 42, at=at).observations


def test_fleet_streams() -> None:
    assert isinstance(fleet(10**9), types.GeneratorType)


def test_platform_mix_and_long_tail() -> None:
    hosts = list(fleet(1500, seed=3))
    platforms = Counter(h.platform for h in hosts)
    assert platforms[Platform.WINDOWS] > platforms[Platform.LINUX] > 0
    assert platforms[Platform.ANDROID] > 0 and platforms[Platform.IOS] > 0
    windows = [h for h in hosts if h.platform is Platform.WINDOWS]
    assert sum(len(h.observations) for h in windows) / len(windows) >= 250
    titles = Counter(o.name for h in windows for o in h.observations if o.kind is Kind.PROGRAM)
    counts = sorted(titles.values(), reverse=True)
    assert counts[0] > 20 * counts[len(counts) // 2], "a few titles everywhere, most rare"
    assert len({h.org_unit for h in hosts}) > 5


def test_covered_share_falls_as_snapshots_go_by() -> None:
    matcher = load_matcher()

    def affected(snapshot: int) -> int:
        found = matcher.match_hosts(fleet(3000, seed=5, snapshot=snapshot))
        return sum(1 for f in found.values() if f)

    first, later, last = affected(0), affected(1), affected(3)
    assert first > 60, "a few percent of 3,000 hosts carry covered products"
    assert first > later > last


def test_evict_format_round_trips(tmp_path) -> None:
    out = tmp_path / "fleet.jsonl"
    assert main(["simulate", "--hosts", "50", "--seed", "2", "--out", str(out)]) == 0
    read = list(EvictJsonSource([out]).collect())
    original = list(fleet(50, seed=2))
    assert [h.host for h in read] == [h.host for h in original]
    assert [h.observations for h in read] == [h.observations for h in original]
    assert [h.org_unit for h in read] == [h.org_unit for h in original]
    assert [h.collected_at for h in read] == [h.collected_at for h in original]


def test_osquery_events_use_osquery_columns() -> None:
    host = next(h for h in fleet(50) if h.platform is Platform.WINDOWS)
    events = osquery_lines(host)
    tables = {e["name"] for e in events}
    assert {"pack_evict_programs", "pack_evict_services", "pack_evict_drivers"} <= tables
    programs = next(e for e in events if e["name"] == "pack_evict_programs")
    assert programs["hostIdentifier"] == host.host and programs["action"] == "snapshot"
    assert {"name", "version", "publisher", "identifying_number"} <= set(programs["snapshot"][0])
    json.dumps(events)


def test_osquery_format_reads_back_through_the_osquery_source(tmp_path) -> None:
    from evict.inventory.osquery import OsquerySource

    out = tmp_path / "fleet.log"
    assert main(["simulate", "--hosts", "60", "--seed", "4", "--format", "osquery",
                 "--out", str(out)]) == 0  # fmt: skip
    original = {
        h.host: h for h in fleet(60, seed=4) if h.platform not in (Platform.ANDROID, Platform.IOS)
    }
    read = {h.host: h for h in OsquerySource([out]).collect()}
    assert read.keys() == original.keys()
    matcher = load_matcher()
    for host_id, inventory in read.items():
        assert inventory.platform == original[host_id].platform
        assert len(inventory.observations) == len(original[host_id].observations)
    found_read = matcher.match_hosts(read.values())
    found_original = matcher.match_hosts(original.values())
    assert {h: {f.product for f in fs} for h, fs in found_read.items()} == {
        h: {f.product for f in fs} for h, fs in found_original.items()
    }


def test_observation_json_keeps_repeated_identifiers() -> None:
    from evict.model.observations import Observation

    obs = Observation.make(Kind.SBOM_COMPONENT, "kav sdk", identifiers={"cpe": "cpe:2.3:a:x"})
    obs = Observation(obs.kind, obs.name, "", "", (("cpe", "a"), ("cpe", "b"), ("purl", "p")), "")
    data = obs.to_json()
    assert data["identifiers"] == {"cpe": ["a", "b"], "purl": "p"}
    assert Observation.from_json(data) == obs
