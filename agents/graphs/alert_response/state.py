"""The alert and the state the alert_response graph carries (plain JSON values)."""

from __future__ import annotations

import datetime as dt
import math
from typing import Annotated, Any, Literal, TypedDict

from pydantic import BaseModel, Field, field_validator

from agents.graphs.common.state import ProposalRecord, append_list, merge_dicts


class AlertPayload(BaseModel):
    """A weather or overstock alert, as the webhook, the CLI and evals send it."""

    type: Literal["rain", "overstock"] = "rain"
    city: str = Field(
        min_length=1,
        max_length=64,
        description="A city of the pool in English or Chinese, e.g. Shanghai or 上海; checked "
        "against the pool's cities by the sender (webhook, CLI) and again at triage.",
    )
    mm: float = Field(default=0.0, ge=0, le=2000, description="Rain expected over `hours`, mm.")
    hours: int = Field(default=24, ge=1, le=168, description="Length of the weather event.")
    start: dt.date | None = Field(
        default=None, description="First day; the world's today if unset."
    )
    external_id: str | None = Field(default=None, description="The sender's alert id.")
    sender: str | None = None

    @field_validator("city")
    @classmethod
    def _trimmed(cls, value: str) -> str:
        return value.strip()

    @property
    def mm_per_day(self) -> float:
        """The 24-hour amount the CMA bands speak of; a shorter burst counts whole."""
        return self.mm if self.hours <= 24 else self.mm * 24 / self.hours

    @property
    def days(self) -> int:
        return max(1, math.ceil(self.hours / 24))


class AlertState(TypedDict, total=False):
    alert: dict[str, Any]
    run_id: str
    thread_id: str
    triage: dict[str, Any]
    scope: dict[str, Any]
    forecast: dict[str, Any]
    plan: dict[str, Any]
    proposals: Annotated[list[ProposalRecord], append_list]
    judged: Annotated[dict[str, Any], merge_dicts]
    outcomes: Annotated[dict[str, Any], merge_dicts]
    pending: list[str]
    review_notes: dict[str, str]
    decisions: dict[str, Any] | None
    run_totals: dict[str, Any]
    dispatch: dict[str, Any]
    report: dict[str, Any]


class AlertInput(TypedDict):
    """What starts an alert run: the alert (admitted by the signed webhook, the CLI or evals)."""

    alert: dict[str, Any]
