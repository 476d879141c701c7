"""Racing threads against one database: the harness of the concurrency tests.

Each client gets its own engine (its own connections, as separate API workers have), all start
together at a barrier, and any exception a client raises fails the test instead of dying with
its thread unseen.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

from sqlalchemy.engine import Engine

from inventory.db import make_engine


def race(engine: Engine, clients: int, client: Callable[[Engine, int], None]) -> None:
    """Run ``client(own_engine, index)`` on ``clients`` threads released at once; wait for all
    of them, then raise what any of them raised (an ``ExceptionGroup``)."""
    url = engine.url.render_as_string(hide_password=False)
    start = threading.Barrier(clients)
    failed: list[Exception] = []

    def run(index: int) -> None:
        own = make_engine(url)
        try:
            start.wait()
            client(own, index)
        except Exception as error:  # raised below, in the test's thread
            failed.append(error)
        finally:
            own.dispose()

    threads = [threading.Thread(target=run, args=(index,)) for index in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if failed:
        raise ExceptionGroup(f"{len(failed)} of {clients} racing clients failed", failed)
