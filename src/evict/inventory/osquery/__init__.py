"""osquery as an inventory source: osqueryd results logs and ``osqueryi --json`` outputs.

Two inputs are read (``evict scan --from osquery PATH...``):

**An osqueryd results log** (``osqueryd.results.log`` or ``osqueryd.snapshots.log``, or the same
lines forwarded by a log shipper): JSON lines, one event each, many hosts in one file keyed by
``hostIdentifier``. All three result formats of osquery's "Logging osquery results" are read:

* snapshot: ``{"name": ..., "hostIdentifier": ..., "action": "snapshot", "snapshot": [rows]}``;
  the rows replace what was known of that query on that host;
* event (differential): ``{"action": "added" | "removed", "columns": {row}}``, one row a line;
* batched differential: ``{"diffResults": {"added": [rows], "removed": [rows]}}``.

Differential lines are applied in order to rebuild each host's current rows per query. A change
of ``epoch``, or a ``counter`` that goes back, marks a fresh first run, so the rows known before
are dropped, as osquery itself does. Several logs given together (rotated files, oldest first) are
read as one stream; a log that turns out to be unreadable leaves the others' state untouched.
``decorations`` may carry ``hostname`` and ``platform``; a query of ``os_version`` or
``system_info`` is read for the same facts.

**A directory of ``osqueryi --json`` outputs**, one file per table named ``<table>.json`` (for
example ``osqueryi --json "select * from programs" > host-17/programs.json``), each a JSON array
of rows: one host, whose identifier is the directory's name.

Which table a query read is decided by its columns where they are distinctive (``programs`` has
``identifying_number``, ``deb_packages`` has ``maintainer`` and ``revision``, ``apps`` has
``bundle_identifier``, ...) and otherwise by its name. A query name is accepted when it contains a
table name as a whole word sequence, after any pack prefix: ``programs``, ``pack_evict_programs``,
``pack/evict/deb_packages``, ``windows_programs_snapshot`` and ``evict-chrome-extensions`` are all
read; the longest (then the last) table name in the query name wins. The tables read, and what
each becomes:

============================ ====================== ======================================
table                        observation kind       identifiers
============================ ====================== ======================================
programs                     program                product_code, path
deb_packages, rpm_packages,  package                purl
pacman_packages
apps (macOS)                 app                    bundle_id, path
package_receipts (macOS)     package                bundle_id (the receipt id), path
services, systemd_units,     service                path (launchd: bundle_id = label)
launchd
processes                    process                path
drivers (Windows)            driver (image file)    path
kernel_extensions,           driver                 bundle_id, path (team_id)
system_extensions
kernel_modules               kernel_module
certificates                 certificate            cert_subject, cert_fingerprint
chrome_extensions (every     browser_extension      extension_id, path (safari: team_id)
Chromium browser),
firefox_addons,
safari_extensions
ie_extensions                browser_extension      extension_id (CLSID), registry_key, path
browser_plugins (macOS)      browser_extension      bundle_id, path
python_packages,             package                purl (pypi, npm), path
npm_packages,
homebrew_packages,
chocolatey_packages
snap_packages,               package                package_id (snap name, flatpak app id)
flatpak_packages
windows_security_products    program
registry (Windows)           as the ``reg`` source  Uninstall keys, Services (drivers by
                             reads the same keys    Type), vendor keys; sources
                                                    ``osquery:registry:<what>``
============================ ====================== ======================================

osquery's ``services`` table lists Win32 services only and ``drivers`` only the PnP device
drivers in use, so kernel and file-system drivers that drive no device (minifilters such as
``klif``) are seen only through the ``registry`` table: its rows (``key``, ``name``, ``type``,
``data``) are gathered into one registry per host and read as a ``.reg`` export is.

Any other query (``uptime``, ``users``, ...) is skipped and reported as a problem on the file's
status. A line that is not JSON, or an event of the wrong shape, raises :class:`SourceInputError`
naming the file and line; lines are read one at a time and none may exceed 64 MiB, so memory holds
only the current rows of each host.
"""

from evict.inventory.osquery.detect import (
    detect_table,
    platform_from_name,
    table_from_columns,
    table_from_name,
)
from evict.inventory.osquery.results import OsqueryInputError
from evict.inventory.osquery.source import (
    GZIP_MAGIC,
    MAX_FILE_BYTES,
    MAX_LINE_BYTES,
    MAX_PROBLEMS,
    OsquerySource,
)
from evict.inventory.osquery.tables import (
    ALIASES,
    TABLES,
    Row,
    Table,
    parse_subject,
    rfc4514,
)

__all__ = [
    "ALIASES",
    "GZIP_MAGIC",
    "MAX_FILE_BYTES",
    "MAX_LINE_BYTES",
    "MAX_PROBLEMS",
    "TABLES",
    "OsqueryInputError",
    "OsquerySource",
    "Row",
    "Table",
    "detect_table",
    "parse_subject",
    "platform_from_name",
    "rfc4514",
    "table_from_columns",
    "table_from_name",
]
