"""The running host as one inventory: every collector, each failing on its own."""

from __future__ import annotations

import datetime as dt
import os
import shutil
import subprocess
import time
from pathlib import Path

import pytest

from evict.catalog.loader import load_catalog
from evict.inventory.local import LocalHostSource
from evict.matching.engine import Matcher
from evict.model.observations import Ident, Kind, Platform

from ._helpers import ASSETS, copy_tree

NOW = dt.datetime(2026, 1, 5, 9, 30, tzinfo=dt.UTC)


def installed_dpkg_packages() -> int:
    done = subprocess.run(
        ["dpkg-query", "-W", "-f", "${db:Status-Status}\\n"],
        capture_output=True,
        text=True,
        check=True,
    )
    return sum(1 for line in done.stdout.splitlines() if line == "installed")


@pytest.mark.skipif(shutil.which("dpkg-query") is None, reason="needs a Debian-family host")
def test_this_machine() -> None:
    expected = installed_dpkg_packages()  # counted first: packages may be added meanwhile
    source = LocalHostSource()
    started = time.perf_counter()
    (inventory,) = source.collect()
    elapsed = time.perf_counter() - started
    states = {s.source: s.state for s in source.statuses}
    assert states["local:dpkg"] in ("ok", "partial")
    assert "failed" not in states.values(), source.statuses
    dpkg = [o for o in inventory.observations if o.source == "local:dpkg"]
    assert len(dpkg) >= expected > 0
    assert len(inventory.observations) >= expected
    assert inventory.platform is Platform.LINUX
    assert elapsed < 3.0  # budget is well under 0.3 s; this only catches a scan gone wrong


def prepared_root(tmp_path: Path) -> Path:
    """The Debian sample with one corrupt and one unreadable package database."""
    root = copy_tree("debian", tmp_path / "root")
    status = root / "var/lib/dpkg/status"
    status.write_bytes(status.read_bytes()[:2000] + b"\x00\x00\x1f\x8b binary junk")
    apk = root / "lib/apk/db/installed"
    apk.parent.mkdir(parents=True)
    os.mkfifo(apk)  # reading it would block forever
    return root


def test_one_broken_collector_does_not_hide_the_others(tmp_path: Path) -> None:
    source = LocalHostSource(prepared_root(tmp_path), now=NOW, hostname="kesl-box")
    (inventory,) = source.collect()
    statuses = {s.source: s for s in source.statuses}
    assert statuses["local:dpkg"].state == "failed"
    assert "var/lib/dpkg/status:" in statuses["local:dpkg"].problems[0]
    assert "binary" in statuses["local:dpkg"].problems[0]
    assert statuses["local:apk"].state == "failed"
    assert "not a regular file" in statuses["local:apk"].problems[0]
    for name in ("systemd", "kernel_modules", "browser_extensions", "vendor_folders"):
        assert statuses[f"local:{name}"].state == "ok"
    seen = {(o.kind, o.name) for o in inventory.observations}
    assert (Kind.SERVICE, "kesl") in seen
    assert (Kind.FILE, "kesl") in seen
    assert (Kind.BROWSER_EXTENSION, "Kaspersky Protection") in seen
    assert not any(o.kind is Kind.PACKAGE for o in inventory.observations)
    assert (inventory.host, inventory.hostname) == ("5c1f0e2a9b7d4c3e8f6a1b2c3d4e5f60", "kesl-box")
    assert inventory.collected_at == NOW


def test_kaspersky_on_the_sample_host_is_found_by_the_matcher() -> None:
    source = LocalHostSource(ASSETS / "debian", now=NOW, hostname="kesl-box")
    inventories = list(source.collect())
    findings = Matcher(load_catalog()).match_hosts(inventories)[inventories[0].host]
    kesl = [f for f in findings if f.product == "kaspersky-endpoint-security"]
    assert kesl, "KESL installed from its .deb must be found"
    evidence = {(e.observation.source, e.observation.name) for f in kesl for e in f.evidence}
    assert ("local:dpkg", "kesl") in evidence
    purls = {e.observation.ident(Ident.PURL) for f in kesl for e in f.evidence}
    assert "pkg:deb/debian/kesl@10.0.0-3458?arch=amd64" in purls
