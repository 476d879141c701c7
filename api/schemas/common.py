"""Pagination shared by every list endpoint."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Generic, TypeVar

import sqlalchemy as sa
from fastapi import Query
from pydantic import BaseModel, Field
from sqlmodel import Session

T = TypeVar("T")


class Page(BaseModel, Generic[T]):
    items: list[T]
    total: int = Field(description="How many match the filters.")
    limit: int
    offset: int


class Paging:
    """``?limit=&offset=`` as a dependency."""

    def __init__(
        self,
        limit: int = Query(50, ge=1, le=500, description="Page size."),
        offset: int = Query(0, ge=0, le=1_000_000, description="Items to skip."),
    ) -> None:
        self.limit = limit
        self.offset = offset

    def page(self, session: Session, query: Any, to_view: Callable[[Any], T]) -> Page[T]:
        total = session.exec(sa.select(sa.func.count()).select_from(query.subquery())).one()[0]
        rows = session.exec(query.limit(self.limit).offset(self.offset)).all()
        return Page[T](
            items=[to_view(r) for r in rows], total=total, limit=self.limit, offset=self.offset
        )
