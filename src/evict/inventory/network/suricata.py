"""Suricata ``eve.json``: DNS queries (``dns.rrname``), TLS SNI (``tls.sni``), HTTP Host
(``http.hostname``).

DNS records come in Suricata's shapes: version 1 (one event per query or answer, ``rrname`` at
the top of ``dns``), version 2 (answers with ``rrname`` and a ``grouped``/``answers`` section)
and version 3 (Suricata 8: ``queries`` and ``answers`` lists). For a query the client is
``src_ip``; for an answer (``type`` ``answer`` or ``response``) it is ``dest_ip``, the address the
answer went to.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar

from evict.inventory.network._json import (
    json_check,
    json_chunk_ok,
    json_object,
    text,
    timestamp,
)
from evict.inventory.network._reader import LogFormat, NetworkLogSource, Record


def _dns_names(dns: dict[str, Any]) -> list[str]:
    names: list[str] = []
    rrname = text(dns.get("rrname"))
    if rrname:
        names.append(rrname)
    queries = dns.get("queries")
    if isinstance(queries, list):
        names.extend(text(q.get("rrname")) for q in queries if isinstance(q, dict))
    answers = dns.get("answers")
    if not names and isinstance(answers, list) and answers and isinstance(answers[0], dict):
        names.append(text(answers[0].get("rrname")))  # version 2 without rrname: the asked name
    return [n for n in dict.fromkeys(names) if n]


class EveJson(LogFormat):
    """Suricata's EVE JSON output."""

    label = "Suricata eve.json log"
    source = "suricata"

    def sniff(self, lines: Sequence[bytes]) -> bool:
        first = lines[:5]
        fits = sum(line.startswith(b"{") and b'"event_type"' in line for line in first)
        return fits * 2 > len(first)

    def chunk_ok(self, chunk: bytes, start: int, stop: int, lines: int) -> bool:
        return json_chunk_ok(chunk, start, stop, lines)

    def check(self, line: bytes) -> str | None:
        return json_check(line)

    def parse(self, line: bytes) -> list[Record]:
        obj = json_object(line)
        if obj is None:
            return []
        event = obj.get("event_type")
        ts = timestamp(obj.get("timestamp"))
        client = text(obj.get("src_ip"))
        section = obj.get(event) if isinstance(event, str) else None
        if not isinstance(section, dict):
            return []
        if event == "dns":
            if section.get("type") in ("answer", "response"):
                client = text(obj.get("dest_ip"))
            return [Record(client, n, ts) for n in _dns_names(section)]
        if event == "tls":
            sni = text(section.get("sni"))
            return [Record(client, sni, ts)] if sni else []
        if event == "http":
            host = text(section.get("hostname"))
            return [Record(client, host, ts)] if host else []
        return []


class SuricataSource(NetworkLogSource):
    """``--from suricata``: Suricata eve.json (dns, tls, http events)."""

    name = "suricata"
    formats: ClassVar[tuple[type[LogFormat], ...]] = (EveJson,)
