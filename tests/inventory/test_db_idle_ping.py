"""The PostgreSQL pool pings only connections that sat idle (no ``SELECT 1`` per checkout on a
busy pool), and an idle connection whose server side died is replaced before use."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from sqlalchemy import event

from inventory import db


@pytest.mark.postgres
def test_busy_pool_skips_the_ping_and_a_dead_idle_connection_is_replaced(
    postgres_admin_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    engine = db.make_engine(postgres_admin_url)
    statements: list[str] = []
    pings: list[bool] = []
    event.listen(engine, "before_cursor_execute", lambda *a: statements.append(a[2]))
    real_ping = engine.dialect.do_ping
    monkeypatch.setattr(
        engine.dialect, "do_ping", lambda conn: pings.append(True) or real_ping(conn)
    )
    try:
        with engine.connect() as conn:
            first_pid = conn.execute(sa.text("select pg_backend_pid()")).scalar()
        for _ in range(3):  # checked out again at once: no ping
            with engine.connect() as conn:
                assert conn.execute(sa.text("select pg_backend_pid()")).scalar() == first_pid
        assert pings == []

        # The server side of the pooled connection dies while it sits idle.
        admin = sa.create_engine(postgres_admin_url, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(sa.text("select pg_terminate_backend(:pid)"), {"pid": first_pid})
        admin.dispose()
        monkeypatch.setattr(db, "PING_AFTER_IDLE_S", 0.0)
        with engine.connect() as conn:  # pinged, found dead, replaced: the query works
            assert conn.execute(sa.text("select pg_backend_pid()")).scalar() != first_pid
        assert pings
    finally:
        engine.dispose()
