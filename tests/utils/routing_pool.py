"""A small two-city network for routing tests: DCs, stores, the online pool, lanes, entitlements.

East: DC-SHA, the region's DC, sits in Suzhou (as many brands' East DCs do; 20 units a size):
a Shanghai parcel from it is a line-haul parcel from another city. Shanghai: SHA-A1 (an A-store
that ships online, 10 a size and no sales: overstock), SHA-A2 (ships online, one unit a size:
all of it protected), SHA-OUT (outlet, never online), ONLINE (the online pool, shipping from
DC-SHA, empty). Beijing: DC-BEI (20) and BEI-B1 (a B-store that does not ship online).
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy.engine import Engine

from inventory.db import session_scope
from inventory.demo_world.network import haversine_km, lane_terms
from inventory.models import ChannelEntitlement, Lane
from tests.utils import factories

NOW = dt.datetime(2015, 7, 1, 9, 0, tzinfo=dt.UTC)
STYLE = "RB001"
SKU = "RB001-BLK-38"
#: code → (kind, city, lat, lon, tier, ship_from_store, online entitled, on_hand a size, safety)
NODES = {
    "DC-SHA": ("dc", "Suzhou", 31.30, 120.62, "A", False, True, 20, 2),
    "SHA-A1": ("store", "Shanghai", 31.22, 121.45, "A", True, True, 10, 0),
    "SHA-A2": ("store", "Shanghai", 31.10, 121.60, "A", True, True, 1, 0),
    "SHA-OUT": ("store", "Shanghai", 31.15, 121.35, "outlet", False, False, 30, 0),
    "ONLINE": ("online", "Shanghai", 31.23, 121.47, "A", True, True, 0, 0),
    "DC-BEI": ("dc", "Beijing", 39.90, 116.40, "A", False, True, 20, 2),
    "BEI-B1": ("store", "Beijing", 39.95, 116.35, "B", False, False, 5, 0),
}


def seed_routing_pool(engine: Engine, *, stock: dict[str, int] | None = None) -> None:
    """The network above; ``stock`` overrides a node's units a size."""
    stock = stock or {}
    with session_scope(engine) as session:
        skus = factories.add_skus(session, factories.add_style(session, STYLE))
        for code, (kind, city, lat, lon, tier, sfs, *_stock) in NODES.items():
            factories.add_location(
                session,
                code,
                kind=kind,
                city=city,
                lat=lat,
                lon=lon,
                tier=tier,
                ship_from_store=sfs,
                serving_dc="DC-SHA" if code == "ONLINE" else None,
            )
        for code, (kind, *_rest, online, units, safety) in NODES.items():
            session.add(ChannelEntitlement(location_code=code, channel="online", allowed=online))
            session.add(
                ChannelEntitlement(location_code=code, channel="store", allowed=kind == "store")
            )
            for sku in skus:
                factories.add_position(
                    session,
                    code,
                    sku.code,
                    on_hand=stock.get(code, units),
                    safety=safety,
                    min_display=1 if kind == "store" else 0,
                )
        for src, (skind, scity, slat, slon, *_a) in NODES.items():
            for dst, (_dkind, dcity, dlat, dlon, *_b) in NODES.items():
                if src == dst or skind == "online":
                    continue
                distance = haversine_km(slat, slon, dlat, dlon)
                hours, per_unit, per_trip = lane_terms(distance, scity == dcity)
                session.add(
                    Lane(
                        source_code=src,
                        dest_code=dst,
                        distance_km=round(distance, 1),
                        lead_time_hours=hours,
                        cost_per_unit=per_unit,
                        cost_per_shipment=per_trip,
                    )
                )
        factories.set_clock(session, NOW)
