"""Network logs sent to a fleet server: ``evict agent --from zeek|suricata|… PATH --token T``.

A network log covers many clients, so it is not sent on a host's credential: the devices read
from it (``net:ADDRESS``, see :mod:`evict.inventory.network`) go to ``POST /api/v1/network``
with the API token of an operator or admin of the whole organisation, gzip-compressed, in one
request. The server joins each device's traffic with the enrolled host that held the address at
the time and keeps the rest as unmanaged devices (:mod:`evict.server.network`).
"""

from __future__ import annotations

import gzip
import json
from collections.abc import Sequence
from typing import Any

from evict.agent.client import FleetClient
from evict.inventory.registry import NETWORK_LOGS
from evict.model.observations import HostInventory

NETWORK_KINDS = NETWORK_LOGS
"""The ``--from`` kinds that read network logs."""


def network_body(devices: Sequence[HostInventory]) -> dict[str, Any]:
    """The upload body for ``devices`` (devices named by host name, not address, included: the
    server leaves them out)."""
    return {
        "devices": [
            {
                "host": {"id": d.host, "hostname": d.hostname},
                "collected_at": d.collected_at.isoformat(),
                "source": d.source,
                "observations": [o.to_json() for o in d.observations],
            }
            for d in devices
        ]
    }


def push_network(
    client: FleetClient, token: str, devices: Sequence[HostInventory]
) -> dict[str, Any]:
    """Send ``devices`` to the server; return its answer (joined hosts, unmanaged, reopened).

    Raise :class:`evict.agent.client.Refused` or :class:`~evict.agent.client.ServerUnreachable`.
    """
    raw = json.dumps(network_body(devices), ensure_ascii=False, separators=(",", ":"))
    response = client.request(
        "POST",
        "/api/v1/network",
        token=token,
        content=gzip.compress(raw.encode("utf-8"), compresslevel=6),
        headers={"Content-Type": "application/json", "Content-Encoding": "gzip"},
    )
    answer: dict[str, Any] = response.json()
    return answer
