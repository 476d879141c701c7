"""The generated world: network, catalog, history, positions and future, on the small world."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlmodel import Session, func, select

from inventory import schema
from inventory.db import make_engine
from inventory.demo_world import WorldNotEmptyError, WorldSpec, build_world
from inventory.demo_world.vocabulary import OTHER_CATEGORIES, RAIN_CATEGORIES
from inventory.models import (
    ChannelEntitlement,
    DailySales,
    FutureDemand,
    Lane,
    Location,
    Sku,
    StockPosition,
    Style,
    WeatherDaily,
    WeatherHourly,
    WorldMeta,
)
from inventory.vocabulary import rain_band

NOW = dt.datetime(2015, 7, 1, 9, 0)


def test_locations_follow_the_code_contract(world_engine: Engine) -> None:
    with Session(world_engine) as session:
        locations = session.exec(select(Location)).all()
    codes = {loc.code for loc in locations}
    assert {"DC-BEI", "DC-SHA", "DC-GUA", "DC-CHE", "DC-SHE", "ONLINE"} <= codes
    stores = [loc for loc in locations if loc.kind == "store"]
    assert all(re.fullmatch(r"[A-Z]{3}-S\d{2}", s.code) for s in stores)
    assert {s.tier for s in stores} == {"A", "B", "outlet"}
    assert all(s.serving_dc == f"DC-{s.code[:3]}" for s in stores)


def test_entitlements_keep_outlets_offline(world_engine: Engine) -> None:
    with Session(world_engine) as session:
        rows = session.exec(
            select(Location, ChannelEntitlement).join(
                ChannelEntitlement, ChannelEntitlement.location_code == Location.code
            )
        ).all()
    online = {loc.code: ent.allowed for loc, ent in rows if ent.channel == "online"}
    for loc, _ in rows:
        if loc.tier == "outlet":
            assert online[loc.code] is False
        if loc.kind == "store" and loc.tier == "A":
            assert online[loc.code] == loc.ship_from_store
    assert online["ONLINE"] is True


def test_lanes_are_faster_and_cheaper_inside_a_city(world_engine: Engine) -> None:
    with Session(world_engine) as session:
        lanes = {(ln.source_code, ln.dest_code): ln for ln in session.exec(select(Lane)).all()}
    intra = lanes[("SHA-S01", "SHA-S02")]
    inter = lanes[("SHA-S01", "BEI-S01")]
    assert intra.lead_time_hours <= 24 < inter.lead_time_hours
    assert intra.cost_per_unit < inter.cost_per_unit
    assert 900 < inter.distance_km < 1200  # Shanghai–Beijing great-circle
    assert not any(src == "ONLINE" for src, _ in lanes)


def test_catalog_has_ordered_size_runs_and_sku_codes(world_engine: Engine) -> None:
    with Session(world_engine) as session:
        styles = session.exec(select(Style)).all()
        skus = session.exec(select(Sku)).all()
    categories = {s.category for s in styles}
    assert categories == RAIN_CATEGORIES | OTHER_CATEGORIES
    by_style = {s.code: s for s in styles}
    for sku in skus:
        style = by_style[sku.style_code]
        assert sku.code == f"{style.code}-{sku.colour}-{sku.size}"
        assert style.size_run[sku.size_index] == sku.size
        assert set(style.core_sizes) <= set(style.size_run)
        assert 0 < style.cost < style.price
        assert style.rain_sensitive == (style.category in RAIN_CATEGORIES)
    shoes = next(s for s in styles if s.category == "rain_boots")
    assert shoes.size_run == [str(n) for n in range(35, 46)]
    assert next(s for s in styles if s.category == "umbrellas").size_run == ["OS"]


def test_history_ends_the_day_before_now_on_real_weather(world_engine: Engine) -> None:
    with Session(world_engine) as session:
        first, last = session.exec(
            select(func.min(DailySales.date), func.max(DailySales.date))
        ).one()
        assert last == NOW.date() - dt.timedelta(days=1)
        assert first == NOW.date() - dt.timedelta(days=150)
        daily = session.exec(select(WeatherDaily).where(WeatherDaily.city == "Guangzhou")).all()
        assert all(d.rain_band == rain_band(d.precipitation_mm) for d in daily)
        hours = session.exec(
            select(func.count()).select_from(WeatherHourly).where(WeatherHourly.city == "Guangzhou")
        ).one()
        assert hours == (150 + 28) * 24


def test_stockouts_happen_but_not_constantly(world_engine: Engine) -> None:
    with Session(world_engine) as session:
        positions = session.exec(
            select(func.count())
            .select_from(StockPosition)
            .join(Location)
            .where(Location.kind.in_(["store", "online"]))
        ).one()
        outs = session.exec(select(func.count()).where(DailySales.stockout)).one()
        promo = session.exec(select(func.count()).where(DailySales.promo)).one()
    rate = outs / (positions * 150)
    assert 0.005 < rate < 0.15
    assert promo > 0


def test_positions_are_imbalanced_so_transfers_make_sense(world_engine: Engine) -> None:
    """Many SKUs are nearly out in one store while another store sits on a surplus."""
    with Session(world_engine) as session:
        rows = session.exec(
            select(StockPosition).join(Location).where(Location.kind == "store")
        ).all()
    atp_by_sku: dict[str, list[int]] = {}
    for row in rows:
        assert row.on_hand >= 0 and row.safety >= 0 and row.min_display == 1
        atp_by_sku.setdefault(row.sku_code, []).append(row.atp)
    imbalanced = [sku for sku, atps in atp_by_sku.items() if min(atps) <= 1 and max(atps) >= 6]
    assert len(imbalanced) >= 10


def test_in_transit_balances_between_dcs_and_their_destinations(world_engine: Engine) -> None:
    with Session(world_engine) as session:
        inbound, outbound = session.exec(
            select(func.sum(StockPosition.in_transit_in), func.sum(StockPosition.in_transit_out))
        ).one()
    assert inbound > 0
    assert inbound == outbound


def test_future_demand_covers_28_days_from_now(world_engine: Engine) -> None:
    with Session(world_engine) as session:
        first, last, units = session.exec(
            select(
                func.min(FutureDemand.date),
                func.max(FutureDemand.date),
                func.sum(FutureDemand.units),
            )
        ).one()
    assert first == NOW.date()
    assert last == NOW.date() + dt.timedelta(days=27)
    assert units > 0


def test_world_meta_records_clock_seed_spec_and_cleaning(world_engine: Engine) -> None:
    with Session(world_engine) as session:
        clock = session.get(WorldMeta, "clock")
        world = session.get(WorldMeta, "world")
    assert clock.value == {"now": "2015-07-01T09:00:00"}
    assert world.value["seed"] == 7
    assert world.value["spec"]["stores"] == 8
    assert world.value["parameters"]["rain_uplift"]["heavy"] == 3.0
    assert world.value["weather_cleaning"]["Beijing"]["precip_bad"] == 1


def test_build_refuses_a_pool_that_already_has_a_world(world_engine: Engine) -> None:
    with pytest.raises(WorldNotEmptyError, match=r"already has \d+ locations"):
        build_world(world_engine, WorldSpec(stores=2, styles=2, history_days=28))


def test_spec_outside_the_weather_record_is_refused_with_the_dates() -> None:
    spec = WorldSpec(now=dt.datetime(2010, 3, 1), history_days=365)
    with pytest.raises(ValueError, match="covers 2010-01-01 to 2015-12-31"):
        spec.check_weather_window()


def test_unknown_city_in_spec_is_named() -> None:
    with pytest.raises(ValueError, match="unknown city 'Paris'"):
        WorldSpec(cities=("Paris",))


def _fingerprint(engine: Engine) -> tuple:
    with engine.connect() as conn:
        return tuple(
            conn.execute(sa.text(sql)).one()
            for sql in (
                "SELECT COUNT(*), SUM(units), SUM(units * price) FROM daily_sales",
                "SELECT COUNT(*), SUM(on_hand), SUM(in_transit_in) FROM stock_position",
                "SELECT COUNT(*), SUM(units) FROM future_demand",
                "SELECT SUM(price), COUNT(*) FROM style",
            )
        )


def _fresh_sqlite(path: Path) -> Engine:
    eng = make_engine(f"sqlite:///{path}")
    schema.upgrade(eng)
    return eng


def test_same_seed_same_world_other_seed_other_world(engine: Engine, tmp_path: Path) -> None:
    """Deterministic on both backends: a tiny world built twice gives identical rows."""
    spec = WorldSpec(stores=3, styles=4, history_days=35, future_days=7, cities=("Chengdu",))
    summary = build_world(engine, spec)
    assert summary.counts["daily_sales"] > 0
    reference = _fresh_sqlite(tmp_path / "reference.sqlite")
    build_world(reference, spec)
    assert _fingerprint(engine) == _fingerprint(reference)

    other = _fresh_sqlite(tmp_path / "other.sqlite")
    build_world(other, spec.model_copy(update={"seed": 8}))
    assert _fingerprint(other) != _fingerprint(reference)
    reference.dispose()
    other.dispose()


def test_hourly_weather_is_tagged_and_stored_in_utc(world_engine: Engine) -> None:
    with Session(world_engine) as session:
        first = session.exec(
            select(WeatherHourly)
            .where(WeatherHourly.city == "Beijing")
            .order_by(WeatherHourly.ts)
            .limit(1)
        ).one()
        tags = session.exec(select(WeatherHourly.quality).distinct()).all()
    # 2015-02-01 00:00 in Beijing (UTC+8) is 16:00 UTC the day before.
    assert first.ts.replace(tzinfo=None) == dt.datetime(2015, 1, 31, 16, 0)
    allowed = {"precip", "temp", "humidity"}
    for tag in tags:
        if tag != "ok":
            for part in tag.split(";"):
                field, problem = part.rsplit("_", 1)
                assert field in allowed and problem in {"missing", "bad"}
    assert "ok" in tags and len(tags) > 1
