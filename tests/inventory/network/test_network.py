"""Network logs as sources: ``evict scan --from zeek|suricata|squid|bind|windows-dns|dnsmasq``.

Each format is read from a sample in the tool's own format (tests/assets/network/README.md says
where each comes from); the devices reported are the clients that asked for a catalog endpoint,
never those that asked for a look-alike.
"""

from __future__ import annotations

import gzip
import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from evict.catalog.loader import load_catalog
from evict.cli import main
from evict.inventory.interface import SourceInputError
from evict.inventory.network import _reader
from evict.inventory.registry import open_source
from evict.model.observations import HostInventory, Ident, Kind

ASSETS = Path(__file__).parent.parent.parent / "assets" / "network"
CATALOG = load_catalog()
"""The built-in catalog, whose endpoints the logs are read for."""


def collect(kind: str, *paths: Path) -> tuple[dict[str, HostInventory], Any]:
    source = open_source(kind, list(paths), catalog=CATALOG)
    hosts = {h.host: h for h in source.collect()}
    return hosts, source


def scan_json(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, dict[str, Any], str]:
    code = main(["scan", *argv, "--format", "json"])
    out, err = capsys.readouterr()
    return code, (json.loads(out) if out.strip() else {}), err


def flagged(document: dict[str, Any]) -> dict[str, set[str]]:
    """Host -> the products found on it."""
    return {
        h["host"]: {f["product"] for f in h["findings"]} for h in document["hosts"] if h["findings"]
    }


# --- each format, with its sample -----------------------------------------------------------

EXPECTED = {
    ("zeek", "zeek-dns.log"): {
        "net:10.0.0.5": {"kaspersky-software"},
        "net:10.0.0.8": {"tiktok"},
    },
    ("zeek", "zeek-ssl.log"): {"net:10.0.0.8": {"tiktok"}},
    ("zeek", "zeek-http.log"): {"net:10.0.0.5": {"kaspersky-software"}},
    ("zeek", "zeek-dns.json"): {
        "net:10.0.0.5": {"kaspersky-software"},
        "net:10.0.0.11": {"deepseek"},
    },
    ("suricata", "suricata-eve.json"): {
        "net:10.0.0.5": {"kaspersky-software"},
        "net:10.0.0.8": {"tiktok"},
        "net:10.0.0.11": {"deepseek"},
        "net:10.0.0.12": {"deepseek"},
    },
    ("squid", "squid-access.log"): {
        "net:10.0.0.5": {"kaspersky-software"},
        "net:10.0.0.8": {"tiktok"},
        "net:laptop-17.corp.example": {"deepseek"},
    },
    ("bind", "bind-query.log"): {
        "net:10.0.0.5": {"kaspersky-software"},
        "net:2001:db8::8": {"tiktok"},
    },
    ("windows-dns", "windows-dns.log"): {
        "net:10.0.0.5": {"kaspersky-software"},
        "net:10.0.0.8": {"tiktok"},
    },
    ("dnsmasq", "dnsmasq.log"): {
        "net:10.0.0.5": {"kaspersky-software"},
        "net:10.0.0.8": {"tiktok"},
        "net:10.0.0.11": {"deepseek"},
    },
}


@pytest.mark.parametrize(("kind", "sample"), list(EXPECTED), ids=[s for _, s in EXPECTED])
def test_each_format_reports_the_clients_that_asked_for_an_endpoint(
    capsys: pytest.CaptureFixture[str], kind: str, sample: str
) -> None:
    code, document, err = scan_json(capsys, "--from", kind, str(ASSETS / sample))
    assert code == 1, err
    assert flagged(document) == EXPECTED[(kind, sample)]
    assert [s["state"] for s in document["sources"]] == ["ok"]
    # the look-alike's client (10.0.0.6) and the ordinary one (10.0.0.7) are never flagged
    assert not {"net:10.0.0.6", "net:10.0.0.7"} & set(flagged(document))


@pytest.mark.parametrize(
    ("kind", "sample"),
    [
        ("zeek", "zeek-baseline-dns.log"),
        ("zeek", "zeek-baseline-ssl.log"),
        ("zeek", "zeek-baseline-http.log"),
        ("zeek", "zeek-docs-dns.json"),
        ("zeek", "zeek-docs-http.json"),
        ("suricata", "fever-eve.json"),
    ],
)
def test_logs_the_tools_wrote_read_cleanly_and_show_no_vendor(
    capsys: pytest.CaptureFixture[str], kind: str, sample: str
) -> None:
    code, document, err = scan_json(capsys, "--from", kind, str(ASSETS / sample))
    assert code == 0, err
    assert document["sources"] == [
        {"source": f"{kind}:{ASSETS / sample}", "state": "ok", "problems": []}
    ]


def test_several_zeek_logs_join_into_one_device_per_client(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code, document, _ = scan_json(
        capsys,
        "--from",
        "zeek",
        str(ASSETS / "zeek-dns.log"),
        str(ASSETS / "zeek-http.log"),
        str(ASSETS / "zeek-dns.json"),
    )
    assert code == 1
    (host,) = [h for h in document["hosts"] if h["host"] == "net:10.0.0.5"]
    names = {e["name"] for f in host["findings"] for e in f["evidence"]}
    assert names == {
        "dc1.ksn.kaspersky-labs.com",
        "s07.upd.kaspersky.com",
        "dnl-03.geo.kaspersky.com",
    }


# --- a device per client --------------------------------------------------------------------


def test_a_device_carries_first_and_last_seen_count_and_log_lines() -> None:
    hosts, _ = collect("zeek", ASSETS / "zeek-dns.log")
    device = hosts["net:10.0.0.5"]
    assert device.hostname == ""
    ksn = next(o for o in device.observations if o.name == "dc1.ksn.kaspersky-labs.com")
    assert ksn.kind is Kind.NETWORK
    assert ksn.source == "zeek"
    # asked twice, once in upper case (DNS 0x20 randomisation keeps the name)
    assert ksn.ident(Ident.COUNT) == "2"
    assert ksn.ident(Ident.FIRST_SEEN) == "2026-11-27T09:00:00+00:00"
    assert ksn.ident(Ident.LAST_SEEN) == "2026-11-27T09:02:00+00:00"
    lines = [v for k, v in ksn.identifiers if k == Ident.LOG_LINE]
    assert lines[0].startswith("zeek-dns.log:9: 1795770000.100000\tCHk3vx1Xq2aWmJ8Rf\t10.0.0.5")
    assert lines[1].startswith("zeek-dns.log:16: ")
    assert device.collected_at.isoformat() == "2026-11-27T09:02:00.800000+00:00"


def test_network_finding_is_medium_confidence_with_the_evidence_in_the_contract(
    capsys: pytest.CaptureFixture[str],
) -> None:
    _, document, _ = scan_json(capsys, "--from", "zeek", str(ASSETS / "zeek-dns.log"))
    (host,) = [h for h in document["hosts"] if h["host"] == "net:10.0.0.5"]
    finding = next(f for f in host["findings"] if f["directive"] == "bod-17-01")
    assert finding["confidence"] == "medium"
    evidence = {e["name"]: e for e in finding["evidence"]}
    ksn = evidence["dc1.ksn.kaspersky-labs.com"]
    assert ksn["kind"] == "network"
    assert ksn["rule"] == "network:dc1.ksn.kaspersky-labs.com"
    assert ksn["identifiers"]["count"] == "2"
    assert len(ksn["identifiers"]["log_line"]) == 2
    assert evidence["s07.upd.kaspersky.com"]["rule"] == "network:*.upd.kaspersky.com"


def test_a_name_only_in_an_answer_does_not_count() -> None:
    # 10.0.0.9 asked for www.example.com; the endpoint is only in the answer section
    hosts, _ = collect("zeek", ASSETS / "zeek-dns.log")
    assert "net:10.0.0.9" not in hosts


def test_suricata_answers_are_credited_to_the_client_they_went_to() -> None:
    hosts, _ = collect("suricata", ASSETS / "suricata-eve.json")
    assert "net:10.0.0.1" not in hosts  # the resolver answered; it asked for nothing
    ksn = next(o for o in hosts["net:10.0.0.5"].observations if o.name.startswith("dc1.ksn"))
    assert ksn.ident(Ident.COUNT) == "2"  # the query and its answer


def test_windows_dns_counts_only_queries_it_received() -> None:
    hosts, _ = collect("windows-dns", ASSETS / "windows-dns.log")
    assert set(hosts) == {"net:10.0.0.5", "net:10.0.0.8"}  # not the forwarder 192.0.2.53
    names = {o.name: o for o in hosts["net:10.0.0.5"].observations}
    assert names["dc1.ksn.kaspersky-labs.com"].ident(Ident.COUNT) == "1"  # not the response
    assert names["s07.upd.kaspersky.com"].ident(Ident.LAST_SEEN) == "2026-11-27T13:15:04+00:00"


# --- streaming, gzip ------------------------------------------------------------------------


def test_gzip_is_read_by_its_magic_bytes(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    packed = tmp_path / "dns.log.1"  # a rotated name that says nothing about gzip
    packed.write_bytes(gzip.compress((ASSETS / "zeek-dns.log").read_bytes()))
    code, document, _ = scan_json(capsys, "--from", "zeek", str(packed))
    assert code == 1
    assert flagged(document) == EXPECTED[("zeek", "zeek-dns.log")]


@pytest.mark.parametrize("sample", ["zeek-dns.log", "suricata-eve.json", "windows-dns.log"])
def test_tiny_chunks_give_the_same_devices_and_line_numbers(
    monkeypatch: pytest.MonkeyPatch, sample: str
) -> None:
    kind = {"zeek": "zeek", "suricata": "suricata", "windows": "windows-dns"}[sample.split("-")[0]]
    whole, _ = collect(kind, ASSETS / sample)
    monkeypatch.setattr(_reader, "CHUNK", 7)
    monkeypatch.setattr(_reader, "HEAD", 5)
    pieces, source = collect(kind, ASSETS / sample)
    assert pieces == whole
    assert [s.state for s in source.statuses] == ["ok"]


def test_a_directory_is_read_file_by_file(tmp_path: Path) -> None:
    for name in ("zeek-dns.log", "zeek-ssl.log"):
        shutil.copy(ASSETS / name, tmp_path / name)
    hosts, source = collect("zeek", tmp_path)
    assert {"net:10.0.0.5", "net:10.0.0.8"} <= set(hosts)
    assert len(source.statuses) == 2


# --- bad input ------------------------------------------------------------------------------


def test_a_truncated_last_line_is_reported_and_the_rest_read(tmp_path: Path) -> None:
    text = (ASSETS / "zeek-dns.json").read_text()
    cut = text + text.splitlines()[0][:80]  # a writer killed mid-line
    log = tmp_path / "dns.json"
    log.write_text(cut)
    hosts, source = collect("zeek", log)
    assert {"net:10.0.0.5", "net:10.0.0.11"} <= set(hosts)
    (status,) = source.statuses
    assert status.state == "partial"
    assert status.problems == (
        f"{log}:5: truncated last line (JSON line cut short (no closing brace)); skipped",
    )


def test_a_tsv_line_with_missing_fields_is_reported_by_line(tmp_path: Path) -> None:
    lines = (ASSETS / "zeek-dns.log").read_text().splitlines(keepends=True)
    bad = "\t".join(lines[8].split("\t")[:10]) + "\n"  # the KSN query, cut after its name
    log = tmp_path / "dns.log"
    log.write_text("".join([*lines[:8], bad, *lines[9:]]))
    hosts, source = collect("zeek", log)
    (status,) = source.statuses
    assert status.state == "partial"
    assert status.problems == (
        f"{log}:9: 10 fields where the #fields header has 24 (truncated?); skipped",
    )
    # the other KSN query and the TikTok one are still read
    assert {"net:10.0.0.5", "net:10.0.0.8"} <= set(hosts)
    ksn = next(o for o in hosts["net:10.0.0.5"].observations if o.name.startswith("dc1"))
    assert ksn.ident(Ident.COUNT) == "1"


def test_binary_junk_inside_a_log_is_reported_and_skipped(tmp_path: Path) -> None:
    lines = (ASSETS / "dnsmasq.log").read_bytes().splitlines(keepends=True)
    log = tmp_path / "pihole.log"
    log.write_bytes(b"".join([*lines[:3], b"\x00\x01\x02\xff\xfe junk\n", *lines[3:]]))
    hosts, source = collect("dnsmasq", log)
    (status,) = source.statuses
    assert status.state == "partial"
    assert status.problems == (f"{log}:4: binary data in the line; skipped",)
    assert {"net:10.0.0.5", "net:10.0.0.8", "net:10.0.0.11"} == set(hosts)


def test_a_log_of_another_format_is_refused_with_the_format_that_fits(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code, _, err = scan_json(capsys, "--from", "zeek", str(ASSETS / "squid-access.log"))
    assert code == 2
    assert f"{ASSETS / 'squid-access.log'}:1: not a Zeek log" in err
    assert "it looks like a squid log (--from squid)" in err


def test_a_log_no_format_fits_is_refused_without_a_hint(tmp_path: Path) -> None:
    log = tmp_path / "notes.txt"
    log.write_text("shopping list\neggs\nmilk\n")
    with pytest.raises(SourceInputError) as e:
        collect("bind", log)
    assert str(e.value) == f"{log}:1: not a BIND query log"


def test_a_binary_file_is_refused(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    blob = tmp_path / "dns.log"
    blob.write_bytes(bytes(range(256)) * 64)
    code, _, err = scan_json(capsys, "--from", "zeek", str(blob))
    assert code == 2
    assert f"{blob}:1: binary data, not a Zeek log" in err


def test_a_missing_file_is_an_input_error(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    code, _, err = scan_json(capsys, "--from", "squid", str(tmp_path / "absent.log"))
    assert code == 2
    assert "absent.log: cannot read" in err


def test_a_gzip_file_cut_short_keeps_what_was_read(tmp_path: Path) -> None:
    packed = gzip.compress((ASSETS / "dnsmasq.log").read_bytes() * 50)
    log = tmp_path / "pihole.log.gz"
    log.write_bytes(packed[: len(packed) * 2 // 3])
    hosts, source = collect("dnsmasq", log)
    (status,) = source.statuses
    assert status.state == "partial"
    assert "the file ends early or is corrupt" in status.problems[0]
    assert "net:10.0.0.5" in hosts


def test_hostile_names_and_clients_do_not_become_devices(tmp_path: Path) -> None:
    log = tmp_path / "pihole.log"
    log.write_text(
        "Nov 27 10:00:00 dnsmasq[1]: query[A] dc1.ksn.kaspersky-labs.com from <script>\n"
        "Nov 27 10:00:01 dnsmasq[1]: query[A] dc1.ksn.kaspersky-labs.com\u202e.x from 10.0.0.20\n"
    )
    hosts, source = collect("dnsmasq", log)
    assert set(hosts) == {"net:10.0.0.20"}  # the name is kept as seen; it matches nothing
    assert source.statuses[0].problems == (
        f"{log}:1: client '<script>' is not an address; skipped",
    )


def test_a_huge_line_without_newlines_is_reported_not_hung_on(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setattr(_reader, "CHUNK", 1 << 10)
    monkeypatch.setattr(_reader, "MAX_LINE", 1 << 12)
    log = tmp_path / "dns.json"
    first = (ASSETS / "zeek-dns.json").read_text().splitlines()[0]
    log.write_text(first + "\n" + '{"ts":' + "1" * 100_000 + "\n" + first + "\n")
    hosts, source = collect("zeek", log)
    ksn = next(o for o in hosts["net:10.0.0.5"].observations)
    assert ksn.ident(Ident.COUNT) == "2"
    (status,) = source.statuses
    assert status.state == "partial"
    assert status.problems[0].startswith(f"{log}:2: ")


def test_one_unreadable_file_does_not_hide_the_others(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    code, document, err = scan_json(
        capsys,
        "--from",
        "zeek",
        str(ASSETS / "squid-access.log"),
        str(ASSETS / "zeek-dns.log"),
    )
    assert code == 2
    assert "not a Zeek log; it looks like a squid log" in err
    assert flagged(document) == EXPECTED[("zeek", "zeek-dns.log")]
    states = {s["source"]: s["state"] for s in document["sources"]}
    assert states == {
        f"zeek:{ASSETS / 'squid-access.log'}": "failed",
        f"zeek:{ASSETS / 'zeek-dns.log'}": "ok",
    }
