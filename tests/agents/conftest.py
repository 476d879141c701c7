"""Fixtures of the agents tests: a runtime on the small demo world with simulated systems."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from langgraph.checkpoint.memory import InMemorySaver
from sqlalchemy.engine import Engine

from agents.llm.offline import OfflinePlanner
from agents.policy import load_policy
from agents.runtime import AgentRuntime, world_clock
from connectors.base import ConnectorSet
from inventory.config import Settings


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
