"""The reports page: a directive's documents and bundle generated in the background, listed with
who asked and when, and downloaded with the hash the page shows."""

from __future__ import annotations

import dataclasses
import hashlib
import io
import re
import time
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from bs4 import BeautifulSoup
from fastapi.testclient import TestClient

from evict.catalog.interface import Catalog
from tests.dashboard.dashkit import NOW, Seeded, app_settings, csrf_of, login


@pytest.fixture(scope="module")
def reports_client(
    seeded: Seeded, builtin_catalog: Catalog, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[TestClient]:
    """The app over the seeded fleet, keeping its reports in a temporary directory."""
    from evict.server.app import create_app

    settings = dataclasses.replace(
        app_settings(seeded.url), reports_dir=tmp_path_factory.mktemp("reports")
    )
    app = create_app(settings, clock=lambda: NOW, catalog=builtin_catalog)
    with TestClient(app) as c:
        yield c


def _ask(client: TestClient, **form: str) -> int:
    page = client.get("/reports")
    response = client.post(
        "/reports", data={"csrf": csrf_of(page.text), **form}, follow_redirects=False
    )
    assert response.status_code == 303, response.text
    found = re.search(r"asked=(\d+)", response.headers["location"])
    assert found
    return int(found.group(1))


def _finished_row(client: TestClient, job: int, timeout: float = 120.0) -> BeautifulSoup:
    """The job's row once it is done or failed (the page refreshes itself meanwhile)."""
    deadline = time.monotonic() + timeout
    while True:
        page = client.get("/reports")
        row = BeautifulSoup(page.text, "html.parser").find("tr", attrs={"data-job": str(job)})
        assert row is not None, "the job is listed as soon as it is asked for"
        classes = row.get("class") or []
        if "job-done" in classes or "job-failed" in classes:
            return row
        assert '<meta http-equiv="refresh"' in page.text, "a running job refreshes the page"
        assert time.monotonic() < deadline, f"job {job} did not finish in {timeout} s"
        time.sleep(0.2)


def test_a_day30_pdf_is_generated_in_the_background_and_downloaded(
    reports_client: TestClient,
) -> None:
    login(reports_client, "auditor-1")
    job = _ask(reports_client, directive="bod-17-01", report="day30", format="pdf")
    row = _finished_row(reports_client, job)
    assert "job-done" in row["class"], row.get_text(" ", strip=True)
    text = row.get_text(" ", strip=True)
    assert "user:auditor-1" in text and "Day 30" in text
    link = row.find("a", href=f"/reports/{job}/download")
    assert link is not None
    response = reports_client.get(link["href"])
    assert response.status_code == 200
    assert response.content.startswith(b"%PDF")
    digest = hashlib.sha256(response.content).hexdigest()
    assert response.headers["x-content-sha256"] == digest
    assert row.find("code")["title"] == digest, "the page shows the file's SHA-256"
    assert "attachment" in response.headers["content-disposition"]
    audit = reports_client.get("/audit").text
    assert "report.requested" in audit


def test_the_evidence_bundle_is_a_job_too(reports_client: TestClient) -> None:
    login(reports_client, "admin-1")
    job = _ask(reports_client, directive="bod-17-01", report="evidence", format="")
    row = _finished_row(reports_client, job)
    assert "job-done" in row["class"], row.get_text(" ", strip=True)
    response = reports_client.get(f"/reports/{job}/download")
    with zipfile.ZipFile(io.BytesIO(response.content)) as bundle:
        names = bundle.namelist()
    assert "MANIFEST.json" in names
    assert any(n.startswith("reports/bod-17-01-day30.") for n in names)


def test_another_organisation_cannot_see_or_download_a_job(reports_client: TestClient) -> None:
    login(reports_client, "operator-1")
    job = _ask(reports_client, directive="omb-m-23-13", report="exceptions", format="csv")
    _finished_row(reports_client, job)
    login(reports_client, "treasury-admin")
    assert f'data-job="{job}"' not in reports_client.get("/reports").text
    assert reports_client.get(f"/reports/{job}/download").status_code == 404


def test_a_report_the_directive_does_not_have_is_refused(reports_client: TestClient) -> None:
    login(reports_client, "admin-1")
    page = reports_client.get("/reports")
    response = reports_client.post(
        "/reports",
        data={
            "csrf": csrf_of(page.text),
            "directive": "omb-m-23-13",
            "report": "day60",
            "format": "pdf",
        },
    )
    assert response.status_code == 400
    assert "has no report 'day60'" in BeautifulSoup(response.text, "html.parser").get_text()


def test_jobs_left_unfinished_by_a_stopped_server_are_marked_failed(
    seeded: Seeded, tmp_path: Path
) -> None:
    from evict.settings import normalise_database_url
    from evict.store.engine import make_engine
    from evict.store.report_jobs import ReportJobs

    engine = make_engine(normalise_database_url(seeded.url))
    jobs = ReportJobs(engine)
    org_id = (
        jobs.engine.connect().exec_driver_sql("SELECT id FROM orgs WHERE name = 'DHS'").scalar()
    )
    assert isinstance(org_id, int)
    job = jobs.create(
        org_id=org_id,
        unit_id=None,
        directive="bod-17-01",
        kind="day30",
        fmt="pdf",
        requested_by="user:admin-1",
        now=NOW,
    )
    jobs.advance(job.id, phase="rendering", progress=50)
    assert jobs.abandon_unfinished(reason="server stopped", now=NOW) >= 1
    after = jobs.get(org_id, job.id)
    assert after.status == "failed" and after.error == "server stopped"
    engine.dispose()
