"""The fleet server, HTTP only: the API and the dashboard's pages over the use cases of service/."""

from evict.server.app import create_app

__all__ = ["create_app"]
