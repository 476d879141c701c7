"""Fixtures of the tool tests: the small world shared read-only by a module, on SQLite and on
PostgreSQL (the API tests' ``any_module_world``: a file copy and a ``pg_world_template`` copy)."""

from tests.api.conftest import any_module_world

__all__ = ["any_module_world"]
