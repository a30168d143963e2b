"""evict.matching."""
