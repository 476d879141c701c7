"""Copy a pool's rows into another database, and make private PostgreSQL databases for copies.

Demo worlds are generated and cached as SQLite files (``inventory.demo_world``); a world on
PostgreSQL (the service's production database) is that file's rows loaded into a migrated,
empty Postgres database. Tests and the eval harness both load worlds this way, so a world on
either database holds the same rows.
"""

from __future__ import annotations

import uuid

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from inventory.db import normalise_url

#: Rows per INSERT batch: large enough to be quick, small enough to bound one statement.
COPY_BATCH = 5000


def copy_pool(source: Engine, target: Engine) -> None:
    """Every row of ``source`` into the migrated, empty ``target`` (same schema), then the
    Postgres id sequences moved past the copied ids (so the next insert does not collide)."""
    from sqlmodel import SQLModel

    import inventory.models  # noqa: F401  (registers every table on SQLModel.metadata)

    tables = [t for t in SQLModel.metadata.sorted_tables if t.name != "alembic_version"]
    with source.connect() as read, target.begin() as write:
        for table in tables:
            rows = [dict(r._mapping) for r in read.execute(table.select())]
            for start in range(0, len(rows), COPY_BATCH):
                write.execute(table.insert(), rows[start : start + COPY_BATCH])
        if write.dialect.name != "postgresql":
            return
        for table in tables:
            if "id" in table.c and _has_sequence(write, table.name):
                write.execute(
                    sa.text(
                        f"SELECT setval(pg_get_serial_sequence('{table.name}', 'id'), "
                        f"COALESCE((SELECT MAX(id) FROM {table.name}), 0) + 1, false)"
                    )
                )


def _has_sequence(conn: sa.Connection, table: str) -> bool:
    return (
        conn.execute(sa.text(f"SELECT pg_get_serial_sequence('{table}', 'id')")).scalar()
        is not None
    )


def create_postgres_database(server_url: str, *, prefix: str, template: str | None = None) -> str:
    """A new database on ``server_url``'s server (optionally a copy of ``template``, a database
    name); returns its URL. ``server_url`` is only connected to, never written."""
    name = f"{prefix}_{uuid.uuid4().hex[:12]}"
    clause = f' TEMPLATE "{template}"' if template else ""
    run_on_server(server_url, f'CREATE DATABASE "{name}"{clause}')
    return database_url_named(server_url, name)


def drop_postgres_database(server_url: str, url: str) -> None:
    """Drop the database ``url`` names (its open connections closed first)."""
    run_on_server(server_url, f'DROP DATABASE IF EXISTS "{database_name(url)}" WITH (FORCE)')


def run_on_server(server_url: str, statement: str) -> None:
    """One statement outside a transaction on ``server_url``'s server (``CREATE``/``DROP``/
    ``ALTER DATABASE`` refuse to run inside one), on a connection opened for it alone."""
    admin = sa.create_engine(normalise_url(server_url), isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(sa.text(statement))
    finally:
        admin.dispose()


def database_url_named(server_url: str, name: str) -> str:
    """``server_url`` pointing at database ``name`` instead (same host, user, options)."""
    url = sa.engine.make_url(normalise_url(server_url)).set(database=name)
    return url.render_as_string(hide_password=False)


def database_name(url: str) -> str:
    """The database ``url`` names (the URL parsed, not split: options and quoting stay out)."""
    return str(sa.engine.make_url(normalise_url(url)).database)


def is_postgres_url(url: str) -> bool:
    return normalise_url(url).startswith("postgresql")
