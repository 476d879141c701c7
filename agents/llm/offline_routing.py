"""The offline planner's answers about online-order routing (ship_nodes, explain_order)."""

from __future__ import annotations

from typing import Any


def render_ship_nodes(out: dict[str, Any], lang: str) -> str:
    nodes = out.get("nodes", [])
    city = out.get("city", "")
    if not nodes:
        if lang == "zh":
            return f"{city}没有可以发线上订单的门店（需允许线上销售并开通门店发货）。"
        return (
            f"No store in {city} may ship online orders "
            "(it needs the online entitlement and ship-from-store)."
        )
    rows = []
    for n in nodes:
        name = n["name_zh"] if lang == "zh" else n["name_en"]
        cap = n.get("capacity_per_day")
        load = f"{n['orders_today']}/{cap}" if cap is not None else str(n["orders_today"])
        hours = n.get("lead_time_hours")
        cost = n.get("parcel_cost")
        if lang == "zh":
            rows.append(
                f"- {n['node']} {name}：可售 {n['atp_units']} 件，今日订单 {load}，"
                f"时效约 {hours} 小时，单件包裹成本 ¥{cost}"
            )
        else:
            rows.append(
                f"- {n['node']} {name}: {n['atp_units']} units sellable, orders today {load}, "
                f"≈{hours} h to the customer, one-unit parcel ¥{cost}"
            )
    if lang == "zh":
        head = f"{city}的线上订单可由以下 {len(nodes)} 家门店发货："
        note = (
            "门店只发调拨规则允许离店的库存（陈列量、门店自身近期销量、核心尺码段），"
            "且每店每日有份额上限。"
        )
        if not out.get("ship_from_store", True):
            note = "注意：路由策略当前关闭了门店发货。" + note
    else:
        head = f"{len(nodes)} store(s) may ship {city}'s online orders:"
        note = out.get("note", "")
    return "\n".join([head, *rows, note])


def _option(option: dict[str, Any], lang: str) -> str:
    p = option["parts"]
    nodes = "+".join(option["nodes"])
    if lang == "zh":
        return (
            f"{nodes}：得分 {p['total']:.2f} = 配送 {p['delivery_cost']:.2f} + 超时 "
            f"{p['late_penalty']:.2f} + 库存健康 {p['stock_health']:+.2f} + 拆单 "
            f"{p['split_penalty']:.2f}"
        )
    return (
        f"{nodes}: score {p['total']:.2f} = delivery {p['delivery_cost']:.2f} + late "
        f"{p['late_penalty']:.2f} + stock health {p['stock_health']:+.2f} + split "
        f"{p['split_penalty']:.2f}"
    )


def render_order_why(out: dict[str, Any], lang: str) -> str:
    if lang != "zh":
        return out.get("summary", "")
    nodes = "、".join(out.get("shipped_from", []))
    head = (
        f"订单 {out['channel_order_id']}（{out['order_id']}）发往{out['destination_city']}，"
        f"由 {nodes} 发货"
    )
    if out.get("asked_node_used") is False:
        head += "（不是您问到的节点）"
    lines = [head + "。得分越低越优。"]
    if out.get("chosen"):
        lines.append("选中 " + _option(out["chosen"], "zh"))
    for option in out.get("runners_up", []):
        lines.append("备选 " + _option(option, "zh"))
    return "\n".join(lines)
