"""Squid's native ``access.log``: ``time elapsed client code/status bytes method URL rfc931
hierarchy/peer type``.

The name is the URL's host, or for ``CONNECT`` (HTTPS through the proxy) the ``host:port`` Squid
writes in place of a URL. The client is the third field: an address, or a host name when Squid
runs with ``log_fqdn on``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar
from urllib.parse import urlsplit

from evict.inventory.network._reader import LineError, LogFormat, NetworkLogSource, Record


def _squid_fields(line: bytes) -> list[bytes] | None:
    f = line.split()
    if len(f) < 7 or b"/" not in f[3]:
        return None
    try:
        float(f[0])
        int(f[1])
    except ValueError:
        return None
    return f


class SquidAccessLog(LogFormat):
    """Squid's native access.log format."""

    label = "Squid access.log (native format)"
    source = "squid"

    def sniff(self, lines: Sequence[bytes]) -> bool:
        first = lines[:5]
        return sum(_squid_fields(line) is not None for line in first) * 2 > len(first)

    def check(self, line: bytes) -> str | None:
        if line.strip() and _squid_fields(line) is None:
            return "not a Squid access.log line (time elapsed client code/status bytes method URL)"
        return None

    def parse(self, line: bytes) -> list[Record]:
        f = _squid_fields(line)
        if f is None:
            if not line.strip():
                return []
            raise LineError("not a Squid access.log line (truncated?)")
        method = f[5].decode("ascii", "replace")
        url = f[6].decode("utf-8", "replace")
        if method == "CONNECT" or "://" not in url:
            host = url.rsplit(":", 1)[0] if url.rsplit(":", 1)[-1].isdigit() else url
        else:
            try:
                host = urlsplit(url).hostname or ""
            except ValueError as e:
                raise LineError(f"URL {url[:80]!r}: {e}") from e
        if not host:
            return []
        # The generated Squid list denies with ``http_access deny``: TCP_DENIED/403.
        blocked = f[3].startswith(b"TCP_DENIED")
        return [Record(f[2].decode("utf-8", "replace"), host, float(f[0]), blocked=blocked)]


class SquidSource(NetworkLogSource):
    """``--from squid``: Squid access.log (native format)."""

    name = "squid"
    formats: ClassVar[tuple[type[LogFormat], ...]] = (SquidAccessLog,)
