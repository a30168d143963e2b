"""The fleet server: an API over the store, with the matching worker beside it."""

from evict.server.app import create_app

__all__ = ["create_app"]
