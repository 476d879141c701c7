"""The schema is created by Alembic, identically on SQLite and PostgreSQL."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlmodel import SQLModel

import inventory.models  # noqa: F401
from inventory import schema


def test_upgrade_reaches_head_and_creates_every_table(engine: Engine) -> None:
    assert schema.current_revision(engine) == schema.head_revision()
    tables = set(sa.inspect(engine).get_table_names())
    assert set(SQLModel.metadata.tables) <= tables


def test_upgrade_is_idempotent(engine: Engine) -> None:
    schema.upgrade(engine)
    assert schema.current_revision(engine) == schema.head_revision()


def test_migration_matches_models(engine: Engine) -> None:
    """A model change without a migration would make this diff non-empty."""
    from alembic.autogenerate import compare_metadata
    from alembic.runtime.migration import MigrationContext

    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), SQLModel.metadata)
    assert diff == []


def test_sqlite_has_wal_and_foreign_keys(sqlite_engine: Engine) -> None:
    with sqlite_engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1


def test_a_pool_from_before_the_vocabulary_tables_gets_its_demo_terms(db_url: str) -> None:
    """Pools made at revision 0001 used the demo world's code constants: upgrading writes the
    cities and categories they actually use as rows, and nothing else."""
    from inventory.db import make_engine
    from inventory.vocabulary import vocabulary_of

    engine = make_engine(db_url)
    try:
        schema.upgrade(engine, "0001")
        with engine.begin() as conn:
            conn.execute(
                sa.text(
                    "INSERT INTO location (code, kind, name_en, name_zh, city, region, lat, lon,"
                    " tier, ship_from_store) VALUES ('SHA-S01', 'store', 'S', '店', 'Shanghai',"
                    " 'East', 31.2, 121.5, 'A', false)"
                )
            )
            conn.execute(
                sa.text(
                    "INSERT INTO style (code, name_en, name_zh, category, season, price, cost,"
                    " size_run, core_sizes, rain_sensitive) VALUES ('RB001', 'Boot', '靴',"
                    " 'rain_boots', 'core', 299, 120, '[\"38\"]', '[]', true)"
                )
            )
        schema.upgrade(engine)
        terms = vocabulary_of(engine)
        assert list(terms.cities) == ["Shanghai"] and terms.region_zh("East") == "华东"
        assert list(terms.categories) == ["rain_boots"]
        assert terms.rain_categories == {"rain_boots"}
    finally:
        engine.dispose()
