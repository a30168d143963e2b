"""evict.compliance."""
