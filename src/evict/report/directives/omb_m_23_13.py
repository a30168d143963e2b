"""The exceptions report: every waiver, as OMB M-23-13 asks exceptions to be documented (limited,
per device, on stated grounds, granted by the agency head or a designee; no blanket
exceptions)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping

from evict.model.records import WaiverInfo
from evict.report.directives.common import (
    ReportInputs,
    _count,
    _document,
    _lines_of,
    _waiver_status,
    determinations_section,
)
from evict.report.fleet import (
    ReportLine,
)
from evict.report.interface import (
    BlanketExceptionError,
    Document,
    Field,
    ReportKind,
    Section,
    Table,
    Value,
    missing,
)

# -- OMB M-23-13 exceptions -----------------------------------------------------------------------

GROUNDS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("law enforcement", ("law enforcement", "law-enforcement", "investigation")),
    ("national security", ("national security", "national-security", "intelligence")),
    ("security research", ("security research", "security-research", "research")),
)
"""The grounds M-23-13 allows an exception on, and words of a justification that state each."""


def grounds(justification: str, recorded: str = "") -> str:
    """The M-23-13 grounds of a waiver: the ones recorded with it (``law-enforcement``...), else
    those its justification states (waivers granted before grounds were recorded), or ``""``."""
    if recorded:
        return recorded.replace("-", " ")
    text = justification.lower()
    found = [name for name, words in GROUNDS if any(w in text for w in words)]
    return ", ".join(found)


def _one_host(w: WaiverInfo, hosts: Mapping[str, ReportLine]) -> None:
    name = w.host.strip()
    if not name or any(c in name for c in "*?,") or name.lower() in {"all", "any"}:
        raise BlanketExceptionError(
            f"waiver {w.id} names {w.host!r}, not one host: blanket exceptions are not permitted"
        )
    if name not in hosts:
        raise BlanketExceptionError(
            f"waiver {w.id} names {w.host!r}, which is not an enrolled host"
        )


def exceptions(inputs: ReportInputs) -> Document:
    """Every exception (waiver) with its host, grounds, approver and expiry; expired ones flagged.

    Raise :class:`BlanketExceptionError` if a waiver does not name exactly one enrolled host.
    """
    hosts = _lines_of(inputs, {w.host for w in inputs.waivers})
    approvers = inputs.profile.exception_approvers
    rows: list[tuple[Value, ...]] = []
    for w in sorted(inputs.waivers, key=lambda w: (w.host, w.created_at, w.id)):
        _one_host(w, hosts)
        line = hosts[w.host]
        if approvers is None:
            on_record = missing("OMB M-23-13 (agency head or designee)")
        else:
            on_record = (
                "yes"
                if w.approver.strip().lower() in {a.strip().lower() for a in approvers}
                else "NO"
            )
        rows.append(
            (
                w.host,
                line.row.hostname,
                line.row.org_unit,
                " ".join(w.justification.split()),
                grounds(w.justification, w.grounds)
                or "NOT STATED (allowed: law enforcement, national security, security research)",
                w.approver,
                on_record,
                w.created_at.date().isoformat(),
                w.created_by,
                w.expires.isoformat(),
                _waiver_status(w, inputs.today),
            )
        )
    status_of = Counter(_waiver_status(w, inputs.today) for w in inputs.waivers)
    statements = (
        [
            f"No blanket exceptions: each of the {_count(len(rows), 'exception')} names exactly "
            f"one host ({_count(len({r[0] for r in rows}), 'host')})."
        ]
        if rows
        else ["No exceptions have been granted."]
    )
    if status_of["EXPIRED"]:
        statements.append(
            f"{_count(status_of['EXPIRED'], 'exception')} expired: their hosts are back under the "
            "directive's deadlines."
        )
    section = Section(
        "exceptions",
        "Exceptions: limited, per device, for law enforcement activities, national security "
        "interests and activities, and security research; granted by the agency head or a "
        "designee; no blanket exceptions",
        fields=(
            Field("Exceptions", len(rows)),
            Field("Active", status_of["active"]),
            Field("Expired", status_of["EXPIRED"]),
            Field("Revoked", status_of["revoked"]),
            Field(
                "Agency head and designees on record",
                ", ".join(approvers) if approvers else None,
                "OMB M-23-13 (exceptions granted by the agency head or designee)",
            ),
        ),
        statements=tuple(statements),
        tables=(
            Table(
                "exceptions",
                "Exceptions",
                (
                    "Host",
                    "Hostname",
                    "Org unit",
                    "Justification",
                    "Grounds",
                    "Approver",
                    "Approver is agency head or designee on record",
                    "Granted",
                    "Recorded by",
                    "Expires",
                    "Status",
                ),
                tuple(rows),
            ),
        ),
    )
    return _document(
        inputs,
        ReportKind.EXCEPTIONS,
        f"{inputs.directive.id} exceptions report",
        "",
        [section, determinations_section(inputs)],
    )
