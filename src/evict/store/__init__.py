"""The fleet database: schema, migrations, and :class:`Store`, the only code that writes SQL."""

from evict.model.records import (
    ConflictError,
    DatabaseError,
    InvalidValueError,
    NotFoundError,
    SchemaError,
    StoreError,
)
from evict.store.store import Store

__all__ = [
    "ConflictError",
    "DatabaseError",
    "InvalidValueError",
    "NotFoundError",
    "SchemaError",
    "Store",
    "StoreError",
]
