"""Requests refused by the generated block lists are counted as blocked attempts."""

from __future__ import annotations

from pathlib import Path

from evict.catalog.loader import load_catalog
from evict.inventory.network.bind import BindSource
from evict.inventory.network.squid import SquidSource
from evict.model.observations import Ident

ASSETS = Path(__file__).parents[2] / "assets" / "network"


def _by_name(
    source: type[BindSource] | type[SquidSource], name: str
) -> dict[tuple[str, str], dict[str, str]]:
    out = {}
    for inv in source([ASSETS / name], catalog=load_catalog()).collect():
        for o in inv.observations:
            out[(inv.host, o.name)] = {k: v for k, v in o.identifiers if k != Ident.LOG_LINE}
    return out


def test_squid_denied_requests_are_blocked_attempts() -> None:
    seen = _by_name(SquidSource, "squid-access.log")
    assert seen[("net:10.0.0.8", "api16-normal-c-useast1a.tiktokv.com")][Ident.BLOCKED] == "1"
    # A tunnel that went through is ordinary use.
    assert Ident.BLOCKED not in seen[("net:10.0.0.8", "www.tiktok.com")]


def test_bind_rpz_rewrites_are_blocked_attempts_and_passthru_is_not() -> None:
    seen = _by_name(BindSource, "bind-rpz.log")
    ksn = seen[("net:10.0.0.5", "dc1.ksn.kaspersky-labs.com")]
    assert ksn[Ident.COUNT] == "2" and ksn[Ident.BLOCKED] == "1"
    assert seen[("net:10.0.0.5", "dnl-05.geo.kaspersky.com")][Ident.BLOCKED] == "1"
    assert not any(host == "net:10.0.0.6" for host, _ in seen)
