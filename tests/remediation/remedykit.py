"""Helpers shared by the remediation tests: paths, the test date, and skip-or-fail for tools."""

from __future__ import annotations

import datetime as dt
import os
import shutil
from pathlib import Path

import pytest

ASSETS = Path(__file__).parents[1] / "assets"
REMEDIATION_ASSETS = ASSETS / "remediation"
DEBS = REMEDIATION_ASSETS / "debs"
SAMPLE_FLEET = Path(__file__).parents[2] / "src" / "evict" / "sample_data" / "fleet.osquery.log"
TODAY = dt.date(2026, 11, 27)
NOW = dt.datetime(2026, 11, 27, 12, 0, tzinfo=dt.UTC)
IN_CI = os.environ.get("CI", "").lower() == "true"


def need(condition: bool, reason: str) -> None:
    """Skip when ``condition`` fails, except in CI, where a missing tool is a failure."""
    if condition:
        return
    if IN_CI:
        pytest.fail(f"{reason} (CI=true: required)")
    pytest.skip(reason)


def need_tool(name: str) -> str:
    """The path of an external tool the test drives (a Debian package installed by
    scripts/system-deps.sh)."""
    path = shutil.which(name)
    need(path is not None, f"{name} is not installed (make system-deps)")
    assert path is not None
    return path
