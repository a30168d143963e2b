"""evict.report."""
