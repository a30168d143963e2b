"""Executables on this host's disks: ``evict scan --files PATH…`` (see :mod:`.source`)."""

from evict.inventory.files.source import (
    DEFAULT_MAX_FILE_SIZE,
    FileScanSource,
    FileScanStats,
    default_cache_path,
)

__all__ = ["DEFAULT_MAX_FILE_SIZE", "FileScanSource", "FileScanStats", "default_cache_path"]
