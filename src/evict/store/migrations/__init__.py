"""Alembic migrations of evict's schema (run through :func:`evict.store.engine.upgrade`)."""
