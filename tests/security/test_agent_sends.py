"""What the agent sends, writes and opens: metadata only, its spool only, no port.

``evict agent --once`` runs as a subprocess against a server on loopback that records every
request body. It reads a dpkg status file whose package descriptions carry a unique marker: the
marker (file content, not metadata) never reaches the server, and each body holds only the
documented fields. An audit hook in the agent process records every file it opens for writing
and every socket it binds: writes stay in the spool, and no socket is bound (no port opened).
"""

from __future__ import annotations

import gzip
import json
import os
import secrets
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from evict.catalog.interface import Catalog
from evict.server.app import create_app
from evict.settings import Settings, normalise_database_url
from tests.conftest import ASSETS
from tests.security.serverkit import free_port, setup_org

DOCUMENTED = {
    "/api/v1/enroll": {"secret", "host", "hostname", "platform"},
    "/api/v1/inventory/digest": {"report_id", "digest"},
    "/api/v1/inventory": {
        "evict_version",
        "report_id",
        "host",
        "collected_at",
        "source",
        "digest",
        "observations",
    },
}
"""Every request the agent makes, and the only top-level fields its body may have."""

HOST_FIELDS = {"id", "hostname", "platform"}
OBSERVATION_FIELDS = {"kind", "name", "version", "publisher", "identifiers", "source"}

HOOK = """
import json, os, sys
SPOOL = os.path.realpath(sys.argv[1])
seen = {"writes": [], "binds": [], "listens": []}
WRITE = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_APPEND | os.O_TRUNC

def hook(event, args):
    if event == "open" and args and isinstance(args[0], (str, bytes, os.PathLike)):
        mode, flags = args[1], args[2] if len(args) > 2 else 0
        if (isinstance(mode, str) and any(c in mode for c in "wax+")) or (flags or 0) & WRITE:
            seen["writes"].append(os.fsdecode(args[0]))
    elif event in ("os.rename", "os.replace", "os.remove", "os.mkdir", "os.chmod", "os.unlink"):
        target = args[1] if event in ("os.rename", "os.replace") else args[0]
        if isinstance(target, (str, bytes, os.PathLike)):
            seen["writes"].append(os.fsdecode(target))
    elif event == "socket.bind":
        seen["binds"].append(repr(args[1]))

sys.addaudithook(hook)
from evict.cli import main
code = main(sys.argv[2:])
sys.stderr.write("AUDIT " + json.dumps(seen) + "\\n")
sys.exit(code)
"""


class Recorder:
    """An ASGI wrapper that keeps (path, decoded body) of every request."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.requests: list[tuple[str, bytes]] = []

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        chunks: list[bytes] = []
        messages: list[Any] = []
        while True:
            message = await receive()
            messages.append(message)
            chunks.append(message.get("body", b""))
            if not message.get("more_body"):
                break
        raw = b"".join(chunks)
        headers = dict(scope["headers"])
        if headers.get(b"content-encoding", b"").strip().lower() == b"gzip":
            raw = gzip.decompress(raw)
        self.requests.append((scope["path"], raw))
        replay = iter(messages)

        async def again() -> Any:
            return next(replay, {"type": "http.disconnect"})

        await self.app(scope, again, send)


@pytest.fixture
def recording_server(
    migrated_url: str, security_catalog: Catalog
) -> Iterator[tuple[str, Recorder]]:
    """The app on loopback (uvicorn in a thread), recording what it receives."""
    import uvicorn

    settings = Settings(database_url=normalise_database_url(migrated_url), run_worker=False)
    recorder = Recorder(create_app(settings, catalog=security_catalog))
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(recorder, host="127.0.0.1", port=port, log_level="error")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.05)
    assert server.started, "the test server did not start"
    yield f"http://127.0.0.1:{port}", recorder
    server.should_exit = True
    thread.join(10)


def status_file_with_marker(tmp_path: Path, marker: str) -> Path:
    """The Debian status file of the tests, with the marker in every long description."""
    source = ASSETS / "linux" / "debian" / "var" / "lib" / "dpkg" / "status"
    text = source.read_text(encoding="utf-8")
    marked = text.replace("\n\n", f"\n {marker}\n\n")
    assert marked.count(marker) > 10
    target = tmp_path / "status"
    target.write_text(marked, encoding="utf-8")
    return target


def test_the_agent_sends_metadata_only_writes_only_its_spool_and_binds_no_port(
    migrated_url: str, recording_server: tuple[str, Recorder], tmp_path: Path
) -> None:
    base, recorder = recording_server
    secret = setup_org(migrated_url)
    marker = "EVICT-MARKER-" + secrets.token_hex(8)
    status = status_file_with_marker(tmp_path, marker)
    spool = tmp_path / "spool"
    env = {**os.environ, "EVICT_ENROLL_SECRET": secret, "HOME": str(tmp_path / "home")}
    command = [sys.executable, "-c", HOOK, str(spool), "agent", "--once", "--server", base]
    command += ["--spool", str(spool), "--from", "dpkg-status", str(status)]
    done = subprocess.run(command, capture_output=True, text=True, timeout=120, env=env)
    assert done.returncode == 0, done.stderr
    audit = json.loads(done.stderr.rsplit("AUDIT ", 1)[1])
    print("agent-audit:", json.dumps(audit)[:600])

    paths = [p for p, _ in recorder.requests]
    assert "/api/v1/inventory" in paths, "the inventory was sent"
    assert set(paths) <= set(DOCUMENTED), f"requests outside the protocol: {paths}"
    for path, raw in recorder.requests:
        assert marker.encode() not in raw, f"file content reached the server in {path}"
        body = json.loads(raw)
        assert set(body) <= DOCUMENTED[path], (
            f"{path}: undocumented fields {set(body) - DOCUMENTED[path]}"
        )
        if path == "/api/v1/inventory":
            assert set(body["host"]) <= HOST_FIELDS
            assert body["observations"], "the packages were reported"
            for observation in body["observations"]:
                assert set(observation) <= OBSERVATION_FIELDS, observation
    names = {
        o["name"]
        for p, raw in recorder.requests
        if p == "/api/v1/inventory"
        for o in json.loads(raw)["observations"]
    }
    assert "kesl" in names or any("Kaspersky" in n for n in names)

    root = os.path.realpath(spool)
    outside = [
        p
        for p in audit["writes"]
        if not os.path.realpath(p).startswith(root + os.sep)
        and os.path.realpath(p) != root
        and not p.startswith("/dev/")
    ]
    assert audit["writes"], "the hook saw the spool being written"
    assert not outside, f"the agent wrote outside its spool: {outside}"
    assert audit["binds"] == [], f"the agent bound a socket: {audit['binds']}"
    assert not any(spool.joinpath("outbox").iterdir()), "everything was delivered"


def test_the_dry_run_prints_the_same_fields_and_no_file_content(tmp_path: Path) -> None:
    marker = "EVICT-MARKER-" + secrets.token_hex(8)
    status = status_file_with_marker(tmp_path, marker)
    command = [sys.executable, "-m", "evict", "agent", "--dry-run", "--server", "http://unused"]
    command += ["--from", "dpkg-status", str(status)]
    done = subprocess.run(command, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert marker not in done.stdout
    body = json.loads(done.stdout.splitlines()[0])
    assert set(body) <= DOCUMENTED["/api/v1/inventory"]
