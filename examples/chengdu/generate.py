"""Write the example retailer's CSV files (run once; the output is committed).

锦里鞋服 Jinli Footwear & Rainwear: a small Chengdu retailer, *not* the generated demo world —
its own region (川渝), store codes, categories (ponchos are not a demo category) and a policy.
Its 90 days of sales react to Chengdu's **real** rain of summer 2015 (the UCI weather shipped in
the package, CC BY 4.0): rain gear sells 1.3–4× on wet days, other shoes and tees lose footfall.
There is no weekday effect, so the history can be moved in time as a block (see README.md).

    python examples/chengdu/generate.py    # seeded: the same files every time
"""

from __future__ import annotations

import csv
import datetime as dt
from pathlib import Path

import numpy as np

from inventory.demo_world.weather import load_city_weather

HERE = Path(__file__).resolve().parent
SEED = 20150829
FIRST_DAY = dt.date(2015, 6, 1)
DAYS = 90  # through 2015-08-29: 13 wet days (≥ 10 mm), 4 of them 大雨 and a 100.8 mm 暴雨

CITIES = [
    {
        "code": "Chengdu",
        "name_en": "Chengdu",
        "name_zh": "成都",
        "region": "Sichuan",
        "region_name_zh": "川渝",
        "lat": 30.5728,
        "lon": 104.0668,
        "weather_key": "Chengdu",
    }
]

CATEGORIES = [
    ("rain_boots", "rain boots", "雨靴", "rain boot|wellies|雨鞋", True),
    ("umbrellas", "umbrellas", "雨伞", "umbrella|伞", True),
    ("ponchos", "rain ponchos", "雨披", "poncho|rain cape|斗篷雨衣", True),
    ("sneakers", "sneakers", "运动鞋", "sneaker|trainers|球鞋", False),
    ("tshirts", "t-shirts", "T恤", "t-shirt|tee shirt|短袖", False),
]

DC = ("JL-DC01", "dc", "Shuangliu DC", "双流仓", 30.5785, 103.9471, "A", False)
STORES = [
    # code, name_en, name_zh, lat, lon, tier, ship_from_store, footfall
    ("JL-CXL", "Chunxi Road", "春熙路店", 30.6570, 104.0810, "A", True, 1.5),
    ("JL-KZX", "Kuanzhai Alley", "宽窄巷子店", 30.6636, 104.0560, "A", False, 1.2),
    ("JL-TFG", "Tianfu Square", "天府广场店", 30.6574, 104.0659, "B", False, 1.0),
    ("JL-GXN", "Hi-Tech Zone", "高新店", 30.5780, 104.0640, "B", False, 0.9),
    ("JL-WHC", "Wuhou Shrine", "武侯祠店", 30.6430, 104.0480, "B", False, 0.8),
    ("JL-OUT", "Outlet Shuangliu", "双流奥莱店", 30.5800, 103.9300, "outlet", False, 0.6),
]

STYLES = [
    # style, category, name_en, name_zh, price, cost, colours, sizes, core sizes, base/day
    (
        "JB100",
        "rain_boots",
        "Jinli rain boot",
        "锦里雨靴",
        269,
        105,
        ["BLK", "YEL"],
        ["35", "36", "37", "38", "39", "40"],
        ["36", "37", "38", "39"],
        0.9,
    ),
    ("JU200", "umbrellas", "Folding umbrella", "折叠伞", 89, 30, ["NVY"], ["F"], ["F"], 1.4),
    (
        "JP300",
        "ponchos",
        "Cycling poncho",
        "骑行雨披",
        129,
        45,
        ["GRN"],
        ["M", "L", "XL"],
        ["L"],
        0.7,
    ),
    (
        "JS400",
        "sneakers",
        "Canvas sneaker",
        "帆布鞋",
        199,
        80,
        ["WHT"],
        ["36", "37", "38", "39", "40", "41"],
        ["37", "38", "39", "40"],
        0.8,
    ),
    (
        "JT500",
        "tshirts",
        "Panda tee",
        "熊猫T恤",
        99,
        32,
        ["WHT"],
        ["S", "M", "L", "XL"],
        ["M", "L"],
        1.0,
    ),
]

#: Demand multiplier by the day's rain (CMA bands), for rain gear and for everything else.
RAIN_UPLIFT = {"none": 1.0, "light": 1.3, "moderate": 2.0, "heavy": 3.0, "rainstorm": 4.0}
DRY_GOODS_ON_WET = {"none": 1.0, "light": 0.95, "moderate": 0.8, "heavy": 0.7, "rainstorm": 0.6}


def size_shares(sizes: list[str]) -> np.ndarray:
    """A bell over the size run: middle sizes sell most."""
    x = np.arange(len(sizes)) - (len(sizes) - 1) / 2
    shares = np.exp(-(x**2) / 4.0)
    return shares / shares.sum()


def write(name: str, header: list[str], rows: list[list[object]]) -> None:
    with (HERE / name).open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(header)
        writer.writerows(rows)
    print(f"{name}: {len(rows)} rows")


def main() -> None:
    rng = np.random.default_rng(SEED)
    last_day = FIRST_DAY + dt.timedelta(days=DAYS - 1)
    weather = load_city_weather("Chengdu").daily
    weather = weather[(weather["date"] >= FIRST_DAY) & (weather["date"] <= last_day)]
    assert len(weather) == DAYS, "the real weather has a gap in the chosen window"
    rain_sensitive = {code: flag for code, *_, flag in CATEGORIES}

    write("cities.csv", list(CITIES[0]), [list(c.values()) for c in CITIES])
    write(
        "categories.csv",
        ["code", "name_en", "name_zh", "synonyms", "rain_sensitive"],
        [[c, en, zh, syn, str(rain).lower()] for c, en, zh, syn, rain in CATEGORIES],
    )
    header = ["code", "kind", "name_en", "name_zh", "city", "lat", "lon", "tier"]
    header += ["ship_from_store", "serving_dc"]
    locations = [[*DC[:4], "成都", *DC[4:7], str(DC[7]).lower(), ""]]
    for code, en, zh, lat, lon, tier, sfs, _ in STORES:
        locations.append(
            [code, "store", en, zh, "Chengdu", lat, lon, tier, str(sfs).lower(), DC[0]]
        )
    write("locations.csv", header, locations)

    lanes = []
    for code, *_ in STORES:
        lanes.append([DC[0], code, 10, 1.5, 60])
    for a, *_ in STORES:
        for b, *_ in STORES:
            if a != b and "OUT" not in b:  # the outlet only sends (clearance), never receives
                lanes.append([a, b, 6, 2.0, 40])
    write(
        "lanes.csv",
        ["source", "dest", "lead_time_hours", "cost_per_unit", "cost_per_shipment"],
        lanes,
    )
    write("entitlements.csv", ["location", "channel", "allowed"], [["JL-OUT", "online", "false"]])

    skus, stock, sales = [], [], []
    for style, category, en, zh, price, cost, colours, sizes, core, _ in STYLES:
        for colour in colours:
            for size in sizes:
                skus.append(
                    [
                        f"{style}-{colour}-{size}",
                        style,
                        colour,
                        size,
                        category,
                        en,
                        zh,
                        "SS15" if category != "umbrellas" else "core",
                        price,
                        cost,
                        str(size in core).lower(),
                    ]
                )
    write(
        "skus.csv",
        [
            "sku",
            "style",
            "colour",
            "size",
            "category",
            "style_name_en",
            "style_name_zh",
            "season",
            "price",
            "cost",
            "core_size",
        ],
        skus,
    )

    bands = weather["rain_band"].to_numpy()
    for style, category, _en, _zh, price, _cost, colours, sizes, _core, base in STYLES:
        shares = size_shares(sizes) / len(colours)
        uplift = np.array(
            [(RAIN_UPLIFT if rain_sensitive[category] else DRY_GOODS_ON_WET)[b] for b in bands]
        )
        for code, *_, tier, _sfs, footfall in STORES:
            level = base * footfall * rng.lognormal(0.0, 0.15)
            discount = 0.7 if tier == "outlet" else 1.0
            for colour in colours:
                for size, share in zip(sizes, shares, strict=True):
                    sku = f"{style}-{colour}-{size}"
                    units = rng.poisson(level * share * uplift)
                    for day, sold in enumerate(units):
                        date = FIRST_DAY + dt.timedelta(days=day)
                        sales.append(
                            [code, sku, date.isoformat(), int(sold), round(price * discount, 2)]
                        )
                    # Stock now: about a week of dry-day sales; the busiest stores run thin on
                    # rain gear, so a storm leaves holes the DC can fill.
                    cover = 4 if rain_sensitive[category] and footfall >= 1.2 else 7
                    stock.append([code, sku, int(rng.poisson(level * share * cover)) + 1, 0, 1])
        for colour in colours:
            for size in sizes:
                dc_units = 60 if rain_sensitive[category] else 30
                stock.append([DC[0], f"{style}-{colour}-{size}", dc_units, 0, 0])
    write("stock.csv", ["location", "sku", "on_hand", "safety", "min_display"], stock)
    write("sales.csv", ["location", "sku", "date", "units", "price"], sales)
    write(
        "weather.csv",
        [
            "city",
            "date",
            "precipitation_mm",
            "max_hourly_mm",
            "temp_mean_c",
            "temp_min_c",
            "temp_max_c",
        ],
        [
            [
                "Chengdu",
                row.date.isoformat(),
                round(row.precipitation_mm, 1),
                round(row.max_hourly_mm, 1),
                _round(row.temp_mean_c),
                _round(row.temp_min_c),
                _round(row.temp_max_c),
            ]
            for row in weather.itertuples()
        ],
    )


def _round(value: float) -> object:
    return "" if value != value else round(value, 1)  # NaN → empty cell


if __name__ == "__main__":
    main()
