"""Vendor install folders: existence only, never through a link that leaves the root."""

from __future__ import annotations

import os
from pathlib import Path

from evict.inventory.local.folders import VendorFolderCollector
from evict.model.observations import Ident, Kind

from ._helpers import ASSETS, run


def paths(root: Path) -> list[str]:
    observations, status = run(VendorFolderCollector, root)
    assert status.state == "ok"
    assert all(o.kind is Kind.FILE for o in observations)
    return [o.ident(Ident.PATH) or "" for o in observations]


def test_kaspersky_folders_and_product_subfolders() -> None:
    observations, _ = run(VendorFolderCollector, ASSETS / "debian")
    assert [(o.name, o.ident(Ident.PATH)) for o in observations] == [
        ("kaspersky", "/opt/kaspersky"),
        ("kesl", "/opt/kaspersky/kesl"),
        ("klnagent", "/opt/kaspersky/klnagent"),
        ("kaspersky", "/var/opt/kaspersky"),
        ("kesl", "/var/opt/kaspersky/kesl"),
        ("kaspersky", "/etc/opt/kaspersky"),  # kesl.ini inside is a file, not a product folder
    ]


def test_clean_host_has_no_vendor_folders() -> None:
    assert paths(ASSETS / "alpine") == []


def test_link_inside_the_root_is_followed(tmp_path: Path) -> None:
    (tmp_path / "data/kaspersky/kesl").mkdir(parents=True)
    (tmp_path / "opt").mkdir()
    os.symlink("/data/kaspersky", tmp_path / "opt/kaspersky")  # the host's own absolute link
    assert paths(tmp_path) == ["/opt/kaspersky", "/opt/kaspersky/kesl"]


def test_links_out_of_the_root_are_not_followed(tmp_path: Path) -> None:
    outside = tmp_path / "outside/kaspersky"
    (outside / "kesl").mkdir(parents=True)
    root = tmp_path / "root"
    (root / "opt").mkdir(parents=True)
    (root / "var/opt").mkdir(parents=True)
    os.symlink("../../outside/kaspersky", root / "opt/kaspersky")
    os.symlink(str(outside), root / "var/opt/kaspersky")
    assert paths(root) == []
