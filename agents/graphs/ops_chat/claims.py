"""A model's final answer that claims an action no tool performed is replaced by the truth.

"Done, I executed the transfer" after no tool call is the most harmful thing a chat assistant can
say: the user walks away believing stock moved. The claim is checked against the pool (the orders
this turn's proposal calls actually created, and their status now), and when nothing of the kind
happened the answer says what did.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from langchain_core.messages import BaseMessage
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from inventory.models import PromoProposal, TransferOrder

_CLAIM = re.compile(
    r"\b(i|we)\s*(have|'ve)?\s*(executed|transferred|moved|shipped|dispatched|approved|applied|"
    r"completed|placed|created|submitted|marked down)\b|\b(done|executed|completed)\b[.!,]|"
    r"\b(transfer|order|markdown|shipment)s?\s+(has|have)\s+been\s+"
    r"(executed|completed|dispatched|approved|applied|shipped|made)|"
    r"已(经)?(执行|完成|调拨|发货|转移|批准|下单|降价|提交)|调拨(已|成功)|执行成功",
    re.IGNORECASE,
)
#: Order states in which something really was carried out (or cleared to be).
ACTED = {"approved", "dispatched", "received", "applied"}


def claims_action(text: str) -> bool:
    return bool(_CLAIM.search(text))


def turn_subjects(proposals: Sequence[dict], call_ids: set[str]) -> list[str]:
    """Subject ids of the proposals this turn's calls made."""
    return [p["subject_id"] for p in proposals if p.get("origin") in call_ids]


def what_happened(engine: Engine, subjects: list[str]) -> list[tuple[str, str, str]]:
    """(id, status, description) of each subject, read from the pool now."""
    if not subjects:
        return []
    with Session(engine) as session:
        orders = session.exec(select(TransferOrder).where(col(TransferOrder.id).in_(subjects)))
        promos = session.exec(select(PromoProposal).where(col(PromoProposal.id).in_(subjects)))
        found = [(o.id, o.status, f"{o.source_code} → {o.dest_code}") for o in orders] + [
            (p.id, p.status, f"markdown {p.style_code}") for p in promos
        ]
    return sorted(found)


def correction(
    claim: str, happened: list[tuple[str, str, str]], messages: Sequence[BaseMessage]
) -> str | None:
    """The corrected answer, or None when the claim stands (something really was done)."""
    if not claims_action(claim) or any(status in ACTED for _, status, _ in happened):
        return None
    zh = any("\u4e00" <= ch <= "\u9fff" for m in messages[-3:] for ch in m.text)
    if zh:
        head = "模型声称已执行操作，但本轮没有任何工具执行过操作，因此没有执行任何变更。"
        rows = [f"- {sid}（{desc}）：{status}" for sid, status, desc in happened]
        tail = "实际情况：" if rows else "本轮没有创建任何调拨或降价建议。"
    else:
        head = (
            "The model claimed an action, but no tool performed one in this turn, so nothing "
            "was executed."
        )
        rows = [f"- {sid} ({desc}): {status}" for sid, status, desc in happened]
        tail = "What actually happened:" if rows else "No transfer or markdown was proposed."
    return "\n".join([head, tail, *rows])
