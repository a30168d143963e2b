"""The fleet API on SQLite and PostgreSQL: what agents, operators and auditors see."""

from __future__ import annotations

import csv
import datetime as dt
import gzip
import io
import json

from evict.service.evaluate import MatchWorker
from tests.server.fleetkit import DEFENDER, KES, TIKTOK, ZIP, Clock, Fleet, make_fleet


def rows(fleet: Fleet, directive: str = "bod-17-01", who: str = "auditor") -> dict[str, dict]:
    response = fleet.client.get(f"/api/v1/reports/{directive}.csv", headers=fleet.auth(who))
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/csv")
    return {r["host"]: r for r in csv.DictReader(io.StringIO(response.text))}


def test_hosts_with_covered_products_are_identified_and_the_rest_attested_clean(
    fleet: Fleet,
) -> None:
    fleet.push("ws-kes", KES, ZIP)
    fleet.push("ws-clean", ZIP)
    assert {h: r["state"] for h, r in rows(fleet).items()} == {
        "ws-kes": "pending",
        "ws-clean": "pending",
    }, "ingestion stores; the worker decides"
    stats = fleet.work()
    assert stats.matched == 3 and stats.evaluated == 2, "7-Zip, KES and the Spooler service"
    report = rows(fleet)
    assert {h: r["state"] for h, r in report.items()} == {
        "ws-kes": "identified",
        "ws-clean": "clean",
    }
    assert report["ws-kes"]["products"] == "kaspersky-endpoint-security"
    assert report["ws-clean"]["products"] == ""


def test_a_later_inventory_without_the_product_moves_the_host_to_removed(fleet: Fleet) -> None:
    fleet.push("ws-kes", KES, ZIP)
    fleet.work()
    fleet.clock.advance(days=3)
    fleet.push("ws-kes", ZIP)
    fleet.work()
    assert fleet.state("ws-kes") == "removed"


def test_protection_replaces_and_a_later_unchanged_checkin_verifies(fleet: Fleet) -> None:
    fleet.push("ws-kes", KES)
    fleet.work()
    fleet.push("ws-kes", ZIP, DEFENDER)
    fleet.work()
    assert fleet.state("ws-kes") == "replaced"
    fleet.clock.advance(days=1)
    assert fleet.check_in("ws-kes", ZIP, DEFENDER) == "unchanged"
    fleet.work()
    assert fleet.state("ws-kes") == "verified"


def test_a_resent_report_gets_the_same_acknowledgement(fleet: Fleet) -> None:
    fleet.enroll("ws-1")
    body = fleet.body("ws-1", [KES, ZIP])
    first = fleet.send("ws-1", body)
    fleet.clock.advance(minutes=5)
    again = fleet.send("ws-1", body)
    assert first.status_code == again.status_code == 200
    assert first.json() == again.json()
    assert first.json()["status"] == "stored"


def test_the_digest_check_says_whether_to_send_the_full_body(fleet: Fleet) -> None:
    fleet.push("ws-1", KES, ZIP)
    assert fleet.check_in("ws-1", ZIP, KES) == "unchanged", "order does not matter"
    assert fleet.check_in("ws-1", ZIP) == "send"


def test_requests_without_a_valid_credential_are_refused(fleet: Fleet) -> None:
    body = fleet.body("ws-1", [ZIP])
    response = fleet.client.post("/api/v1/inventory", json=body)
    assert response.status_code == 401
    assert response.json()["error"]["message"] == "missing bearer token"
    response = fleet.client.post(
        "/api/v1/inventory", json=body, headers={"Authorization": "Bearer evh_nope"}
    )
    assert response.status_code == 401
    response = fleet.client.post("/api/v1/enroll", json={"secret": "eve_nope", "host": "ws-1"})
    assert response.status_code == 404
    assert "enrolment secret" in response.json()["error"]["message"]
    assert fleet.client.get("/api/v1/hosts").status_code == 401


def test_a_report_for_another_host_than_the_credential_is_refused(fleet: Fleet) -> None:
    fleet.enroll("ws-1")
    response = fleet.send("ws-1", fleet.body("ws-2", [ZIP]))
    assert response.status_code == 422
    assert "ws-2" in response.json()["error"]["message"]


def test_oversized_and_malformed_bodies_get_a_clear_status(
    migrated_url: str, server_catalog
) -> None:
    limits = {"max_body_bytes": 4096, "max_inflated_bytes": 64 * 1024, "max_observations": 50}
    for fleet in make_fleet(migrated_url, server_catalog, Clock(), **limits):
        cred = fleet.enroll("ws-1")
        auth = {"Authorization": f"Bearer {cred}"}
        gz = {**auth, "Content-Encoding": "gzip"}
        post = fleet.client.post

        big = post("/api/v1/inventory", content=b"x" * 5000, headers=auth)
        assert big.status_code == 413 and "4096" in big.json()["error"]["message"]

        bomb = gzip.compress(b" " * (200 * 1024))
        inflated = post("/api/v1/inventory", content=bomb, headers=gz)
        assert inflated.status_code == 413
        assert "inflates" in inflated.json()["error"]["message"]

        many = fleet.body("ws-1", [ZIP] * 51, complete=False)
        too_many = post(
            "/api/v1/inventory", content=gzip.compress(json.dumps(many).encode()), headers=gz
        )
        assert too_many.status_code == 413
        assert "51 observations" in too_many.json()["error"]["message"]

        broken = post("/api/v1/inventory", content=b'{"report_id": ', headers=auth)
        assert broken.status_code == 422
        assert "not valid JSON" in broken.json()["error"]["message"]

        truncated = post("/api/v1/inventory", content=gzip.compress(b"{}" * 100)[:-12], headers=gz)
        assert truncated.status_code == 422

        bad_kind = fleet.body("ws-1", [ZIP])
        bad_kind["observations"][0]["kind"] = "rootkit"
        response = fleet.send("ws-1", bad_kind)
        assert response.status_code == 422
        assert response.json()["error"]["message"].startswith("observations[0].kind")

        deep = post("/api/v1/inventory", content=b"[" * 100_000, headers=auth)
        assert deep.status_code == 413 or deep.status_code == 422


def test_operators_plan_but_cannot_claim_evidence_states(fleet: Fleet) -> None:
    fleet.push("ws-kes", KES)
    fleet.work()
    url = "/api/v1/hosts/ws-kes/state"
    planned = fleet.client.post(
        url,
        json={"directive": "bod-17-01", "to": "planned", "reason": "CHG-1"},
        headers=fleet.auth("operator"),
    )
    assert planned.status_code == 200, planned.text
    assert (planned.json()["from_state"], planned.json()["to"]) == ("identified", "planned")
    claimed = fleet.client.post(
        url, json={"directive": "bod-17-01", "to": "removed"}, headers=fleet.auth("operator")
    )
    assert claimed.status_code == 409
    assert "set by evidence" in claimed.json()["error"]["message"]
    read_only = fleet.client.post(
        url, json={"directive": "bod-17-01", "to": "removing"}, headers=fleet.auth("auditor")
    )
    assert read_only.status_code == 403
    assert fleet.state("ws-kes") == "planned"


def test_a_waiver_names_one_host_and_lapses_back(fleet: Fleet) -> None:
    fleet.push("ws-kes", KES)
    fleet.work()
    waiver = {
        "host": "ws-kes",
        "directive": "bod-17-01",
        "justification": "lab instrument, air-gapped",
        "approver": "CISO J. Doe",
        "expires": (fleet.clock().date() + dt.timedelta(days=10)).isoformat(),
    }
    made = fleet.client.post("/api/v1/waivers", json=waiver, headers=fleet.auth("operator"))
    assert made.status_code == 201, made.text
    assert made.json()["approver"] == "CISO J. Doe"
    assert fleet.state("ws-kes") == "waived"
    blanket = fleet.client.post(
        "/api/v1/waivers", json={**waiver, "host": "*"}, headers=fleet.auth("operator")
    )
    assert blanket.status_code == 409
    assert "no blanket waivers" in blanket.json()["error"]["message"]
    fleet.clock.advance(days=11)
    fleet.work()
    assert fleet.state("ws-kes") == "identified"
    listed = fleet.client.get("/api/v1/waivers", headers=fleet.auth("auditor")).json()
    assert [w["host"] for w in listed] == ["ws-kes"]


def test_an_m_23_13_exception_names_its_grounds(fleet: Fleet) -> None:
    fleet.push("phone-1", TIKTOK)
    fleet.work()
    assert fleet.state("phone-1", "omb-m-23-13") == "identified"
    waiver = {
        "host": "phone-1",
        "directive": "omb-m-23-13",
        "justification": "undercover account used in an open investigation",
        "approver": "Deputy Secretary (designee of the agency head)",
        "expires": (fleet.clock().date() + dt.timedelta(days=30)).isoformat(),
    }
    for grounds in ("", "marketing"):
        refused = fleet.client.post(
            "/api/v1/waivers", json={**waiver, "grounds": grounds}, headers=fleet.auth("operator")
        )
        assert refused.status_code == 409, refused.text
        message = refused.json()["error"]["message"]
        assert "law-enforcement, national-security, security-research" in message
    assert fleet.state("phone-1", "omb-m-23-13") == "identified"
    made = fleet.client.post(
        "/api/v1/waivers",
        json={**waiver, "grounds": "law-enforcement"},
        headers=fleet.auth("operator"),
    )
    assert made.status_code == 201, made.text
    assert made.json()["grounds"] == "law-enforcement"
    assert fleet.state("phone-1", "omb-m-23-13") == "waived"
    report = fleet.client.get(
        "/api/v1/reports/omb-m-23-13/exceptions.csv", headers=fleet.auth("auditor")
    )
    assert report.status_code == 200, report.text
    assert "law enforcement" in report.text and "NOT STATED" not in report.text


def test_host_detail_shows_findings_with_evidence_and_a_timeline(fleet: Fleet) -> None:
    fleet.push("ws-kes", KES, ZIP)
    fleet.work()
    detail = fleet.client.get("/api/v1/hosts/ws-kes", headers=fleet.auth("auditor")).json()
    bod = [f for f in detail["findings"] if f["directive"] == "bod-17-01"]
    assert [f["product"] for f in bod] == ["kaspersky-endpoint-security"]
    evidence = bod[0]["evidence"][0]
    assert (evidence["name"], evidence["version"], evidence["source"]) == (
        "Kaspersky Endpoint Security for Windows",
        "12.3.0.493",
        "osquery:programs",
    )
    actions = [e["action"] for e in detail["timeline"]]
    assert actions[:2] == ["host.enroll", "inventory.ingest"]
    assert "state.change" in actions
    assert detail["protected"] is False


def test_listing_filters_by_state_product_and_pages(fleet: Fleet) -> None:
    for i in range(5):
        fleet.push(f"ws-{i}", KES if i % 2 == 0 else ZIP)
    fleet.work()
    get = fleet.client.get
    found = get(
        "/api/v1/hosts",
        params={"directive": "bod-17-01", "state": "identified"},
        headers=fleet.auth("auditor"),
    ).json()
    assert [h["host"] for h in found["hosts"]] == ["ws-0", "ws-2", "ws-4"]
    by_product = get(
        "/api/v1/hosts",
        params={"product": "kaspersky-endpoint-security"},
        headers=fleet.auth("auditor"),
    ).json()
    assert [h["host"] for h in by_product["hosts"]] == ["ws-0", "ws-2", "ws-4"]
    page1 = get("/api/v1/hosts", params={"limit": 2}, headers=fleet.auth()).json()
    page2 = get(
        "/api/v1/hosts", params={"limit": 2, "after": page1["next_after"]}, headers=fleet.auth()
    ).json()
    assert [h["host"] for h in page1["hosts"] + page2["hosts"]] == ["ws-0", "ws-1", "ws-2", "ws-3"]
    unknown = get("/api/v1/hosts", params={"product": "nope"}, headers=fleet.auth())
    assert unknown.status_code == 404


def test_the_summary_counts_states_per_org_unit(fleet: Fleet) -> None:
    created = fleet.client.post(
        "/api/v1/orgs/units", json={"name": "CBP"}, headers=fleet.auth("admin")
    )
    assert created.status_code == 201
    cbp = created.json()["enroll_secret"]
    fleet.enroll("cbp-1", secret=cbp)
    fleet.push("cbp-1", KES)
    fleet.push("hq-1", ZIP)
    fleet.work()
    summary = fleet.client.get(
        "/api/v1/directives/bod-17-01/summary", headers=fleet.auth("auditor")
    ).json()
    assert summary["hosts"] == 2
    assert summary["states"] == {"clean": 1, "identified": 1}
    assert summary["org_units"] == {"CBP": {"identified": 1}, "DHS": {"clean": 1}}


def test_adopting_a_directive_late_moves_its_due_dates(fleet: Fleet) -> None:
    start = fleet.clock().date()
    adopted = fleet.client.post(
        "/api/v1/directives/omb-m-23-13/adopt",
        json={"start": start.isoformat()},
        headers=fleet.auth("admin"),
    )
    assert adopted.status_code == 200, adopted.text
    listed = {
        d["id"]: d
        for d in fleet.client.get("/api/v1/directives", headers=fleet.auth("auditor")).json()
    }
    assert listed["omb-m-23-13"]["adopted"] is True
    assert dt.date.fromisoformat(listed["omb-m-23-13"]["milestone"]["due"]) > start
    assert listed["bod-17-01"]["adopted"] is False
    denied = fleet.client.post(
        "/api/v1/directives/bod-17-01/adopt",
        json={"start": start.isoformat()},
        headers=fleet.auth("operator"),
    )
    assert denied.status_code == 403


def test_other_organisations_see_nothing(fleet: Fleet) -> None:
    fleet.push("ws-kes", KES)
    fleet.work()
    store = fleet.ctx.store
    store.create_org("DOE", actor="cli:test", now=fleet.clock())
    from evict.model.records import Role

    store.create_user(
        "eve", org="DOE", role=Role.ADMIN, password=None, actor="t", now=fleet.clock()
    )
    _, token = store.create_token("eve", days=1, actor="t", now=fleet.clock())
    headers = {"Authorization": f"Bearer {token}"}
    assert fleet.client.get("/api/v1/hosts/ws-kes", headers=headers).status_code == 404
    assert fleet.client.get("/api/v1/hosts", headers=headers).json()["hosts"] == []
    report = fleet.client.get("/api/v1/reports/bod-17-01.csv", headers=headers).text
    assert report.count("\n") == 1, "header only"


def test_the_audit_chain_verifies_and_is_readable(fleet: Fleet) -> None:
    fleet.push("ws-kes", KES)
    fleet.work()
    verify = fleet.client.get("/api/v1/audit/verify", headers=fleet.auth("auditor")).json()
    assert verify["ok"] is True and verify["events"] >= 3
    events = fleet.client.get(
        "/api/v1/audit", params={"subject": "host:ws-kes"}, headers=fleet.auth("auditor")
    ).json()["events"]
    assert [e["action"] for e in events][:2] == ["host.enroll", "inventory.ingest"]


def test_users_and_tokens_are_managed_by_admins(fleet: Fleet) -> None:
    made = fleet.client.post(
        "/api/v1/users",
        json={"name": "carol", "role": "operator", "password": "a long enough password"},
        headers=fleet.auth("admin"),
    )
    assert made.status_code == 201, made.text
    denied = fleet.client.post(
        "/api/v1/users", json={"name": "dave", "role": "admin"}, headers=fleet.auth("operator")
    )
    assert denied.status_code == 403
    login = fleet.client.post(
        "/api/v1/login", json={"name": "carol", "password": "a long enough password"}
    )
    assert login.status_code == 200
    token = login.json()["token"]
    me = fleet.client.get("/api/v1/tokens", headers={"Authorization": f"Bearer {token}"})
    assert [t["user"] for t in me.json()] == ["carol"]
    gone = fleet.client.delete(
        f"/api/v1/tokens/{login.json()['id']}", headers={"Authorization": f"Bearer {token}"}
    )
    assert gone.status_code == 204
    assert (
        fleet.client.get("/api/v1/hosts", headers={"Authorization": f"Bearer {token}"}).status_code
        == 401
    )
    wrong = fleet.client.post("/api/v1/login", json={"name": "carol", "password": "nope"})
    assert wrong.status_code == 401


def test_enrolment_is_rate_limited(migrated_url: str, server_catalog) -> None:
    for fleet in make_fleet(migrated_url, server_catalog, Clock(), enroll_rate=(3.0, 0.001)):
        statuses = [
            fleet.client.post(
                "/api/v1/enroll", json={"secret": fleet.secret, "host": f"ws-{i}"}
            ).status_code
            for i in range(4)
        ]
        assert statuses == [200, 200, 200, 429]
        limited = fleet.client.post("/api/v1/enroll", json={"secret": fleet.secret, "host": "x"})
        assert int(limited.headers["retry-after"]) >= 1


def test_a_catalog_change_rematches_software_and_reevaluates_hosts(
    fleet: Fleet,
) -> None:
    from evict.catalog.loader import load_catalog
    from evict.matching.engine import Matcher
    from evict.model.observations import Kind, Observation
    from evict.service.evaluate import protection_products

    acme = Observation.make(Kind.SERVICE, "AcmeEDRService", source="osquery:services")
    builtin = load_catalog()
    base = MatchWorker(
        fleet.ctx.store, Matcher(builtin), protection=protection_products(builtin, None)
    )
    now = fleet.clock()
    fleet.push("ws-kes", KES)
    base.run_once(now=now, today=now.date())
    fleet.push("ws-kes", ZIP, acme)
    base.run_once(now=now, today=now.date())
    assert fleet.state("ws-kes") == "removed", "the built-in catalog does not know Acme EDR"
    stats = fleet.work()  # the organisation's catalog adds Acme EDR as approved protection
    assert stats.catalog_changed and stats.matched == 4, "KES, 7-Zip, Spooler and Acme EDR"
    assert fleet.state("ws-kes") == "replaced"


def test_the_openapi_document_describes_every_endpoint(fleet: Fleet) -> None:
    document = fleet.client.get("/openapi.json").json()
    paths = document["paths"]
    routes = {
        (route.path, method.lower())
        for route in fleet.client.app.routes  # type: ignore[attr-defined]
        if getattr(route, "include_in_schema", False)
        for method in route.methods
    }
    for path, method in routes:
        operation = paths[path.replace(":path", "")][method]
        assert operation.get("summary"), (path, method)
        assert operation.get("description"), (path, method)
    assert {
        "/api/v1/enroll",
        "/api/v1/inventory",
        "/api/v1/inventory/digest",
        "/api/v1/hosts",
        "/api/v1/hosts/{host}",
        "/api/v1/hosts/{host}/state",
        "/api/v1/waivers",
        "/api/v1/directives",
        "/api/v1/directives/{directive}/summary",
        "/api/v1/reports/{directive}.csv",
        "/api/v1/reports/{directive}.json",
        "/api/v1/audit",
        "/api/v1/audit/verify",
        "/api/v1/orgs",
        "/api/v1/users",
        "/api/v1/tokens",
    } <= set(paths)
    body = paths["/api/v1/inventory"]["post"]["requestBody"]["content"]["application/json"]
    ref = body["schema"]["$ref"].rsplit("/", 1)[-1]
    assert "observations" in document["components"]["schemas"][ref]["properties"]


def test_health_reports_the_catalog_and_database(fleet: Fleet) -> None:
    health = fleet.client.get("/api/v1/health").json()
    assert health["status"] == "ok"
    assert health["catalog_version"] == fleet.ctx.catalog.version
    assert health["database"] in {"sqlite", "postgresql"}


def test_the_json_report_carries_a_summary_and_the_same_hosts(fleet: Fleet) -> None:
    fleet.push("ws-kes", KES)
    fleet.push("ws-clean", ZIP)
    fleet.work()
    body = fleet.client.get("/api/v1/reports/bod-17-01.json", headers=fleet.auth("auditor"))
    data = body.json()
    assert data["summary"]["states"] == {"clean": 1, "identified": 1}
    assert {h["host"]: h["state"] for h in data["hosts"]} == {
        h: r["state"] for h, r in rows(fleet).items()
    }
    missing = fleet.client.get("/api/v1/reports/no-such.csv", headers=fleet.auth("auditor"))
    assert missing.status_code == 404
