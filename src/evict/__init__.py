"""evict: find, report, plan, remove and replace, and verify the removal of banned vendor software."""

__version__ = "0.1.0"
