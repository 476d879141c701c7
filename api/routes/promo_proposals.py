"""``/v1/promo-proposals``: markdowns the agents proposed, and their status."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query
from sqlmodel import select

from api.deps import ReaderDep, SessionDep
from api.errors import ERROR_RESPONSES, not_found
from api.schemas.common import Page, Paging
from api.schemas.records import PromoProposalView
from inventory.models import PromoProposal, PromoStatus

router = APIRouter(prefix="/promo-proposals", tags=["promos"], responses=ERROR_RESPONSES)


@router.get("", summary="Promo proposals, newest first", response_model=Page[PromoProposalView])
def list_promo_proposals(
    session: SessionDep,
    _: ReaderDep,
    paging: Annotated[Paging, Depends()],
    status: Annotated[PromoStatus | None, Query()] = None,
    style: Annotated[str | None, Query(max_length=64)] = None,
    run_id: Annotated[str | None, Query(max_length=64)] = None,
) -> Page[PromoProposalView]:
    query = select(PromoProposal).order_by(PromoProposal.created_at.desc())  # type: ignore[attr-defined]
    for column, value in (
        (PromoProposal.status, str(status) if status else None),
        (PromoProposal.style_code, style),
        (PromoProposal.run_id, run_id),
    ):
        if value is not None:
            query = query.where(column == value)
    return paging.page(session, query, PromoProposalView.from_row)


@router.get("/{proposal_id}", summary="One promo proposal", response_model=PromoProposalView)
def get_promo_proposal(proposal_id: str, session: SessionDep, _: ReaderDep) -> PromoProposalView:
    proposal = session.get(PromoProposal, proposal_id)
    if proposal is None:
        raise not_found("promo proposal", proposal_id)
    return PromoProposalView.from_row(proposal)
