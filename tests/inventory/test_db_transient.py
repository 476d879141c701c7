"""Which database errors are worth running the transaction again for."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from inventory.db import is_transient


@pytest.mark.postgres
def test_a_real_postgres_deadlock_is_transient(postgres_admin_url: str) -> None:
    """Two connections lock two rows in opposite orders: the victim's error is transient."""
    import threading

    from inventory.pool_copy import create_postgres_database, drop_postgres_database
    from tests.conftest import TEST_DB_PREFIX

    url = create_postgres_database(postgres_admin_url, prefix=TEST_DB_PREFIX)
    engine: Engine = sa.create_engine(url)
    table = "deadlock_probe"
    with engine.begin() as conn:
        conn.exec_driver_sql(f"CREATE TABLE {table} (id int primary key, n int)")
        conn.exec_driver_sql(f"INSERT INTO {table} VALUES (1, 0), (2, 0)")
    errors: list[BaseException] = []
    first_locked, second_locked = threading.Event(), threading.Event()

    def worker(mine: int, other: int, locked: threading.Event, wait: threading.Event) -> None:
        try:
            with engine.begin() as conn:
                conn.exec_driver_sql(f"UPDATE {table} SET n = n + 1 WHERE id = {mine}")
                locked.set()
                wait.wait(5)
                conn.exec_driver_sql(f"UPDATE {table} SET n = n + 1 WHERE id = {other}")
        except Exception as error:
            errors.append(error)

    threads = [
        threading.Thread(target=worker, args=(1, 2, first_locked, second_locked)),
        threading.Thread(target=worker, args=(2, 1, second_locked, first_locked)),
    ]
    try:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(30)
        assert len(errors) == 1 and is_transient(errors[0])
    finally:
        engine.dispose()
        drop_postgres_database(postgres_admin_url, url)


def test_other_errors_are_not_transient(sqlite_engine: Engine) -> None:
    with pytest.raises(sa.exc.OperationalError) as raised, sqlite_engine.connect() as conn:
        conn.exec_driver_sql("SELECT * FROM no_such_table")
    assert not is_transient(raised.value)
    assert not is_transient(ValueError("no"))
