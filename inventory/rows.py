"""Rows the pool wrote with Core statements, handed back as ORM objects without a reload.

Hot paths (a channel's hold) insert with Core ``INSERT ... RETURNING`` instead of a unit-of-work
flush, and already know every column. Building the model through its ``__init__`` would
validate every field again (about 0.3 ms a row here, more than the statement itself); this
builds the instance the way a query loads one and marks it detached, as if read by an earlier
session: attributes read normally, and ``session.add`` attaches it without writing it again.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TypeVar

from sqlalchemy.orm import attributes, configure_mappers, make_transient_to_detached
from sqlmodel import SQLModel

M = TypeVar("M", bound=SQLModel)


def detached_row(model: type[M], values: Mapping[str, object]) -> M:
    """An instance of ``model`` holding ``values`` (every column, primary key included)."""
    manager = attributes.manager_of_class(model)
    if manager is None or not manager.mapper.configured:
        configure_mappers()
        manager = attributes.manager_of_class(model)
    row = manager.new_instance()
    row.__dict__.update(values)
    make_transient_to_detached(row)
    return row
