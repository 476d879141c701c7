"""``/v1/policy``: the policy in force (read only; change it in the policy file)."""

from __future__ import annotations

from fastapi import APIRouter

from agents.policy.model import Policy
from api.deps import PolicyDep, ReaderDep
from api.errors import ERROR_RESPONSES

router = APIRouter(prefix="/policy", tags=["policy"], responses=ERROR_RESPONSES)


@router.get("", summary="Thresholds, approver roles and the four-eyes value in force")
def get_policy(policy: PolicyDep, _: ReaderDep) -> Policy:
    return policy
