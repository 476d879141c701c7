"""Fixtures of the agents tests: a runtime on the small demo world with simulated systems."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import respx
from langgraph.checkpoint.base import BaseCheckpointSaver
from langgraph.checkpoint.memory import InMemorySaver
from sqlalchemy.engine import Engine

from agents.llm.offline import OfflinePlanner
from agents.persistence import open_checkpointer
from agents.policy import load_policy
from agents.runtime import AgentRuntime, world_clock
from connectors.base import ConnectorSet
from inventory.config import Settings
from tests.agents.provider import URL


@pytest.fixture
def provider() -> Iterator[respx.Route]:
    """The mocked model endpoint (chat completions at ``tests.agents.provider.URL``); the
    simulated enterprise systems stay real (local HTTP)."""
    with respx.mock(assert_all_called=False) as router:
        router.route(host="127.0.0.1").pass_through()
        router.route(host="localhost").pass_through()
        yield router.post(URL)


@pytest.fixture
def connectors() -> Iterator[ConnectorSet]:
    """Private in-memory simulated WMS / OMS / pricing / notify, served over real HTTP."""
    with ConnectorSet.simulated() as connector_set:
        yield connector_set


@pytest.fixture
def data_dir(fitted_data_dir: Path) -> Path:
    """The session's forecasters fitted once on the small world (never the project's var/)."""
    return fitted_data_dir


@pytest.fixture
def runtime(world_engine: Engine, connectors: ConnectorSet, data_dir: Path) -> AgentRuntime:
    clock = world_clock(world_engine)
    return AgentRuntime(
        engine=world_engine,
        settings=Settings(database_url=str(world_engine.url), data_dir=data_dir, clock="world"),
        llm=OfflinePlanner(clock),
        connectors=connectors,
        clock=clock,
        policy=load_policy(),
    )


@pytest.fixture
def checkpointer() -> InMemorySaver:
    return InMemorySaver()


# --- The same runtime on both databases, with each backend's real checkpointer ---------------


@pytest.fixture
def any_runtime(any_world_engine: Engine, connectors: ConnectorSet, data_dir: Path) -> AgentRuntime:
    """``runtime`` on the small world on SQLite or PostgreSQL."""
    clock = world_clock(any_world_engine)
    url = any_world_engine.url.render_as_string(hide_password=False)
    return AgentRuntime(
        engine=any_world_engine,
        settings=Settings(database_url=url, data_dir=data_dir, clock="world"),
        llm=OfflinePlanner(clock),
        connectors=connectors,
        clock=clock,
        policy=load_policy(),
    )


@pytest.fixture
def any_checkpointer(any_runtime: AgentRuntime) -> Iterator[BaseCheckpointSaver]:
    """The checkpointer ``serve`` opens for that pool: a SQLite file beside it, or a
    PostgresSaver on a psycopg connection pool in the pool's own database."""
    with open_checkpointer(any_runtime.settings) as saver:
        yield saver
