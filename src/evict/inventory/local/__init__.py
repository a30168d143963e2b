"""Collectors that read the running host (Linux today), and the source that runs them all."""

from evict.inventory.local.host import COLLECTORS, LocalHostSource

__all__ = ["COLLECTORS", "LocalHostSource"]
