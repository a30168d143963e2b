"""evict: find, report, plan, remove and replace, and verify removing banned vendor software."""

__version__ = "0.1.0"
