"""Proposals: the only way an agent asks for something that changes the world.

The model (or the alert plan) says *what* it wants moved; the numbers the policy judges (units,
retail value, freight cost) are recomputed here from the pool, so a model cannot talk a transfer
under a threshold.
"""

from __future__ import annotations

from pydantic import BaseModel, Field

from agents.llm.base import ToolDefinition

PROPOSE_TRANSFER = "propose_transfer"
PROPOSE_MARKDOWN = "propose_markdown"


class ProposedLine(BaseModel):
    sku: str = Field(description="SKU code, e.g. RB001-BLK-38.")
    qty: int = Field(gt=0, le=100_000, description="Units to move.")


class ProposedShipment(BaseModel):
    source: str = Field(description="Location code that gives the stock.")
    dest: str = Field(description="Location code that receives it.")
    lines: list[ProposedLine] = Field(min_length=1)


class TransferProposalInput(BaseModel):
    """Propose transfer orders. Nothing moves until the policy gate, and above its limits a human
    approver, says yes."""

    shipments: list[ProposedShipment] = Field(min_length=1, max_length=200)
    reason: str = Field(default="", description="Why, in one sentence, for the approver.")
    emergency: bool = Field(default=False, description="Weather emergency: approvals lapse sooner.")


class MarkdownProposalInput(BaseModel):
    """Propose a markdown (price cut) for a style, optionally at one location; policy-gated."""

    style: str
    location: str | None = None
    depth: float = Field(gt=0, lt=1, description="Fraction off full price, e.g. 0.3.")
    reason: str = ""


def proposal_tools() -> list[ToolDefinition]:
    return [
        ToolDefinition.from_model(
            PROPOSE_TRANSFER, TransferProposalInput.__doc__ or "", TransferProposalInput
        ),
        ToolDefinition.from_model(
            PROPOSE_MARKDOWN, MarkdownProposalInput.__doc__ or "", MarkdownProposalInput
        ),
    ]
