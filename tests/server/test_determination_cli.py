"""``evict determination record|list|revoke`` on each backend: the answer moves the hosts on the
worker's next pass, the chain records it, and mistakes are refused with a message (exit 2)."""

from __future__ import annotations

import datetime as dt
import json
import re

import pytest

from evict.agent.wire import inventory_digest
from evict.cli import main
from evict.model.observations import Kind, Observation
from evict.model.records import InventoryReport
from evict.settings import normalise_database_url
from evict.store.engine import make_engine
from evict.store.store import Store
from tests.server.fleetkit import ZIP

QUESTION = "deepseek-local-and-clients"
OLLAMA_R1 = Observation.make(Kind.PACKAGE, "deepseek-r1", version="7b", source="osquery:programs")


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def state(url: str, host: str, directive: str = "va-eo-46-deepseek") -> str:
    store = Store(make_engine(normalise_database_url(url)))
    try:
        info = store.find_host(host)
        return store.states([info.id])[info.id][directive].state.value
    finally:
        store.close()


def test_record_list_and_revoke_from_the_command_line(
    migrated_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = run(capsys, "org", "create", "Commonwealth", "--db", migrated_url)
    secret = out.strip().splitlines()[-1]
    store = Store(make_engine(normalise_database_url(migrated_url)))
    now = dt.datetime.now(dt.UTC)
    # Each inventory complete for Windows (programs and services), so that "clean" can be said.
    spooler = Observation.make(Kind.SERVICE, "Spooler", source="osquery:services")
    for name, observations in (
        ("analyst-1", (OLLAMA_R1, ZIP, spooler)),
        ("clerk-1", (ZIP, spooler)),
    ):
        host, _ = store.enroll(secret, name, hostname=name, platform="windows", now=now)
        digest = inventory_digest(observations)
        store.ingest(host, InventoryReport(f"report-{name}", digest, observations), now=now)
    store.close()
    assert run(capsys, "worker", "--once", "--db", migrated_url)[0] == 0
    assert state(migrated_url, "analyst-1") == "needs_determination"
    assert state(migrated_url, "clerk-1") == "clean"

    db = ("--db", migrated_url)
    code, out, _ = run(capsys, "determination", "list", "--org", "Commonwealth", *db)
    assert (code, out.strip()) == (0, "Commonwealth: no determination recorded")

    code, _, err = run(
        capsys, "determination", "record", "no-such-question", "--org", "Commonwealth",
        "--answer", "covered", "--reasoning", "memo", "--decided-by", "Counsel", *db,
    )  # fmt: skip
    assert code == 2 and "no question 'no-such-question'" in err and "Traceback" not in err
    code, _, err = run(
        capsys, "determination", "record", QUESTION, "--org", "Commonwealth",
        "--answer", "covered", "--reasoning", "  ", "--decided-by", "Counsel", *db,
    )  # fmt: skip
    assert code == 2 and "citation or reasoning" in err

    code, out, _ = run(
        capsys, "determination", "record", QUESTION, "--org", "Commonwealth",
        "--answer", "not-covered", "--decided-by", "Secretary of Administration",
        "--decided-on", "2025-02-20",
        "--reasoning", "EO 46 bans 'the DeepSeek AI application'; weights run offline send "
        "nothing to DeepSeek (Secretary's guidance of 2025-02-20).", *db,
    )  # fmt: skip
    assert code == 0
    assert re.match(rf"Commonwealth: {QUESTION}: not-covered \(determination \d+\)", out)
    assert run(capsys, "worker", "--once", *db)[0] == 0
    assert state(migrated_url, "analyst-1") == "clean"
    assert state(migrated_url, "analyst-1", "ny-its-2025-deepseek") == "clean"

    code, out, _ = run(
        capsys, "determination", "list", "--org", "Commonwealth", "--format", "json", *db
    )
    (listed,) = json.loads(out)
    assert listed["question"] == QUESTION
    assert listed["answer"] == "not-covered"
    assert listed["decided_on"] == "2025-02-20"
    assert listed["recorded_by"].startswith("cli:")

    code, out, _ = run(capsys, "determination", "revoke", QUESTION, "--org", "Commonwealth", *db)
    assert code == 0 and "revoked" in out
    assert run(capsys, "worker", "--once", *db)[0] == 0
    assert state(migrated_url, "analyst-1") == "needs_determination"
    code, _, err = run(capsys, "determination", "revoke", QUESTION, "--org", "Commonwealth", *db)
    assert code == 2 and "no determination" in err

    code, out, _ = run(
        capsys, "determination", "list", "--org", "Commonwealth", "--all", "--format", "json", *db
    )
    assert [d["revoked"] for d in json.loads(out)] == [True]
    code, out, _ = run(capsys, "audit", "verify", *db)
    assert code == 0
