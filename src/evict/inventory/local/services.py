"""systemd services of this host: the ``.service`` unit files systemd would load.

Only the unit file names are read, not their contents: the name is what identifies a product's
service (``kesl.service``, ``klnagent64.service``), and listing a handful of directories is cheap.
"""

from __future__ import annotations

from collections.abc import Iterable

from evict.inventory.interface import Collector, Problems
from evict.inventory.local._fs import list_dir, resolve_in_root
from evict.model.observations import Ident, Kind, Observation

UNIT_DIRS = (
    "/etc/systemd/system",
    "/run/systemd/system",
    "/run/systemd/generator",
    "/usr/local/lib/systemd/system",
    "/usr/lib/systemd/system",
    "/lib/systemd/system",
    "/run/systemd/generator.late",
)
"""systemd's system unit search path, highest precedence first (``systemd.unit(5)``).

``generator.late`` holds the units systemd makes from SysV init scripts, which is how older
Kaspersky packages that ship only ``/etc/init.d`` scripts appear as services.
"""


class SystemdCollector(Collector):
    """systemd service units: one observation per unit name, at its highest-precedence path."""

    name = "systemd"

    def available(self) -> bool:
        """Whether any systemd unit directory exists on this host."""
        return any(
            (p := resolve_in_root(self.root, d)) is not None and p.is_dir() for d in UNIT_DIRS
        )

    def collect(self, problems: Problems) -> Iterable[Observation]:
        """List ``*.service`` files in each unit directory; a unit found twice is reported once."""
        seen: dict[str, Observation] = {}
        visited: set[str] = set()
        for unit_dir in UNIT_DIRS:
            real = resolve_in_root(self.root, unit_dir)
            if real is None or str(real) in visited:
                continue  # /lib links to /usr/lib on merged-/usr systems
            visited.add(str(real))
            for entry in list_dir(real, problems):
                unit = entry.name
                if not unit.endswith(".service") or unit in seen:
                    continue
                stem = unit[: -len(".service")]
                if not stem:
                    continue
                seen[unit] = Observation.make(
                    Kind.SERVICE,
                    stem,
                    identifiers={Ident.PATH: f"{unit_dir}/{unit}"},
                    source=f"local:{self.name}",
                )
        return list(seen.values())
