"""Promo proposal lifecycle: approval enqueues the price change with the decision."""

from __future__ import annotations

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from agents.executor import promos
from agents.executor.errors import InvalidTransition
from agents.executor.models import PromoDraft
from inventory.db import session_scope
from inventory.models import AuditEvent, OutboxMessage, PromoProposal, PromoStatus
from tests.agents.executor_helpers import NOW, SOURCE, decided, seed_pool


def _propose(engine: Engine, **draft) -> str:
    with session_scope(engine) as session:
        proposal = promos.create_promo_proposal(
            session,
            PromoDraft(style="RB1", location=SOURCE, depth=0.2, **draft),
            at=NOW,
            requested_by="planner",
        )
        return proposal.id


def test_approve_enqueues_the_marked_down_price(engine: Engine) -> None:
    seed_pool(engine)
    proposal_id = _propose(engine)
    with session_scope(engine) as session:
        promos.request_promo_approval(session, proposal_id, at=NOW)
        decided(session, proposal_id, "lee", "promo_proposal")
        promos.approve_promo_proposal(session, proposal_id, decided_by="lee", at=NOW)

    with Session(engine) as session:
        message = session.exec(select(OutboxMessage)).one()
        kinds = session.exec(
            select(AuditEvent.kind).where(AuditEvent.subject_id == proposal_id)
        ).all()
    assert (message.target, message.action) == ("pricing", "apply_price_change")
    assert message.idempotency_key == promos.pricing_idempotency_key(proposal_id)
    assert message.payload["new_price"] == pytest.approx(239.2)  # 299 × 0.8
    assert kinds == [
        "promo_proposal.proposed",
        "promo_proposal.pending_approval",
        "promo_proposal.approved",
    ]


def test_reject_and_expire_are_final(engine: Engine) -> None:
    seed_pool(engine)
    rejected, expired = _propose(engine), _propose(engine)
    with session_scope(engine) as session:
        promos.reject_promo_proposal(
            session, rejected, decided_by="lee", at=NOW, comment="margin too thin"
        )
        promos.expire_promo_proposal(session, expired, at=NOW)
    for proposal_id in (rejected, expired):
        with (
            pytest.raises(InvalidTransition, match=r"allowed only from proposed, pending_approval"),
            session_scope(engine) as session,
        ):
            decided(session, proposal_id, "kim", "promo_proposal")
            promos.approve_promo_proposal(session, proposal_id, decided_by="kim", at=NOW)
    with Session(engine) as session:
        assert session.get(PromoProposal, rejected).status == PromoStatus.REJECTED
        assert session.get(PromoProposal, expired).status == PromoStatus.EXPIRED
        assert session.exec(select(OutboxMessage)).all() == []


@pytest.mark.parametrize(
    ("draft", "message"),
    [
        ({"style": "NOPE"}, "style: unknown style 'NOPE'"),
        ({"location": "XXX-S01"}, "location: unknown location 'XXX-S01'"),
    ],
)
def test_unknown_style_or_location_is_refused(engine: Engine, draft, message) -> None:
    seed_pool(engine)
    values = {"style": "RB1", "location": SOURCE, "depth": 0.2, **draft}
    with pytest.raises(ValueError, match=message), session_scope(engine) as session:
        promos.create_promo_proposal(session, PromoDraft(**values), at=NOW)


def test_depth_outside_zero_one_is_refused() -> None:
    with pytest.raises(ValueError, match="depth"):
        PromoDraft(style="RB1", depth=1.2)
