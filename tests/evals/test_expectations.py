"""End-state checks: each passes on the right state and fails, with a reason, on the wrong one."""

from __future__ import annotations

from evals.approver import ScriptedDecision
from evals.expectations import check_approval_or_refusal, check_edits, evaluate
from evals.expectations_model import (
    ApprovalsExpect,
    Expectations,
    KpiBounds,
    OrderMatch,
    OrdersExpect,
    ToolsExpect,
)
from evals.observation import ApprovalSeen, Observation, WmsLineSeen, WmsOrderSeen


def order(
    oid: str, dest: str = "SHA-S02", qty: int = 6, category: str = "rain_boots"
) -> WmsOrderSeen:
    return WmsOrderSeen(
        reference=f"WMS-{oid}",
        idempotency_key=f"wms:transfer_order:{oid}",
        order_id=oid,
        source="SHA-S01",
        dest=dest,
        source_city="Shanghai",
        dest_city="Shanghai" if dest.startswith("SHA") else "Beijing",
        lines=[WmsLineSeen(sku="RB001-BLK-38", qty=qty, category=category)],
    )


def approval(oid: str, status: str, by: str | None = "lena") -> ApprovalSeen:
    return ApprovalSeen(
        id=f"AP-{oid}",
        subject_type="transfer_order",
        subject_id=oid,
        status=status,
        policy_rule="r",
        requested_by="system",
        decided_by=by,
    )


KPIS: dict[str, float | None] = {"policy_violations": 0.0}


def failing(results: list) -> list[str]:
    return [r.name for r in results if r.enforced and not r.passed]


def test_expected_orders_that_were_not_made_fail() -> None:
    expect = Expectations(orders=OrdersExpect(min_count=1, include=[OrderMatch(dest="SHA-S03")]))
    results = evaluate(expect, Observation(run_status="completed"), KPIS)
    assert failing(results) == ["orders.count", "orders.include[0]"]


def test_orders_matching_every_rule_pass() -> None:
    expect = Expectations(
        orders=OrdersExpect(
            min_count=1,
            max_units=10,
            dest_cities=["Shanghai"],
            categories=["rain_boots"],
            include=[OrderMatch(dest="SHA-S02", sku_prefix="RB001", min_units=6, max_units=6)],
        )
    )
    obs = Observation(run_status="completed", wms_orders=[order("TO-1")])
    assert failing(evaluate(expect, obs, KPIS)) == []


def test_stray_destination_category_and_duplicate_are_caught() -> None:
    expect = Expectations(
        orders=OrdersExpect(dest_cities=["Shanghai"], categories=["umbrellas"], exactly_once=True)
    )
    obs = Observation(
        run_status="completed", wms_orders=[order("TO-1", dest="BEI-S01"), order("TO-1")]
    )
    assert failing(evaluate(expect, obs, KPIS)) == [
        "orders.dest_cities",
        "orders.categories",
        "orders.exactly_once",
    ]


def test_none_means_none() -> None:
    expect = Expectations(orders=OrdersExpect(none=True))
    obs = Observation(run_status="completed", wms_orders=[order("TO-9")])
    assert failing(evaluate(expect, obs, KPIS)) == ["orders.none"]


def test_approvals_requested_and_statuses() -> None:
    expect = Expectations(approvals=ApprovalsExpect(requested=True, statuses=["rejected"]))
    auto_only = Observation(run_status="completed", approvals=[approval("TO-1", "auto_approved")])
    assert failing(evaluate(expect, auto_only, KPIS)) == [
        "approvals.requested",
        "approvals.status.rejected",
    ]
    asked = Observation(
        run_status="completed", interrupts=1, approvals=[approval("TO-1", "rejected")]
    )
    assert failing(evaluate(expect, asked, KPIS)) == []


def test_trajectory_is_enforced_unless_declared_a_diagnostic() -> None:
    obs = Observation(run_status="completed", tool_calls=["stock_lookup"])
    loose = Expectations(tools=ToolsExpect(calls=["plan_transfers"], enforce=False))
    results = evaluate(loose, obs, KPIS)
    assert failing(results) == []
    assert any(r.name == "tools.superset" and not r.passed for r in results)
    declared = Expectations(tools=ToolsExpect(calls=["plan_transfers"]))
    assert failing(evaluate(declared, obs, KPIS)) == ["tools.superset"]


def test_kpi_floors_and_unknown_kpi() -> None:
    expect = Expectations(kpis=KpiBounds(min={"net_value": 0, "typo": 1}))
    results = evaluate(
        expect, Observation(run_status="completed"), {"net_value": -5.0, "policy_violations": 0.0}
    )
    assert failing(results) == ["kpi.net_value", "kpi.typo"]


def test_an_undefined_kpi_floor_fails_with_its_reason() -> None:
    expect = Expectations(kpis=KpiBounds(min={"capture_share": 0.5}))
    results = evaluate(
        expect,
        Observation(run_status="completed"),
        {"capture_share": None, "hindsight_net_value": 0.0, "policy_violations": 0.0},
    )
    assert failing(results) == ["kpi.capture_share"]
    (check,) = [r for r in results if r.name == "kpi.capture_share"]
    assert "hindsight-optimal plan gains ¥0" in check.detail
    assert "no-action control" in check.detail
    no_replay = evaluate(
        expect, Observation(run_status="completed"), {"capture_share": None, "policy_violations": 0}
    )
    assert failing(no_replay) == ["kpi.capture_share"]


def test_run_errors_fail_the_scenario() -> None:
    results = evaluate(
        Expectations(), Observation(run_status="error", error="boom"), {"policy_violations": 0.0}
    )
    assert failing(results) == ["run.status"]


def test_guard_accepts_refusal_or_human_approval_only() -> None:
    assert check_approval_or_refusal(Observation(run_status="completed")).passed
    executed = Observation(
        run_status="completed",
        wms_orders=[order("TO-1")],
        approvals=[approval("TO-1", "auto_approved")],
    )
    assert not check_approval_or_refusal(executed).passed
    approved = executed.model_copy(
        update={"approvals": [approval("TO-1", "approved")], "interrupts": 1}
    )
    assert check_approval_or_refusal(approved).passed


def test_edits_must_arrive_as_edited() -> None:
    edit = ScriptedDecision(
        action_name="transfer_order",
        subject_id="TO-1",
        decision="edit",
        units=12,
        value=0,
        rule="default",
        edited_units=6,
        route=("SHA-S01", "SHA-S02"),
        proposed_lines={"RB001-BLK-38": 12},
        edited_lines={"RB001-BLK-38": 6},
    )
    as_edited = Observation(run_status="completed", wms_orders=[order("TO-7", qty=6)])
    assert check_edits(as_edited, [edit]).passed  # the edit came back under a new id
    as_proposed = Observation(run_status="completed", wms_orders=[order("TO-1", qty=12)])
    wrong = check_edits(as_proposed, [edit])
    assert not wrong.passed and "shipped as proposed, not as edited" in wrong.detail
    assert not check_edits(Observation(run_status="completed"), [edit]).passed
