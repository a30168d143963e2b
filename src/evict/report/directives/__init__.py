"""The directives' own reports, built from fleet data: one module per directive's reports.

- :mod:`~evict.report.directives.bod_17_01`: day 30 (§1 a-c), day 60 (§2 a-n), status (§3);
- :mod:`~evict.report.directives.omb_m_23_13`: the exceptions report (every waiver);
- :mod:`~evict.report.directives.far`: FAR 52.204-23(c)(2)(i) and (ii);
- :mod:`~evict.report.directives.hosts`: the fleet report as a document;
- :mod:`~evict.report.directives.common`: the inputs, counts and sections they share;
- :mod:`~evict.report.directives.builders`: which reports a directive has, which is due, and
  building one.

A new directive's reports are a new module here and a line in
:data:`~evict.report.directives.builders.BUILDERS`.
"""

from evict.model.states import GONE, NOT_BEGUN, PRESENT, UNCONCLUDED
from evict.report.counts import SAMPLE
from evict.report.directives.builders import (
    BUILDERS,
    available,
    build,
    default_kind,
    render_report,
)
from evict.report.directives.common import (
    MethodCount,
    NetworkCount,
    ReportInputs,
    add_business_days,
    assessed,
    determinations_section,
    found_hosts,
)
from evict.report.directives.omb_m_23_13 import grounds
from evict.report.interface import ReportKind

__all__ = [
    "BUILDERS",
    "GONE",
    "NOT_BEGUN",
    "PRESENT",
    "SAMPLE",
    "UNCONCLUDED",
    "MethodCount",
    "NetworkCount",
    "ReportInputs",
    "ReportKind",
    "add_business_days",
    "assessed",
    "available",
    "build",
    "default_kind",
    "determinations_section",
    "found_hosts",
    "grounds",
    "render_report",
]
