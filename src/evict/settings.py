"""Settings of the fleet server and the commands that use its database.

A frozen value built once (from the command line and the environment) and passed in: nothing
else in evict reads these environment variables.

=============================  ======================================================
``EVICT_DB``                   database URL (default: SQLite in the user data directory)
``EVICT_CATALOG``              extra catalog directories (see :mod:`evict.catalog.loader`)
``EVICT_WORKER_INTERVAL``      seconds between matching-worker passes (default 5)
``EVICT_PROTECTION``           comma-separated product ids counted as approved protection
``EVICT_REPORTS_DIR``          where the server keeps reports generated from the dashboard
``EVICT_NOTIFY_INTERVAL``      seconds between notification passes (default 900; 0: none)
``EVICT_AUDIT_KEY``            the audit signing key (default: ``audit-key.pem`` in the user
                               data directory)
``EVICT_AUDIT_ANCHOR``         the anchor file signed heads are appended to (default:
                               ``audit-anchors.jsonl`` beside the key; ``off`` for none)
``EVICT_AUDIT_ANCHOR_INTERVAL``  seconds between anchored heads (default 300; 0: never)
``EVICT_AUDIT_SYSLOG``         also send each anchored head to syslog: a socket path
                               (``/dev/log``) or ``HOST:PORT``
``EVICT_TRUSTED_PROXIES``      comma-separated proxy addresses/networks trusted for
                               ``X-Forwarded-For`` (default: none)
``EVICT_TOKEN_MAX_DAYS``       longest API token per role (``admin=90,operator=90,auditor=30``)
``EVICT_REENROLL_STALE_DAYS``  days unseen after which a host may enrol again with its
                               unit's secret alone (default 30; 0: never)
``EVICT_BODY_TIMEOUT``         seconds a request may stall while sending its body (default 10)
=============================  ======================================================
"""

from __future__ import annotations

import ipaddress
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from platformdirs import user_data_dir

MiB = 1024 * 1024

TOKEN_MAX_DAYS = {"admin": 90, "operator": 90, "auditor": 30}
"""The default longest lifetime of an API token per role, in days: an auditor's reads are
the least needed for long, so its tokens lapse soonest."""


def default_database_url() -> str:
    """The embedded default: a SQLite file in the user data directory (created on demand)."""
    root = Path(user_data_dir("evict"))
    return f"sqlite:///{root / 'evict.db'}"


def normalise_database_url(url: str) -> str:
    """Turn what a user typed into an SQLAlchemy URL.

    ``postgresql://`` and ``postgres://`` select psycopg 3 (``postgresql+psycopg://``); a bare
    path is a SQLite file.
    """
    url = url.strip()
    for prefix in ("postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    if "://" not in url:
        return f"sqlite:///{Path(url).expanduser().resolve()}"
    return url


def sqlite_path(url: str) -> Path | None:
    """The file of a SQLite database URL, or None for other databases and in-memory ones."""
    from sqlalchemy.engine import make_url  # SQLAlchemy: not loaded at CLI start-up

    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite" or parsed.database in (None, "", ":memory:"):
        return None
    return Path(parsed.database)


def parse_proxies(text: str) -> tuple[str, ...]:
    """Comma-separated proxy addresses or networks (``10.0.0.5,10.1.0.0/16``), each checked."""
    out = []
    for item in text.split(","):
        item = item.strip()
        if not item:
            continue
        try:
            ipaddress.ip_network(item, strict=False)
        except ValueError as e:
            raise ValueError(f"trusted proxy {item!r} is not an address or network: {e}") from e
        out.append(item)
    return tuple(out)


def parse_token_max_days(text: str) -> dict[str, int]:
    """``admin=90,operator=90,auditor=30`` as a mapping (roles not named keep their default)."""
    out = dict(TOKEN_MAX_DAYS)
    for item in text.split(","):
        if not item.strip():
            continue
        role, _, days = item.partition("=")
        role = role.strip()
        if role not in out or not days.strip().isdigit() or int(days) < 1:
            raise ValueError(
                f"token lifetime {item.strip()!r}: expected ROLE=DAYS with ROLE one of "
                f"{', '.join(out)} and DAYS at least 1"
            )
        out[role] = int(days)
    return out


@dataclass(frozen=True, slots=True)
class Settings:
    """Everything the server, its worker and the database commands are configured with."""

    database_url: str
    """An SQLAlchemy URL, already normalised (see :func:`normalise_database_url`)."""
    catalog_dirs: tuple[Path, ...] = ()
    """Catalog directories added to the built-in one."""
    protection_products: frozenset[str] | None = None
    """Product ids that count as approved protection; None means every catalog product whose
    category is ``protection``."""
    max_body_bytes: int = 16 * MiB
    """Largest request body accepted, as sent (compressed)."""
    max_inflated_bytes: int = 64 * MiB
    """Largest inventory body accepted once decompressed."""
    max_observations: int = 200_000
    """Most observations one inventory report may carry."""
    run_worker: bool = True
    """Whether the app runs the matching worker in a background thread."""
    worker_interval: float = 5.0
    """Seconds between worker passes when nothing wakes it earlier."""
    checkin_flush: float = 0.1
    """Seconds between writes of the unchanged check-ins received meanwhile, in one
    transaction (0: each is written as it comes). A crash loses at most these last-seen bumps,
    never a report."""
    ingest_batch: int = 64
    """Full inventories written together in one transaction at most, each acknowledged once
    it is committed (0: each in its own transaction, as it comes)."""
    auto_upgrade: bool | None = None
    """Upgrade the schema on start: None means yes for SQLite, no for PostgreSQL."""
    enroll_rate: tuple[float, float] = (100.0, 20.0)
    """Enrolment rate limit per client address: (burst, requests per second)."""
    login_rate: tuple[float, float] = (10.0, 0.2)
    """Login rate limit per client address: (burst, requests per second)."""
    token_days: int = 90
    """Default lifetime of an API token, in days (capped by ``token_max_days``)."""
    token_max_days: Mapping[str, int] = field(default_factory=lambda: dict(TOKEN_MAX_DAYS))
    """Longest lifetime of an API token per role of its user, in days (login and dashboard
    sessions are shorter still)."""
    reenroll_stale_days: int = 30
    """An enrolled host not seen for this many days may enrol again with its unit's secret
    alone; one seen more recently needs an admin's permission or its current credential
    (0: never by age alone)."""
    trusted_proxies: tuple[str, ...] = ()
    """Addresses or networks of reverse proxies whose ``X-Forwarded-For`` and
    ``X-Forwarded-Proto`` are believed (none by default: the peer's address is the client's)."""
    login_account_rate: tuple[float, float] = (10.0, 0.05)
    """Login rate limit per account name, whatever the address: (burst, requests per second)."""
    lockout_after: int = 5
    """Failed logins in a row after which an account is locked, for ``lockout_seconds``
    doubling with each further failure (at most ``lockout_max_seconds``)."""
    lockout_seconds: float = 30.0
    """The first lockout's length."""
    lockout_max_seconds: float = 900.0
    """The longest lockout."""
    body_timeout: float = 10.0
    """Seconds a request may go without sending any of the body it declared before it is
    answered 408 and its connection closed."""
    report_retention_days: int = 90
    """Days stored inventory reports are kept for idempotent resends (each host's latest is
    always kept; the audit log keeps every ingest); 0 keeps them all."""
    audit_key: Path | None = None
    """The Ed25519 key that signs audit chain heads, kept outside the database (None: heads are
    not signed). The server creates it (mode 0600) when it is absent."""
    audit_anchor_file: Path | None = None
    """Where the server appends a signed head every ``audit_anchor_interval``; None: beside
    the key (``audit-anchors.jsonl``)."""
    audit_anchor_enabled: bool = True
    """Whether signed heads are appended to the anchor file at all (syslog may be the only
    place)."""
    audit_anchor_interval: float = 300.0
    """Seconds between anchored heads (0: none on a schedule). Events after the last anchor can
    be rewritten undetected until the next one, so this bounds that window."""
    audit_syslog: str | None = None
    """Also send each anchored head to syslog at this address (``/dev/log``, ``HOST:PORT``)."""
    extra: Mapping[str, str] = field(default_factory=dict)
    """Free-form settings for extensions; ignored by evict itself."""
    notify_interval: float = 900.0
    """Seconds between the server's notification passes (0: the server sends none)."""
    reports_dir: Path | None = None
    """Where the server keeps the reports and bundles generated from the dashboard; None: a
    ``reports`` folder beside the SQLite file, or in the user data directory."""

    def reports_directory(self) -> Path:
        """:attr:`reports_dir`, or its default."""
        if self.reports_dir is not None:
            return self.reports_dir
        if self.is_sqlite:
            from sqlalchemy.engine import make_url

            database = make_url(self.database_url).database
            if database and database != ":memory:":
                return Path(database).resolve().parent / "reports"
        return Path(user_data_dir("evict")) / "reports"

    @property
    def is_sqlite(self) -> bool:
        """Whether the database is SQLite."""
        return self.database_url.startswith("sqlite")

    @property
    def anchor_path(self) -> Path | None:
        """The anchor file, or None when there is none (no key, or anchoring to a file is off)."""
        if not self.audit_anchor_enabled or self.audit_key is None:
            return None
        if self.audit_anchor_file is not None:
            return self.audit_anchor_file
        # evict.signing loads cryptography: only when a key or anchor path is needed
        from evict.signing import default_anchor_path

        return default_anchor_path(self.audit_key)

    @property
    def upgrade_on_start(self) -> bool:
        """Whether the server upgrades the schema itself when it starts."""
        return self.is_sqlite if self.auto_upgrade is None else self.auto_upgrade

    @classmethod
    def from_env(
        cls, database: str | None = None, env: Mapping[str, str] | None = None, **overrides: object
    ) -> Settings:
        """Build settings from ``database`` (a URL or path), else ``EVICT_DB``, else the default.

        :param env: the environment to read (``os.environ`` by default).
        :param overrides: any other field, by name.
        """
        env = os.environ if env is None else env
        url = normalise_database_url(database or env.get("EVICT_DB") or default_database_url())
        catalog = tuple(Path(p) for p in env.get("EVICT_CATALOG", "").split(os.pathsep) if p)
        values: dict[str, object] = {"database_url": url, "catalog_dirs": catalog}
        if env.get("EVICT_WORKER_INTERVAL"):
            values["worker_interval"] = float(env["EVICT_WORKER_INTERVAL"])
        if env.get("EVICT_CHECKIN_FLUSH"):
            values["checkin_flush"] = float(env["EVICT_CHECKIN_FLUSH"])
        if env.get("EVICT_INGEST_BATCH"):
            values["ingest_batch"] = int(env["EVICT_INGEST_BATCH"])
        if env.get("EVICT_REPORT_RETENTION_DAYS"):
            values["report_retention_days"] = int(env["EVICT_REPORT_RETENTION_DAYS"])
        if env.get("EVICT_NOTIFY_INTERVAL"):
            values["notify_interval"] = float(env["EVICT_NOTIFY_INTERVAL"])
        if env.get("EVICT_REPORTS_DIR"):
            values["reports_dir"] = Path(env["EVICT_REPORTS_DIR"])
        if env.get("EVICT_TRUSTED_PROXIES"):
            values["trusted_proxies"] = parse_proxies(env["EVICT_TRUSTED_PROXIES"])
        if env.get("EVICT_TOKEN_MAX_DAYS"):
            values["token_max_days"] = parse_token_max_days(env["EVICT_TOKEN_MAX_DAYS"])
        if env.get("EVICT_REENROLL_STALE_DAYS"):
            values["reenroll_stale_days"] = int(env["EVICT_REENROLL_STALE_DAYS"])
        if env.get("EVICT_BODY_TIMEOUT"):
            values["body_timeout"] = float(env["EVICT_BODY_TIMEOUT"])
        if env.get("EVICT_PROTECTION"):
            values["protection_products"] = frozenset(
                p.strip() for p in env["EVICT_PROTECTION"].split(",") if p.strip()
            )
        # evict.signing loads cryptography: only when a key or anchor path is needed
        from evict.signing import default_audit_key_path

        key = env.get("EVICT_AUDIT_KEY")
        values["audit_key"] = Path(key).expanduser() if key else default_audit_key_path()
        anchor = env.get("EVICT_AUDIT_ANCHOR", "")
        if anchor.lower() == "off":
            values["audit_anchor_enabled"] = False
        elif anchor:
            values["audit_anchor_file"] = Path(anchor).expanduser()
        if env.get("EVICT_AUDIT_ANCHOR_INTERVAL"):
            values["audit_anchor_interval"] = float(env["EVICT_AUDIT_ANCHOR_INTERVAL"])
        if env.get("EVICT_AUDIT_SYSLOG"):
            values["audit_syslog"] = env["EVICT_AUDIT_SYSLOG"]
        values.update(overrides)
        return cls(**values)  # type: ignore[arg-type]
