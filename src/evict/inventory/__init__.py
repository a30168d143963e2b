"""Where observations come from: this host, and the files other tools already produce."""

from evict.inventory.interface import (
    Collector,
    InventoryError,
    InventorySource,
    Problems,
    SourceInputError,
)
from evict.model.observations import (
    HostID,
    HostInventory,
    Ident,
    Kind,
    Observation,
    Platform,
    SourceStatus,
)

__all__ = [
    "Collector",
    "HostID",
    "HostInventory",
    "Ident",
    "InventoryError",
    "InventorySource",
    "Kind",
    "Observation",
    "Platform",
    "Problems",
    "SourceInputError",
    "SourceStatus",
]
