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

#: Claims that something was carried out: true only if an order of this turn was.
_EXECUTED = re.compile(
    r"\b(i|we)\s*(have|'ve)?\s*(just\s+)?(executed|transferred|moved|shipped|dispatched|"
    r"approved|applied|marked down)\b|"
    r"\b(transfer|order|markdown|shipment|stock)s?\s+(has|have)\s+(now\s+)?been\s+"
    r"(executed|completed|dispatched|approved|applied|shipped|moved|transferred)|"
    r"已(经)?(执行|调拨|发货|转移|批准|降价)|(调拨|执行)成功",
    re.IGNORECASE,
)
#: Claims that something was proposed: true only if this turn proposed anything.
_PROPOSED = re.compile(
    r"\b(i|we)\s*(have|'ve)?\s*(just\s+)?(created|submitted|placed|proposed|raised)\b|"
    r"已(经)?(提交|创建|下单|发起)",
    re.IGNORECASE,
)
#: Order states in which something really was carried out (or cleared to be).
ACTED = {"approved", "dispatched", "received", "applied"}


def claims_action(text: str) -> bool:
    return bool(_EXECUTED.search(text) or _PROPOSED.search(text))


def _false(text: str, happened: list[tuple[str, str, str]]) -> bool:
    if _EXECUTED.search(text) and not any(status in ACTED for _, status, _ in happened):
        return True
    return bool(_PROPOSED.search(text)) and not happened


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
    if not _false(claim, happened):
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
