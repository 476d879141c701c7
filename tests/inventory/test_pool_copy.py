"""Private PostgreSQL databases: one maker for the product (the eval harness) and the tests."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

import tests.conftest
from inventory import pool_copy
from inventory.pool_copy import create_postgres_database, database_name, drop_postgres_database
from tests.conftest import TEST_DB_PREFIX


def test_the_tests_make_their_databases_with_the_products_maker() -> None:
    assert tests.conftest.create_postgres_database is pool_copy.create_postgres_database
    assert tests.conftest.drop_postgres_database is pool_copy.drop_postgres_database


@pytest.mark.parametrize(
    ("url", "name"),
    [
        ("postgresql://postgres@127.0.0.1:5432/sp_test_ab12", "sp_test_ab12"),
        ("postgresql+psycopg://u:p%2Fw@db.example:6543/pool?sslmode=require", "pool"),
        ("postgres://u@h/shop%2Dpool?application_name=a/b", "shop-pool"),
    ],
)
def test_the_database_name_is_read_from_the_parsed_url(url: str, name: str) -> None:
    """Options after the name (and a slash inside them) are not part of it."""
    assert database_name(url) == name


@pytest.mark.postgres
def test_a_database_made_from_a_template_holds_its_rows_and_is_dropped(
    postgres_admin_url: str,
) -> None:
    template_url = create_postgres_database(postgres_admin_url, prefix=TEST_DB_PREFIX)
    copy_url = None
    try:
        template = sa.create_engine(template_url)
        with template.begin() as conn:
            conn.execute(sa.text("CREATE TABLE kept (n int)"))
            conn.execute(sa.text("INSERT INTO kept VALUES (7)"))
        template.dispose()
        name = sa.engine.make_url(template_url).database
        copy_url = create_postgres_database(
            postgres_admin_url, prefix=TEST_DB_PREFIX, template=name
        )
        copy_name = sa.engine.make_url(copy_url).database
        assert copy_name != name and copy_name.startswith(f"{TEST_DB_PREFIX}_")
        assert copy_url.rsplit("/", 1)[0] == postgres_admin_url.rsplit("/", 1)[0]
        copy = sa.create_engine(copy_url)
        with copy.connect() as conn:
            assert conn.execute(sa.text("SELECT n FROM kept")).scalar() == 7
        copy.dispose()
    finally:
        for url in (copy_url, template_url):
            if url is not None:
                drop_postgres_database(postgres_admin_url, url)
    admin = sa.create_engine(postgres_admin_url)
    with admin.connect() as conn:
        left = conn.execute(
            sa.text("SELECT count(*) FROM pg_database WHERE datname IN (:a, :b)"),
            {"a": name, "b": copy_name},
        ).scalar()
    admin.dispose()
    assert left == 0
