"""evict.catalog."""
