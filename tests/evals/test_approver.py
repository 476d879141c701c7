"""The scripted approver answers interrupts in the HITL shape the graphs resume with."""

from __future__ import annotations

from evals.approver import ApprovalRequest, ScriptedApprover, action_figures, edit_quantities
from evals.scenario import ApproverScript, DecisionRule, Principal


def request(*actions: dict) -> ApprovalRequest:
    return ApprovalRequest.model_validate(
        {
            "action_requests": [
                {"name": "transfer_order", "args": a, "description": "d"} for a in actions
            ],
            "review_configs": [{"action_name": "transfer_order"}],
        }
    )


BIG = {
    "subject_id": "TO-1",
    "value": 9000.0,
    "lines": [{"sku": "A", "qty": 10}, {"sku": "B", "qty": 3}],
}
SMALL = {"subject_id": "TO-2", "value": 200.0, "lines": [{"sku": "C", "qty": 2}]}


def test_figures_come_from_lines_and_value() -> None:
    figures = action_figures(request(BIG).action_requests[0])
    assert (figures.units, figures.value) == (13, 9000.0)


def test_value_defaults_to_retail_value_from_prices() -> None:
    action = request({"lines": [{"sku": "A", "qty": 2}, {"sku": "B", "qty": 1}]}).action_requests[0]
    assert action_figures(action, {"A": 300.0, "B": 50.0}.__getitem__).value == 650.0
    assert action_figures(action).value == 0.0


def test_approve_all_and_principal() -> None:
    approver = ScriptedApprover(
        ApproverScript(principal=Principal(name="lena", roles=["approver"]))
    )
    answer = approver.decide(request(BIG, SMALL))
    assert answer == {
        "decisions": [{"type": "approve"}, {"type": "approve"}],
        "principal": {"name": "lena", "roles": ["approver"]},
    }


def test_reject_all_carries_the_message() -> None:
    answer = ScriptedApprover(ApproverScript(default="reject", message="no")).decide(request(SMALL))
    assert answer is not None
    assert answer["decisions"] == [{"type": "reject", "message": "no"}]


def test_rules_by_value_first_match_wins() -> None:
    script = ApproverScript(
        default="approve",
        rules=[DecisionRule(decision="reject", min_value=5000, message="too big")],
    )
    approver = ScriptedApprover(script)
    answer = approver.decide(request(BIG, SMALL))
    assert answer is not None
    assert [d["type"] for d in answer["decisions"]] == ["reject", "approve"]
    assert [d.subject_id for d in approver.decisions] == ["TO-1", "TO-2"]


def test_edit_scales_quantities_and_keeps_one_unit() -> None:
    approver = ScriptedApprover(ApproverScript(default="edit", qty_factor=0.5))
    answer = approver.decide(request(BIG))
    assert answer is not None
    edited = answer["decisions"][0]["edited_action"]
    assert edited["name"] == "transfer_order"
    assert [line["qty"] for line in edited["args"]["lines"]] == [5, 1]
    assert approver.decisions[0].edited_units == 6
    assert BIG["lines"][0]["qty"] == 10  # the request itself is untouched


def test_edit_without_lines_is_a_clear_error() -> None:
    try:
        edit_quantities({"units": 4}, 0.5)
    except ValueError as exc:
        assert "no `lines`" in str(exc)
    else:
        raise AssertionError("expected a ValueError")


def test_ignore_leaves_the_request_pending() -> None:
    approver = ScriptedApprover(ApproverScript(default="ignore"))
    assert approver.decide(request(SMALL)) is None
    assert approver.decisions[0].decision == "ignore"


def test_second_round_goes_to_the_second_approver() -> None:
    script = ApproverScript(
        principal=Principal(name="alice"), second_principal=Principal(name="bob")
    )
    approver = ScriptedApprover(script)
    first = approver.decide(request(BIG), round_index=0)
    second = approver.decide(request(BIG), round_index=1)
    assert first and second
    assert (first["principal"]["name"], second["principal"]["name"]) == ("alice", "bob")


def test_an_edited_action_asked_again_is_approved_not_cut_again() -> None:
    approver = ScriptedApprover(ApproverScript(default="edit", qty_factor=0.5))
    approver.decide(request(BIG), round_index=0)
    again = approver.decide(request(BIG), round_index=1)
    assert again is not None and again["decisions"] == [{"type": "approve"}]


def test_an_edit_coming_back_under_a_new_subject_is_recognised() -> None:
    original = {"subject_id": "TO-1", "source": "S", "dest": "D", "lines": [{"sku": "A", "qty": 8}]}
    approver = ScriptedApprover(ApproverScript(default="edit", qty_factor=0.5))
    approver.decide(request(original))
    assert approver.decisions[0].edited_lines == {"A": 4}
    returned = {"subject_id": "TO-2", "source": "S", "dest": "D", "lines": [{"sku": "A", "qty": 4}]}
    again = approver.decide(request(returned), round_index=1)
    assert again is not None and again["decisions"] == [{"type": "approve"}]
