"""The agent's HTTP client: enrol, digest check, full report; retries with backoff.

Transient failures (connection errors, timeouts, 5xx, 429) are retried with exponential backoff
and jitter, honouring ``Retry-After``; when the retries run out the caller gets
:class:`ServerUnreachable` and keeps the report spooled. A refusal (4xx) is final and comes as
:class:`Refused` with the server's message.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Sequence
from typing import Any

import httpx

from evict import __version__
from evict.errors import EvictError


class AgentError(EvictError):
    """Base error of the agent."""


class ServerUnreachable(AgentError):
    """The server could not be reached, or kept failing, after every retry."""


class Refused(AgentError):
    """The server refused a request (4xx); retrying the same request will not help."""

    def __init__(self, status: int, message: str) -> None:
        self.status = status
        self.message = message
        super().__init__(f"the server refused the request ({status}): {message}")


def _message(response: httpx.Response) -> str:
    try:
        data = response.json()
    except ValueError:
        return response.text[:300] or response.reason_phrase
    if isinstance(data, dict) and isinstance(data.get("error"), dict):
        return str(data["error"].get("message", ""))
    return str(data)[:300]


class FleetClient:
    """Talks to one fleet server.

    :param server: the server's base URL.
    :param retries: attempts after the first, for transient failures.
    :param backoff: first delay in seconds; doubles each attempt, up to ``max_backoff``.
    :param transport: an httpx transport (tests use ``httpx.MockTransport``).
    :param http: a ready httpx client to send through instead (tests pass the app's
        ``TestClient``); its base URL must be the server's.
    :param sleep: how to wait (tests pass a no-op).
    """

    def __init__(
        self,
        server: str,
        *,
        retries: int = 4,
        backoff: float = 0.5,
        max_backoff: float = 30.0,
        timeout: float = 30.0,
        transport: httpx.BaseTransport | None = None,
        http: httpx.Client | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.server = server.rstrip("/")
        self.retries = retries
        self.backoff = backoff
        self.max_backoff = max_backoff
        self.sleep = sleep
        self._http = http or httpx.Client(
            base_url=self.server,
            timeout=timeout,
            transport=transport,
            headers={"User-Agent": f"evict-agent/{__version__}"},
        )

    def close(self) -> None:
        """Close the connection pool."""
        self._http.close()

    def _delay(self, attempt: int, response: httpx.Response | None) -> float:
        if response is not None:
            after = response.headers.get("retry-after", "")
            if after.isdigit():
                return min(float(after), self.max_backoff)
        base = min(self.max_backoff, self.backoff * 2.0**attempt)
        jitter: float = 0.5 + random.random() / 2  # noqa: S311 - jitter, not a secret
        return base * jitter

    def request(
        self,
        method: str,
        path: str,
        *,
        token: str | None = None,
        json: Any = None,
        content: bytes | None = None,
        headers: dict[str, str] | None = None,
        params: dict[str, str] | None = None,
    ) -> httpx.Response:
        """Send a request, retrying transient failures; return a 2xx response.

        Raise :class:`Refused` on a 4xx (other than 429) and :class:`ServerUnreachable` when
        the retries are exhausted.
        """
        all_headers = dict(headers or {})
        if token:
            all_headers["Authorization"] = f"Bearer {token}"
        last = ""
        for attempt in range(self.retries + 1):
            response: httpx.Response | None = None
            try:
                response = self._http.request(
                    method, path, json=json, content=content, headers=all_headers, params=params
                )
            except httpx.TransportError as e:
                last = f"{type(e).__name__}: {e}"
            else:
                if response.status_code < 400:
                    return response
                if response.status_code != 429 and response.status_code < 500:
                    raise Refused(response.status_code, _message(response))
                last = f"{response.status_code}: {_message(response)}"
            if attempt < self.retries:
                self.sleep(self._delay(attempt, response))
        raise ServerUnreachable(f"{self.server}{path}: {last} (after {self.retries + 1} tries)")

    def enroll(self, secret: str, host: str, *, hostname: str, platform: str) -> str:
        """Enrol ``host``; return its credential."""
        body = {"secret": secret, "host": host, "hostname": hostname, "platform": platform}
        data = self.request("POST", "/api/v1/enroll", json=body).json()
        return str(data["credential"])

    def unchanged(
        self,
        credential: str,
        report_id: str,
        digest: str,
        addresses: Sequence[str] | None = None,
    ) -> bool:
        """Whether the server already holds the inventory with ``digest`` (check-in recorded).

        :param addresses: the host's interface addresses, sent along when known (the server
            keeps them only when they changed).
        """
        body: dict[str, object] = {"report_id": report_id, "digest": digest}
        if addresses:
            body["addresses"] = list(addresses)
        response = self.request("POST", "/api/v1/inventory/digest", token=credential, json=body)
        return bool(response.json().get("status") == "unchanged")

    def send(self, credential: str, gzipped: bytes) -> dict[str, Any]:
        """Send a full report (already gzip-compressed); return the acknowledgement."""
        response = self.request(
            "POST",
            "/api/v1/inventory",
            token=credential,
            content=gzipped,
            headers={"Content-Type": "application/json", "Content-Encoding": "gzip"},
        )
        ack: dict[str, Any] = response.json()
        return ack

    def get(self, path: str, *, token: str, params: dict[str, str] | None = None) -> httpx.Response:
        """GET with a user's API token (reports, listings); empty parameters are left out."""
        wanted = {k: v for k, v in (params or {}).items() if v}
        return self.request("GET", path, token=token, params=wanted)
