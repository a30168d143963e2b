"""Determinations of questions of scope, end to end on SQLite and PostgreSQL.

Lemon8 is ByteDance's, but is it a "successor application or service of TikTok" that OMB M-23-13
covers? The catalog asks; a phone that holds only Lemon8 is ``needs_determination`` for M-23-13
(never clean, never identified on evict's own reading). The organisation records its answer once
through the API; the worker's next pass moves every host that carries it; the directive's
reports and evidence bundle list the determination; the audit chain records it.
"""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

from evict.cli import main
from evict.model.observations import Kind, Observation
from tests.server.fleetkit import SERVER_ASSETS, TIKTOK, ZIP, Fleet

OMB = "omb-m-23-13"
TEXAS = "tx-2025-deepseek"
QUESTION = "bytedance-other-apps-m-23-13"
LEMON8 = Observation.make(
    Kind.APP,
    "Lemon8",
    version="6.4.0",
    identifiers={"package_id": "com.bd.nproject"},
    source="mdm:intune",
)
MEMO = (
    "OGC memo 2026-14: Lemon8 is a separate ByteDance service launched beside TikTok, not its "
    "successor; M-23-13 names 'TikTok or any successor application or service of TikTok'."
)


def record(fleet: Fleet, answer: str, who: str = "operator") -> dict[str, object]:
    response = fleet.client.post(
        "/api/v1/determinations",
        json={
            "question": QUESTION,
            "answer": answer,
            "reasoning": MEMO,
            "decided_by": "Office of the General Counsel",
            "decided_on": "2026-01-05",
        },
        headers=fleet.auth(who),
    )
    assert response.status_code == 201, response.text
    body: dict[str, object] = response.json()
    return body


def report(fleet: Fleet, kind: str = "exceptions") -> dict[str, object]:
    response = fleet.client.get(f"/api/v1/reports/{OMB}/{kind}.json", headers=fleet.auth())
    assert response.status_code == 200, response.text
    body: dict[str, object] = response.json()
    return body


def scope_section(document: dict[str, object]) -> dict[str, object]:
    sections = document["sections"]
    assert isinstance(sections, list)
    (section,) = [s for s in sections if s["id"] == "scope"]
    assert isinstance(section, dict)
    return section


def scope_table(document: dict[str, object], table: str) -> list[dict[str, object]]:
    (found,) = [t for t in scope_section(document)["tables"] if t["id"] == table]  # type: ignore[attr-defined]
    rows: list[dict[str, object]] = found["rows"]
    return rows


def test_a_determination_moves_every_host_and_is_reported_and_audited(
    fleet: Fleet, tmp_path: Path, capsys: object
) -> None:
    for phone in ("phone-1", "phone-2", "phone-3"):
        fleet.enroll(phone, platform="android")
    fleet.push("phone-1", LEMON8)
    fleet.push("phone-2", LEMON8, ZIP)
    fleet.push("phone-3", TIKTOK)
    fleet.push("ws-1", ZIP)
    fleet.work()
    # Lemon8 raises the question under M-23-13 and is plainly on the Texas list
    assert fleet.state("phone-1", OMB) == "needs_determination"
    assert fleet.state("phone-2", OMB) == "needs_determination"
    assert fleet.state("phone-1", TEXAS) == "identified"
    assert fleet.state("phone-3", OMB) == "identified"
    assert fleet.state("ws-1", OMB) == "clean"
    detail = fleet.client.get("/api/v1/hosts/phone-1", headers=fleet.auth("auditor")).json()
    by_directive = {f["directive"]: f for f in detail["findings"]}
    assert by_directive[OMB]["determination"] == {"question": QUESTION, "state": "needed"}
    assert by_directive[TEXAS]["determination"] is None

    before = report(fleet)
    assert scope_section(before)["statements"][0].startswith("2 endpoints carry software")  # type: ignore[index]
    (question,) = scope_table(before, "questions")
    assert question["Question"] == QUESTION
    assert question["Determination"] == "NEEDED"
    assert question["Endpoints waiting"] == 2
    assert {r["Host"] for r in scope_table(before, "needs_determination")} == {
        "phone-1",
        "phone-2",
    }
    assert any("successor application" in str(r["Text"]) for r in scope_table(before, "cited_text"))

    # an auditor may read but not decide; the answer needs its reasoning
    refused = fleet.client.post(
        "/api/v1/determinations",
        json={"question": QUESTION, "answer": "covered", "reasoning": MEMO, "decided_by": "x"},
        headers=fleet.auth("auditor"),
    )
    assert refused.status_code == 403
    blank = fleet.client.post(
        "/api/v1/determinations",
        json={"question": QUESTION, "answer": "covered", "reasoning": "   ", "decided_by": "OGC"},
        headers=fleet.auth(),
    )
    assert blank.status_code == 422
    unknown = fleet.client.post(
        "/api/v1/determinations",
        json={"question": "no-such-question", "answer": "covered", "reasoning": MEMO,
              "decided_by": "OGC"},
        headers=fleet.auth(),
    )  # fmt: skip
    assert unknown.status_code == 422
    assert "bytedance-other-apps-m-23-13" in unknown.json()["error"]["message"]

    saved = record(fleet, "not-covered")
    assert saved["answer"] == "not-covered"
    assert saved["recorded_by"] == "user:operator-1"
    fleet.work()
    # fleet-wide, on the next pass: out of M-23-13's scope, Texas unaffected
    assert fleet.state("phone-1", OMB) == "clean"
    assert fleet.state("phone-2", OMB) == "clean"
    assert fleet.state("phone-1", TEXAS) == "identified"
    assert fleet.state("phone-3", OMB) == "identified"

    after = report(fleet)
    (question,) = scope_table(after, "questions")
    assert question["Determination"] == "not-covered"
    assert question["Decided by"] == "Office of the General Counsel"
    assert "OGC memo 2026-14" in str(question["Citation and reasoning"])
    assert question["Endpoints waiting"] == 0
    listed = fleet.client.get("/api/v1/questions", headers=fleet.auth("auditor")).json()
    asked = {q["id"]: q for q in listed}
    assert asked[QUESTION]["determination"]["answer"] == "not-covered"

    detail = fleet.client.get("/api/v1/hosts/phone-1", headers=fleet.auth()).json()
    assert OMB not in {f["directive"] for f in detail["findings"]}, "determined not covered"

    # a new answer replaces the old one: covered makes the phones identified
    record(fleet, "covered")
    fleet.work()
    assert fleet.state("phone-1", OMB) == "identified"
    detail = fleet.client.get("/api/v1/hosts/phone-1", headers=fleet.auth()).json()
    assert {f["directive"]: f["determination"] for f in detail["findings"]}[OMB] == {
        "question": QUESTION,
        "state": "covered",
    }
    assert fleet.state("phone-2", OMB) == "identified"
    history = scope_table(report(fleet), "determination_history")
    assert [(r["Answer"], r["Status"]) for r in history] == [
        ("covered", "in force"),
        ("not-covered", "revoked"),
    ]

    # revoked: the question is open again
    gone = fleet.client.delete(f"/api/v1/determinations/{QUESTION}", headers=fleet.auth())
    assert gone.status_code == 204
    fleet.work()
    assert fleet.state("phone-1", OMB) == "needs_determination"
    again = fleet.client.delete(f"/api/v1/determinations/{QUESTION}", headers=fleet.auth())
    assert again.status_code == 404

    # every step is in the audit chain, which still verifies
    events = fleet.client.get(
        "/api/v1/audit", params={"action": "determination."}, headers=fleet.auth()
    ).json()["events"]
    assert [e["action"] for e in events] == [
        "determination.record",
        "determination.record",
        "determination.revoke",
    ]
    assert events[0]["payload"]["reasoning"] == MEMO
    assert events[0]["payload"]["answer"] == "not-covered"
    assert events[1]["payload"]["replaces"] == [saved["id"]]
    assert fleet.client.get("/api/v1/audit/verify", headers=fleet.auth()).json()["ok"]

    # the evidence bundle carries the questions, the determinations and the scope section
    record(fleet, "not-covered")
    fleet.work()
    out = tmp_path / "omb.zip"
    code = main(
        [
            "evidence",
            OMB,
            "--org",
            "DHS",
            "--out",
            str(out),
            "--db",
            fleet.ctx.settings.database_url,
            "--catalog",
            str(SERVER_ASSETS / "catalog"),
        ]
    )
    assert code == 0
    with zipfile.ZipFile(out) as archive:
        bundled = json.loads(archive.read("determinations.json"))
        exceptions = json.loads(archive.read(f"reports/{OMB}-exceptions.json"))
        chain = archive.read("audit/events.jsonl").decode()
    assert [q["id"] for q in bundled["questions"]] == [QUESTION]
    assert [(d["answer"], d["revoked"]) for d in bundled["determinations"]] == [
        ("not-covered", False),
        ("covered", True),
        ("not-covered", True),
    ]
    assert bundled["determinations"][0]["reasoning"] == MEMO
    (question,) = scope_table(exceptions, "questions")
    assert question["Determination"] == "not-covered"
    assert chain.count('"determination.record"') == 3


def test_a_determination_is_for_org_wide_writers_only(fleet: Fleet) -> None:
    from evict.model.records import Role

    store = fleet.ctx.store
    store.create_unit("DHS", "East", actor="cli:test", now=fleet.clock())
    store.create_user(
        "east-operator", org="DHS", role=Role.OPERATOR, password=None, actor="cli:test",
        now=fleet.clock(), unit="East",
    )  # fmt: skip
    token = store.create_token("east-operator", days=1, actor="cli:test", now=fleet.clock())[1]
    response = fleet.client.post(
        "/api/v1/determinations",
        json={"question": QUESTION, "answer": "covered", "reasoning": MEMO, "decided_by": "OGC"},
        headers={"Authorization": f"Bearer {token}"},
    )
    assert response.status_code == 403
    assert "whole organisation" in response.json()["error"]["message"]
    assert fleet.client.get("/api/v1/determinations", headers=fleet.auth()).json() == []
