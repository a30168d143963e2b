"""The directives' reports from the server: `/api/v1/reports/{directive}/{report}.{fmt}`."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from evict.catalog.interface import Catalog
from evict.cli import main
from evict.model.records import Role
from evict.report.profile import load_profile
from tests.report.reportkit import PROFILE, T0, SeededFleet
from tests.server.fleetkit import KES, ZIP, Clock, Fleet, make_fleet


@pytest.fixture
def fleet(migrated_url: str, report_catalog: Catalog) -> Iterator[Fleet]:
    """The app on each backend with hosts in two org units, one with Kaspersky."""
    for made in make_fleet(migrated_url, report_catalog, Clock()):
        store = made.ctx.store
        _, cbp = store.create_unit("DHS", "CBP", actor="cli:test", now=made.clock())
        made.push("ws-kes", KES)
        made.push("ws-clean", ZIP)
        made.enroll("cbp-1", secret=cbp)
        made.push("cbp-1", ZIP)
        made.work()
        yield made


def get(fleet: Fleet, path: str, who: str = "auditor") -> httpx.Response:
    return fleet.client.get(f"/api/v1/reports/{path}", headers=fleet.auth(who))


def test_a_report_in_each_format(fleet: Fleet) -> None:
    csv_ = get(fleet, "bod-17-01/day30.csv")
    assert csv_.status_code == 200 and csv_.headers["content-type"].startswith("text/csv")
    assert "1.a,attestation,CBP,Statement,No Kaspersky-branded products were found" in csv_.text
    assert "1.a,attestation,DHS,Endpoints impacted,1" in csv_.text
    data = get(fleet, "bod-17-01/day30.json").json()
    assert data["report"] == "day30" and data["organisation"] == "DHS"
    html = get(fleet, "bod-17-01/day30.html")
    assert html.headers["content-type"].startswith("text/html") and "<h1>BOD 17-01" in html.text
    pdf = get(fleet, "bod-17-01/day30.pdf")
    assert pdf.headers["content-type"] == "application/pdf" and pdf.content.startswith(b"%PDF-")
    assert 'filename="bod-17-01-day30.pdf"' in pdf.headers["content-disposition"]


def test_current_is_the_report_the_milestone_asks_for(fleet: Fleet) -> None:
    # the clock stands at 2026-01-05: BOD 17-01's status reports are long due
    data = get(fleet, "bod-17-01/current.json").json()
    assert data["report"] == "status"
    assert get(fleet, "ndaa-fy18-1634/current.json").json()["report"] == "far-followup"


def test_the_profile_fills_the_organisations_fields(fleet: Fleet) -> None:
    profile = load_profile(PROFILE).to_json()
    response = fleet.client.post(
        "/api/v1/reports/bod-17-01/day60.json",
        json={"profile": profile},
        headers=fleet.auth("auditor"),
    )
    assert response.status_code == 200, response.text
    sections = {s["id"]: s for s in response.json()["sections"]}
    poc = {f["name"]: f["value"] for f in sections["2.b"]["fields"]}
    assert poc["Email address"] == "jordan.example@example.gov"
    without = get(fleet, "bod-17-01/day60.json").json()
    fields = {f["name"]: f for s in without["sections"] if s["id"] == "2.b" for f in s["fields"]}
    assert fields["Email address"]["provided"] is False


def test_bad_requests_are_refused_with_a_reason(fleet: Fleet) -> None:
    far = get(fleet, "bod-17-01/far-initial.csv")
    assert far.status_code == 400 and "asks for no far-initial report" in far.text
    assert get(fleet, "bod-17-01/day31.csv").status_code == 400
    assert get(fleet, "no-such-directive/day30.csv").status_code == 404
    bad = fleet.client.post(
        "/api/v1/reports/bod-17-01/day60.json",
        json={"profile": {"poc": {"fax": "555"}}},
        headers=fleet.auth("auditor"),
    )
    assert bad.status_code == 400 and "poc.fax" in bad.text
    assert fleet.client.get("/api/v1/reports/bod-17-01/day30.csv").status_code == 401


def test_a_user_limited_to_an_org_unit_gets_that_units_report(fleet: Fleet) -> None:
    store = fleet.ctx.store
    now = fleet.clock()
    store.create_user(
        "cbp-auditor",
        org="DHS",
        role=Role.AUDITOR,
        password=None,
        unit="CBP",
        actor="cli:test",
        now=now,
    )
    token = store.create_token("cbp-auditor", days=1, actor="cli:test", now=now)[1]
    response = fleet.client.get(
        "/api/v1/reports/bod-17-01/day30.json", headers={"Authorization": f"Bearer {token}"}
    )
    data = response.json()
    assert data["scope"] == "CBP"
    (attest,) = [
        t
        for s in data["sections"]
        if s["id"] == "1.a"
        for t in s["tables"]
        if t["id"] == "attestation"
    ]
    assert [r["Org unit"] for r in attest["rows"]] == ["CBP", "DHS (agency)"]


def test_the_openapi_document_describes_the_report_endpoints(fleet: Fleet) -> None:
    paths = fleet.client.get("/openapi.json").json()["paths"]
    operation = paths["/api/v1/reports/{directive}/{report}.{fmt}"]
    assert {"get", "post"} <= set(operation)
    assert "current" in operation["get"]["description"]
    content = operation["get"]["responses"]["200"]["content"]
    assert {"application/pdf", "text/csv", "text/html", "application/json"} <= set(content)


def _serve(url: str, tmp_path: Path) -> tuple[subprocess.Popen[bytes], str]:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {k: v for k, v in os.environ.items() if k not in {"EVICT_DB", "EVICT_CATALOG"}}
    log = (tmp_path / "serve.log").open("w")
    proc = subprocess.Popen(
        [sys.executable, "-m", "evict", "serve", "--db", url, "--port", str(port)],
        stdout=log,
        stderr=subprocess.STDOUT,
        env=env,
    )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        try:
            if httpx.get(f"{base}/api/v1/health", timeout=2).status_code == 200:
                return proc, base
        except httpx.TransportError:
            pass
        assert proc.poll() is None, (tmp_path / "serve.log").read_text()
        assert time.monotonic() < deadline, "the server did not start"
        time.sleep(0.2)


def test_evict_report_asks_a_running_server_and_sends_the_profile(
    seeded: SeededFleet,
    migrated_url: str,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
) -> None:
    store = seeded.store
    store.create_user(
        "auditor-1", org="DHS", role=Role.AUDITOR, password=None, actor="cli:test", now=T0
    )
    token = store.create_token("auditor-1", days=None, actor="cli:test", now=T0)[1]
    proc, base = _serve(migrated_url, tmp_path)
    try:
        server = ["--server", base, "--token", token]
        assert main(["report", "bod-17-01", "--format", "csv", *server]) == 0
        header = capsys.readouterr().out.splitlines()[0]
        assert header.startswith("host,") and ",state," in header
        code = main(
            [
                "report",
                "bod-17-01",
                "--report",
                "day60",
                "--format",
                "json",
                "--profile",
                str(PROFILE),
                *server,
            ]
        )
        assert code == 0
        data = json.loads(capsys.readouterr().out)
        poc = {
            f["name"]: f["value"] for s in data["sections"] if s["id"] == "2.b" for f in s["fields"]
        }
        assert poc["Name"] == "Jordan Example"
        out = tmp_path / "status.pdf"
        assert main(["report", "bod-17-01", "--format", "pdf", "-o", str(out), *server]) == 0
        assert out.read_bytes().startswith(b"%PDF-")
    finally:
        proc.terminate()
        proc.wait(timeout=15)


def test_the_hosts_report_is_sent_streamed_as_the_listing(fleet: Fleet) -> None:
    for fmt in ("csv", "json"):
        with fleet.client.stream(
            "GET", f"/api/v1/reports/bod-17-01/hosts.{fmt}", headers=fleet.auth("auditor")
        ) as streamed:
            assert streamed.status_code == 200
            # chunked: sent as it is read, no length known in advance
            assert "content-length" not in streamed.headers
            assert f'filename="bod-17-01-hosts.{fmt}"' in streamed.headers["content-disposition"]
            body = streamed.read().decode()
        listing = get(fleet, f"bod-17-01.{fmt}").text
        if fmt == "json":
            drop = ("generated_at",)
            a, b = json.loads(body), json.loads(listing)
            assert {k: v for k, v in a.items() if k not in drop} == {
                k: v for k, v in b.items() if k not in drop
            }
            assert [h["host"] for h in a["hosts"]] == ["ws-kes", "ws-clean", "cbp-1"]
        else:
            assert body == listing
            assert body.count("\n") == 4  # the header and three hosts
