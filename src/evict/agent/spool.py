"""The agent's spool directory: reports waiting to be sent, and the host credentials.

Layout (everything private to the user running the agent, mode 0700/0600)::

    SPOOL/state.json        {"servers": {URL: {"hosts": {HOST: {"credential", "digest"}}}}}
    SPOOL/outbox/*.json.gz  reports not yet acknowledged, sent oldest first
    SPOOL/rejected/*        reports the server refused (kept for a person to look at)

Every report is written to the outbox before it is sent and removed only once the server has
acknowledged it, so a crash or an unreachable server loses nothing. The outbox is bounded
(:attr:`Spool.max_reports`): past it the oldest reports are dropped, each superseded by a newer
full inventory, and a warning is logged; :attr:`Spool.dropped` counts them so that the agent
says so in its output.
"""

from __future__ import annotations

import gzip
import json
import logging
import os
import tempfile
from pathlib import Path
from typing import Any

from evict.errors import EvictError

log = logging.getLogger(__name__)


class SpoolError(EvictError):
    """The spool directory cannot be used (permissions, a corrupt file)."""


class Spool:
    """The on-disk spool.

    :param root: the spool directory (created on first use).
    :param max_reports: most reports kept in the outbox.
    """

    def __init__(self, root: Path, *, max_reports: int = 1000) -> None:
        self.root = root
        self.max_reports = max_reports
        self.outbox = root / "outbox"
        self.rejected = root / "rejected"
        self._seq = 0
        self.dropped = 0
        """Unsent reports this spool dropped to stay within ``max_reports``."""

    def _ensure(self) -> None:
        try:
            for path in (self.root, self.outbox, self.rejected):
                path.mkdir(parents=True, exist_ok=True)
                path.chmod(0o700)
        except OSError as e:
            raise SpoolError(f"{self.root}: cannot use the spool directory: {e}") from e

    # -- state: credentials and last acknowledged digests ---------------------------------------

    def _state_path(self) -> Path:
        return self.root / "state.json"

    def _load_state(self) -> dict[str, Any]:
        path = self._state_path()
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return {"servers": {}}
        except (OSError, ValueError) as e:
            raise SpoolError(
                f"{path}: unreadable agent state ({e}); move it away to re-enrol"
            ) from e
        if not isinstance(data, dict) or not isinstance(data.get("servers"), dict):
            raise SpoolError(f"{path}: not an agent state file; move it away to re-enrol")
        return data

    def _save_state(self, data: dict[str, Any]) -> None:
        self._ensure()
        self._atomic_write(self._state_path(), json.dumps(data, indent=1).encode("utf-8"))

    def _host(self, data: dict[str, Any], server: str, host: str) -> dict[str, Any]:
        hosts = data["servers"].setdefault(server, {}).setdefault("hosts", {})
        entry: dict[str, Any] = hosts.setdefault(host, {})
        return entry

    def credential(self, server: str, host: str) -> str | None:
        """The credential this server issued for ``host``, if enrolled."""
        value = self._host(self._load_state(), server, host).get("credential")
        return value if isinstance(value, str) else None

    def save_credential(self, server: str, host: str, credential: str) -> None:
        """Keep the credential the server issued for ``host`` (forgetting the old digest)."""
        data = self._load_state()
        self._host(data, server, host).update(credential=credential, digest=None)
        self._save_state(data)

    def forget_credential(self, server: str, host: str) -> None:
        """Drop a credential the server no longer accepts."""
        data = self._load_state()
        self._host(data, server, host).pop("credential", None)
        self._save_state(data)

    def acked_digest(self, server: str, host: str) -> str | None:
        """The digest of the last inventory this server acknowledged for ``host``."""
        value = self._host(self._load_state(), server, host).get("digest")
        return value if isinstance(value, str) else None

    def save_digest(self, server: str, host: str, digest: str) -> None:
        """Remember the digest the server now holds for ``host``."""
        data = self._load_state()
        self._host(data, server, host)["digest"] = digest
        self._save_state(data)

    def acked_addresses(self, server: str, host: str) -> list[str] | None:
        """The interface addresses this server last acknowledged for ``host``."""
        value = self._host(self._load_state(), server, host).get("addresses")
        return [str(a) for a in value] if isinstance(value, list) else None

    def save_addresses(self, server: str, host: str, addresses: list[str]) -> None:
        """Remember the addresses the server now holds for ``host``."""
        data = self._load_state()
        self._host(data, server, host)["addresses"] = sorted(addresses)
        self._save_state(data)

    # -- the outbox -----------------------------------------------------------------------------

    def add(self, body: dict[str, object], *, stamp: str) -> Path:
        """Write a report to the outbox; ``stamp`` (sortable time) orders the outbox."""
        self._ensure()
        self._seq += 1
        name = f"{stamp}-{self._seq:06d}-{body['report_id']}.json.gz"
        path = self.outbox / name
        raw = json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
        self._atomic_write(path, gzip.compress(raw, compresslevel=6))
        self._bound()
        return path

    def pending(self) -> list[Path]:
        """Reports waiting, oldest first."""
        if not self.outbox.is_dir():
            return []
        return sorted(p for p in self.outbox.iterdir() if p.name.endswith(".json.gz"))

    def load(self, path: Path) -> tuple[dict[str, Any], bytes]:
        """A spooled report: its body and its gzip bytes (sent as they are)."""
        try:
            data = path.read_bytes()
            body = json.loads(gzip.decompress(data))
        except (OSError, EOFError, ValueError) as e:
            raise SpoolError(f"{path}: unreadable spooled report: {e}") from e
        if not isinstance(body, dict) or not isinstance(body.get("host"), dict):
            raise SpoolError(f"{path}: not a report")
        return body, data

    def done(self, path: Path) -> None:
        """Remove an acknowledged report."""
        path.unlink(missing_ok=True)

    def reject(self, path: Path, reason: str) -> Path:
        """Move a refused report aside, with the server's reason beside it."""
        self._ensure()
        target = self.rejected / path.name
        os.replace(path, target)
        target.with_suffix(".reason.txt").write_text(reason + "\n", encoding="utf-8")
        return target

    def _bound(self) -> None:
        waiting = self.pending()
        excess = waiting[: max(0, len(waiting) - self.max_reports)]
        for path in excess:
            path.unlink(missing_ok=True)
        if excess:
            self.dropped += len(excess)
            log.warning(
                "spool %s full (%d reports): dropped %d oldest unsent report(s), e.g. %s",
                self.root, self.max_reports, len(excess), excess[0].name,
            )  # fmt: skip

    @staticmethod
    def _atomic_write(path: Path, data: bytes) -> None:
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(data)
                f.flush()
                os.fsync(f.fileno())
            os.chmod(tmp, 0o600)
            os.replace(tmp, path)
        except OSError as e:
            Path(tmp).unlink(missing_ok=True)
            raise SpoolError(f"{path}: cannot write: {e}") from e
