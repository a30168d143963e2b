"""The one CSV-injection rule every CSV writer uses."""

from __future__ import annotations

import pytest

from evict.report.cells import safe_cell


@pytest.mark.parametrize(
    ("raw", "cell"),
    [
        ('=HYPERLINK("http://x")', '\'=HYPERLINK("http://x")'),
        ("+cmd", "'+cmd"),
        ("@SUM(A1)", "'@SUM(A1)"),
        ("-2+3", "'-2+3"),
        ("\t=1", "'\t=1"),
        ("-12", "-12"),
        ("-3.5", "-3.5"),
        ("hq-fin-ws-0142", "hq-fin-ws-0142"),
        ("\r=1+1", "<U+000D>=1+1"),
        ("ws\u202egpj.exe", "ws<U+202E>gpj.exe"),
        ("a\x9b31m\x00", "a<U+009B>31m<U+0000>"),
        (None, ""),
    ],
)
def test_formulas_quoted_numbers_left(raw: object, cell: str) -> None:
    assert safe_cell(raw) == cell


def test_fleet_report_csv_neutralises_host_supplied_cells() -> None:
    import csv
    import dataclasses
    import datetime as dt
    import io

    from evict.report import fleet

    field_names = [f.name for f in dataclasses.fields(fleet.FleetRow)]
    values = dict.fromkeys(field_names)
    values.update(
        host="=cmd|' /C calc'!A0", hostname="@evil", org="Agency", org_unit="+unit",
        platform="windows", state="identified", products=("kaspersky-endpoint-security",),
    )  # fmt: skip
    row = fleet.FleetRow(**values)
    line = fleet.ReportLine(row, "bod-17-01", "Status", dt.date(2026, 12, 25), -3, True)
    text = "".join(fleet.to_csv([line]))
    cells = list(csv.DictReader(io.StringIO(text)))[0]
    assert cells["host"].startswith("'=") and cells["hostname"] == "'@evil"
    assert cells["org_unit"] == "'+unit" and cells["days_left"] == "-3"
