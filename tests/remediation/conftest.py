"""Fixtures for the remediation tests: the matcher, the sample fleet, real .deb packages and a
throw-away dpkg root."""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

from evict.catalog.loader import load_catalog
from evict.matching.engine import Matcher
from evict.model.observations import HostInventory
from tests.remediation.remedykit import DEBS, SAMPLE_FLEET, need, need_tool


@pytest.fixture(scope="session")
def matcher() -> Matcher:
    """The built-in catalog, compiled."""
    return Matcher(load_catalog())


@pytest.fixture(scope="session")
def fleet() -> dict[str, HostInventory]:
    """The sample fleet's hosts (Windows, Linux, macOS) by host id, from its osquery log."""
    from evict.inventory.osquery import OsquerySource

    return {inv.host: inv for inv in OsquerySource([SAMPLE_FLEET]).collect()}


@pytest.fixture(scope="session")
def debs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Real .deb files built with dpkg-deb from tests/assets/remediation/debs/<package>."""
    dpkg_deb = need_tool("dpkg-deb")
    out = tmp_path_factory.mktemp("debs")
    built: dict[str, Path] = {}
    for source in sorted(p for p in DEBS.iterdir() if p.is_dir()):
        tree = out / "trees" / source.name
        shutil.copytree(source, tree)
        (tree / "DEBIAN").chmod(0o755)
        target = out / f"{source.name}.deb"
        subprocess.run(
            [dpkg_deb, "--root-owner-group", "--build", str(tree), str(target)],
            check=True,
            capture_output=True,
        )
        built[source.name] = target
    return built


@pytest.fixture
def dpkg_root(tmp_path: Path, debs: dict[str, Path]) -> Callable[..., Path]:
    """Make a throw-away Debian root with the given packages installed by ``dpkg --root``."""
    dpkg = need_tool("dpkg")
    need(os.geteuid() == 0, "dpkg --root needs root (the tests run as root in CI)")

    def make(*packages: str, name: str = "root") -> Path:
        root = tmp_path / name
        (root / "var/lib/dpkg/info").mkdir(parents=True)
        (root / "var/lib/dpkg/updates").mkdir()
        (root / "var/lib/dpkg/status").write_text("")
        (root / "etc").mkdir()
        (root / "etc/machine-id").write_text(f"{name:0<32}"[:32] + "\n")
        (root / "etc/os-release").write_text('ID=debian\nVERSION_ID="12"\n')
        subprocess.run(
            [dpkg, f"--root={root}", "-i", *(str(debs[p]) for p in packages)],
            check=True,
            capture_output=True,
        )
        return root

    return make
