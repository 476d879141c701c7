"""The body of an approval decision."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class DecisionRequest(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"decision": "approve", "comment": "storm tomorrow"}]},
    )

    decision: Literal["approve", "reject", "withdraw"] = Field(
        description="approve / reject (an approver), withdraw (the requester or an approver)"
    )
    comment: str | None = Field(default=None, max_length=2000, description="Why; kept in audit.")


class BatchItem(DecisionRequest):
    model_config = ConfigDict(extra="forbid")

    approval_id: str = Field(min_length=1, max_length=64)


class BatchDecisionRequest(BaseModel):
    """Decisions for every approval one interrupt asks about (e.g. all orders of one alert)."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "decisions": [
                        {"approval_id": "AP-TO-1", "decision": "approve"},
                        {"approval_id": "AP-TO-2", "decision": "reject", "comment": "too far"},
                    ]
                }
            ]
        },
    )

    decisions: list[BatchItem] = Field(min_length=1, max_length=200)
