"""The policy gate's edges: exactly at and just above each limit, run totals, four-eyes, expiry."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from agents.policy import GateOutcome, PolicyError, Proposal, evaluate, load_policy
from agents.policy.gate import RunTotals

NOW = dt.datetime(2015, 7, 1, 9, tzinfo=dt.UTC)
POLICY = load_policy()
LIMITS = POLICY.transfer.auto_approve


def transfer(**kwargs) -> Proposal:
    values = {
        "kind": "transfer_order",
        "subject_id": "TO-1",
        "requested_by": "agent",
        "units": 10,
        "value": 1000.0,
        "cost": 100.0,
    }
    values.update(kwargs)
    return Proposal(**values)


@pytest.mark.parametrize(
    ("field", "limit"),
    [
        ("units", LIMITS.max_units_per_order),
        ("value", LIMITS.max_value_per_order),
        ("cost", LIMITS.max_cost_per_order),
    ],
)
def test_exactly_at_a_limit_is_auto_and_just_above_asks_a_human(field, limit):
    [at] = evaluate(POLICY, [transfer(**{field: limit})], now=NOW)
    assert at.outcome is GateOutcome.AUTO_APPROVE and at.rules == []
    step = 1 if field == "units" else 0.01
    [above] = evaluate(POLICY, [transfer(**{field: limit + step})], now=NOW)
    assert above.outcome is GateOutcome.NEEDS_APPROVAL
    assert above.rules[0].startswith(f"transfer.max_{field}_per_order")
    assert above.approvers_required == 1 and above.approver_roles == ["approver", "admin"]


def test_run_limits_count_earlier_auto_approvals():
    per_order = LIMITS.max_units_per_order
    n_fit = LIMITS.max_units_per_run // per_order
    proposals = [transfer(subject_id=f"TO-{i}", units=per_order, cost=1) for i in range(n_fit + 1)]
    verdicts = evaluate(POLICY, proposals, now=NOW)
    assert [v.outcome for v in verdicts[:n_fit]] == [GateOutcome.AUTO_APPROVE] * n_fit
    assert verdicts[-1].outcome is GateOutcome.NEEDS_APPROVAL
    assert any(r.startswith("transfer.max_units_per_run") for r in verdicts[-1].rules)


def test_run_cost_limit_uses_prior_totals():
    prior = RunTotals(units=0, cost=LIMITS.max_cost_per_run - 50)
    [ok] = evaluate(POLICY, [transfer(cost=50)], now=NOW, prior=prior)
    [over] = evaluate(POLICY, [transfer(cost=50.01)], now=NOW, prior=prior)
    assert ok.outcome is GateOutcome.AUTO_APPROVE
    assert over.outcome is GateOutcome.NEEDS_APPROVAL


def test_four_eyes_above_its_value():
    threshold = POLICY.transfer.four_eyes.above_value
    [at] = evaluate(POLICY, [transfer(value=threshold)], now=NOW)
    [above] = evaluate(POLICY, [transfer(value=threshold + 0.01)], now=NOW)
    assert (at.approvers_required, at.distinct_from_requester) == (1, False)
    assert (above.approvers_required, above.distinct_from_requester) == (2, True)


def test_emergency_approvals_expire_in_four_hours_others_in_a_day():
    [emergency] = evaluate(POLICY, [transfer(units=999, emergency=True)], now=NOW)
    [normal] = evaluate(POLICY, [transfer(units=999)], now=NOW)
    assert emergency.expires_at == NOW + dt.timedelta(hours=4)
    assert normal.expires_at == NOW + dt.timedelta(hours=24)


@pytest.mark.parametrize(
    ("depth", "outcome", "approvers"),
    [
        (0.2, GateOutcome.AUTO_APPROVE, 0),
        (0.21, GateOutcome.NEEDS_APPROVAL, 1),
        (0.4, GateOutcome.NEEDS_APPROVAL, 1),
        (0.41, GateOutcome.NEEDS_APPROVAL, 2),
        (0.5, GateOutcome.NEEDS_APPROVAL, 2),
        (0.51, GateOutcome.REFUSE, 0),
    ],
)
def test_markdown_depth_bands(depth, outcome, approvers):
    [verdict] = evaluate(
        POLICY,
        [Proposal(kind="promo_proposal", subject_id="PP-1", requested_by="a", depth=depth)],
        now=NOW,
    )
    assert verdict.outcome is outcome
    assert verdict.approvers_required == approvers


def test_a_policy_file_with_a_bad_field_names_it(tmp_path: Path):
    text = load_policy().model_dump()
    text["transfer"]["auto_approve"]["max_units_per_order"] = -1
    import yaml

    bad = tmp_path / "policy.yaml"
    bad.write_text(yaml.safe_dump(text))
    with pytest.raises(PolicyError, match=r"transfer\.auto_approve\.max_units_per_order"):
        load_policy(bad)


def test_a_missing_policy_file_is_reported(tmp_path: Path):
    with pytest.raises(PolicyError, match="cannot read policy file"):
        load_policy(tmp_path / "nope.yaml")


def test_unknown_keys_are_refused(tmp_path: Path):
    bad = tmp_path / "policy.yaml"
    data = load_policy().model_dump()
    data["transfer"]["auto_approve"]["max_unit_per_order"] = 5
    import yaml

    bad.write_text(yaml.safe_dump(data))
    with pytest.raises(PolicyError, match="max_unit_per_order"):
        load_policy(bad)
