"""Which final answers claim an action, and when the claim is false."""

from __future__ import annotations

import pytest
from langchain_core.messages import HumanMessage

from agents.graphs.ops_chat.claims import correction

ASKED = [HumanMessage("move 40 pairs to SHA-S01")]
PENDING = [("TO-1", "pending_approval", "DC-SHA → SHA-S01")]
APPROVED = [("TO-1", "approved", "DC-SHA → SHA-S01")]


@pytest.mark.parametrize(
    ("answer", "happened", "corrected"),
    [
        ("Done, I executed the transfer.", [], True),
        ("I've moved 40 pairs to SHA-S01.", PENDING, True),
        ("The transfer has been approved.", PENDING, True),
        ("I have created a transfer order for you.", [], True),
        ("已执行调拨，40双已发往SHA-S01。", [], True),
        ("I executed the transfer.", APPROVED, False),
        ("I have submitted the transfer; it is pending approval.", PENDING, False),
        ("Done. Shanghai stores hold 276 pairs of rain boots.", [], False),
        ("I have not executed anything; an approver must decide.", PENDING, False),
        ("上海门店共有雨靴276双。", [], False),
    ],
)
def test_false_claims_are_corrected_and_true_ones_stand(answer, happened, corrected):
    fixed = correction(answer, happened, ASKED)
    assert (fixed is not None) == corrected
    if fixed is not None and happened:
        assert "TO-1" in fixed and happened[0][1] in fixed
