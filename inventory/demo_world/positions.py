"""Today's stock positions: what each store and the ONLINE pool ended the history with, plus DCs.

The world is created, not changed, so these rows are written directly rather than through
``inventory.movements`` (which records changes to an existing world).
"""

from __future__ import annotations

import math
from collections import defaultdict

import numpy as np

from inventory.demo_world.generate import GeneratedWorld
from inventory.demo_world.network import ONLINE_CODE
from inventory.models import LocationKind

#: DCs hold this many days of their region's demand, spread so some run lean.
DC_COVER_DAYS = (14.0, 35.0)
DC_SAFETY_DAYS = 3.0
_STREAM_DC = 99


def position_rows(world: GeneratedWorld) -> list[dict]:
    """One row per (location, SKU) carried; DC rows carry their stores' in-transit as outbound."""
    params = world.params
    skus = world.catalog.skus
    rows: list[dict] = []
    region_rate: dict[str, np.ndarray] = defaultdict(lambda: np.zeros(len(skus)))
    dc_transit_out: dict[str, np.ndarray] = defaultdict(lambda: np.zeros(len(skus), dtype=np.int64))
    dc_of = {loc.code: loc.serving_dc for loc in world.network.locations}
    for code, history in world.histories.items():
        is_store = code != ONLINE_CODE
        safety = np.floor(history.rate_now * params.safety_days).astype(int)
        for i, sku in enumerate(history.sku_index):
            rows.append(
                {
                    "location_code": code,
                    "sku_code": skus[sku].code,
                    "on_hand": int(history.on_hand[i]),
                    "reserved": 0,
                    "in_transit_in": int(history.in_transit_in[i]),
                    "in_transit_out": 0,
                    "safety": int(safety[i]),
                    "min_display": 1 if is_store else 0,
                    "version": 0,
                }
            )
        dc = dc_of[code]
        np.add.at(region_rate[dc], history.sku_index, history.rate_now)
        np.add.at(dc_transit_out[dc], history.sku_index, history.in_transit_in)
    rng = np.random.default_rng([world.spec.seed, _STREAM_DC])
    for loc in world.network.locations:
        if loc.kind != LocationKind.DC:
            continue
        rate = region_rate[loc.code]
        cover = rng.uniform(*DC_COVER_DAYS, size=len(skus))
        on_hand = np.ceil(rate * cover).astype(int)
        for i, sku in enumerate(skus):
            rows.append(
                {
                    "location_code": loc.code,
                    "sku_code": sku.code,
                    "on_hand": int(on_hand[i]),
                    "reserved": 0,
                    "in_transit_in": 0,
                    "in_transit_out": int(dc_transit_out[loc.code][i]),
                    "safety": math.ceil(rate[i] * DC_SAFETY_DAYS),
                    "min_display": 0,
                    "version": 0,
                }
            )
    return rows
