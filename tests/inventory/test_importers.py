"""CSV importers: good files land whole, bad files are rejected whole with row-level errors."""

from __future__ import annotations

import datetime as dt
import textwrap
from pathlib import Path

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import Session, func, select

from inventory.importers import ImportRejected, import_file
from inventory.models import DailySales, Location, Sku, StockMovement, StockPosition, Style

CITIES = """\
code,name_en,name_zh,region,region_name_zh,lat,lon,weather_key
Shanghai,Shanghai,上海,East,华东,31.23,121.47,
Beijing,Beijing,北京,North,华北,39.9,116.4,
"""

CATEGORIES = """\
code,name_en,name_zh,synonyms,rain_sensitive
rain_boots,rain boots,雨靴,rain boot|雨鞋,true
tshirts,t-shirts,T恤,tee,false
"""

LOCATIONS = """\
code,kind,name_en,name_zh,city,region,lat,lon,tier,ship_from_store,serving_dc
SHA-S01,store,Shanghai Nanjing Rd,上海南京路店,上海,,31.23,121.47,A,yes,DC-SHA
DC-SHA,dc,Shanghai DC,上海仓,Shanghai,East,31.1,121.3,,,
BEI-S01,store,Beijing Wangfujing,北京王府井店,Beijing,,39.91,116.41,b,false,
"""

SKUS = """\
sku,style,colour,size,category,style_name_en,style_name_zh,season,season_end,price,cost,core_size
RB001-BLK-37,RB001,BLK,37,rain_boots,Rain boot,雨靴,SS15,2015-09-30,299,120,false
RB001-BLK-38,RB001,BLK,38,rain_boots,Rain boot,雨靴,SS15,2015-09-30,299,120,true
RB001-RED-37,RB001,RED,37,rain_boots,Rain boot,雨靴,SS15,2015-09-30,299,120,false
TS001-WHT-M,TS001,WHT,M,T恤,Tee,T恤,core,,99,30,
"""


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def count(engine: Engine, model: type) -> int:
    with Session(engine) as session:
        return session.exec(select(func.count()).select_from(model)).one()


def with_vocabulary(engine: Engine, tmp_path: Path) -> Engine:
    """The retailer's cities and categories, which every later file refers to."""
    import_file(engine, "cities", write(tmp_path, "cities.csv", CITIES))
    import_file(engine, "categories", write(tmp_path, "categories.csv", CATEGORIES))
    return engine


@pytest.fixture
def catalogue(engine: Engine, tmp_path: Path) -> Engine:
    with_vocabulary(engine, tmp_path)
    import_file(engine, "locations", write(tmp_path, "locations.csv", LOCATIONS))
    import_file(engine, "skus", write(tmp_path, "skus.csv", SKUS))
    return engine


def test_locations_and_skus_land_with_derived_fields(catalogue: Engine) -> None:
    with Session(catalogue) as session:
        store = session.get(Location, "SHA-S01")
        assert store is not None
        assert (store.city, store.region, store.serving_dc, store.ship_from_store) == (
            "Shanghai",
            "East",
            "DC-SHA",
            True,
        )
        assert session.get(Location, "BEI-S01").tier == "B"  # type: ignore[union-attr]
        boots = session.get(Style, "RB001")
        assert boots is not None
        assert (boots.size_run, boots.core_sizes, boots.rain_sensitive) == (
            ["37", "38"],
            ["38"],
            True,
        )
        tee = session.get(Style, "TS001")
        assert (tee.category, tee.rain_sensitive) == ("tshirts", False)  # type: ignore[union-attr]
        assert session.get(Sku, "RB001-BLK-38").size_index == 1  # type: ignore[union-attr]


def test_reimport_is_reported_unchanged(catalogue: Engine, tmp_path: Path) -> None:
    report = import_file(catalogue, "skus", write(tmp_path, "skus.csv", SKUS))
    assert (report.rows, report.inserted, report.unchanged) == (4, 0, 4)


def test_bad_location_file_is_rejected_whole_with_every_row_error(
    engine: Engine, tmp_path: Path
) -> None:
    with_vocabulary(engine, tmp_path)
    bad = write(
        tmp_path,
        "locations.csv",
        """\
        code,kind,name_en,name_zh,city,region,lat,lon,serving_dc
        GOOD-1,store,Good,好,Shanghai,,31,121,
        BAD-1,shop,Bad,坏,Shanghai,,31,121,
        BAD-2,store,Bad,坏,Hangzhou,,31,121,
        BAD-3,store,Bad,坏,Shanghai,,31,121,DC-NOPE
        GOOD-1,store,Again,再,Shanghai,,31,121,
        BAD-4,store,Bad,坏,Shanghai,North,95,121,
        """,
    )
    with pytest.raises(ImportRejected) as rejected:
        import_file(engine, "locations", bad)
    found = {(e.line, e.column) for e in rejected.value.errors}
    expected = {(3, "kind"), (4, "city"), (5, "serving_dc"), (6, "code"), (7, "region"), (7, "lat")}
    assert found == expected
    assert all(e.file == "locations.csv" for e in rejected.value.errors)
    city_error = next(e for e in rejected.value.errors if e.column == "city")
    assert city_error.value == "Hangzhou" and "unknown city" in city_error.reason
    assert "locations.csv:4: column 'city' = 'Hangzhou'" in str(rejected.value)
    assert count(engine, Location) == 0


def test_header_problems_are_reported_on_line_1(sqlite_engine: Engine, tmp_path: Path) -> None:
    bad = write(tmp_path, "sales.csv", "location,sku,dat,units,price\nA,B,2015-01-01,1,1\n")
    with pytest.raises(ImportRejected) as rejected:
        import_file(sqlite_engine, "sales", bad)
    problems = {(e.line, e.column, e.reason.split(";")[0]) for e in rejected.value.errors}
    assert (1, "date", "required column is missing") in problems
    assert (1, "dat", "unknown column") in problems


def test_inconsistent_style_and_duplicate_sku_are_rejected(
    sqlite_engine: Engine, tmp_path: Path
) -> None:
    with_vocabulary(sqlite_engine, tmp_path)
    bad = write(
        tmp_path,
        "skus.csv",
        """\
        sku,style,colour,size,category,style_name_en,style_name_zh,season,price,cost
        RB002-BLK-37,RB002,BLK,37,rain_boots,Boot,靴,SS15,299,120
        RB002-BLK-38,RB002,BLK,38,rain_boots,Boot,靴,SS15,259,120
        RB002-BLK-38,RB002,BLK,39,rain_boots,Boot,靴,SS15,299,120
        RB003-BLK-37,RB003,BLK,37,wellies,Boot,靴,SS15,99,120
        """,
    )
    with pytest.raises(ImportRejected) as rejected:
        import_file(sqlite_engine, "skus", bad)
    found = {(e.line, e.column) for e in rejected.value.errors}
    assert found == {(3, "price"), (4, "sku"), (5, "category"), (5, "cost")}
    assert any(e.line == 5 and "exceeds price" in e.reason for e in rejected.value.errors)
    assert count(sqlite_engine, Style) == 0 and count(sqlite_engine, Sku) == 0


def test_stock_import_books_differences_as_movements(catalogue: Engine, tmp_path: Path) -> None:
    first = write(
        tmp_path,
        "stock.csv",
        """\
        location,sku,on_hand,safety,min_display
        SHA-S01,RB001-BLK-38,12,2,1
        DC-SHA,RB001-BLK-38,300,,
        """,
    )
    report = import_file(catalogue, "stock", first, actor="ops:li")
    assert (report.inserted, report.movements) == (2, 3)
    recount = write(tmp_path, "recount.csv", "location,sku,on_hand\nSHA-S01,RB001-BLK-38,10\n")
    report = import_file(catalogue, "stock", recount, actor="ops:li")
    assert (report.updated, report.movements) == (1, 1)
    with Session(catalogue) as session:
        pos = session.exec(
            select(StockPosition).where(StockPosition.location_code == "SHA-S01")
        ).one()
        assert (pos.on_hand, pos.safety, pos.min_display, pos.atp) == (10, 2, 1, 8)
        moves = session.exec(select(StockMovement).order_by(StockMovement.id)).all()
    assert [(m.kind, m.qty) for m in moves if m.location_code == "SHA-S01"] == [
        ("adjust", 12),
        ("safety", 2),
        ("adjust", -2),
    ]
    assert all(m.actor == "ops:li" and "stock import" in m.reason for m in moves)


def test_stock_import_refused_below_reserved_writes_nothing(
    catalogue: Engine, tmp_path: Path
) -> None:
    from inventory import movements
    from inventory.db import session_scope

    import_file(
        catalogue,
        "stock",
        write(tmp_path, "s.csv", "location,sku,on_hand\nDC-SHA,RB001-BLK-37,10\n"),
    )
    with session_scope(catalogue) as session:
        movements.reserve(
            session, "DC-SHA", "RB001-BLK-37", 6, ref="o", idempotency_key="k", actor="t"
        )
    bad = write(
        tmp_path,
        "count.csv",
        "location,sku,on_hand\nDC-SHA,RB001-RED-37,5\nDC-SHA,RB001-BLK-37,4\nNOPE,RB001-BLK-37,1\n",
    )
    with pytest.raises(ImportRejected) as rejected:
        import_file(catalogue, "stock", bad)
    assert [(e.line, e.column) for e in rejected.value.errors] == [(4, "location")]
    fixable = write(
        tmp_path,
        "count.csv",
        "location,sku,on_hand\nDC-SHA,RB001-RED-37,5\nDC-SHA,RB001-BLK-37,4\n",
    )
    with pytest.raises(ImportRejected) as rejected:
        import_file(catalogue, "stock", fixable)
    (error,) = rejected.value.errors
    assert (error.line, error.column) == (3, "on_hand") and "below reserved" in error.reason
    assert count(catalogue, StockPosition) == 1  # the RED position of line 2 was rolled back


def test_sales_import_upserts_days(catalogue: Engine, tmp_path: Path) -> None:
    sales = write(
        tmp_path,
        "sales.csv",
        """\
        location,sku,date,units,price,promo,stockout
        SHA-S01,RB001-BLK-38,2015-06-29,3,299,,
        SHA-S01,RB001-BLK-38,2015-06-30,5,239.2,true,1
        """,
    )
    report = import_file(catalogue, "sales", sales)
    assert (report.inserted, report.updated) == (2, 0)
    fix = write(
        tmp_path,
        "fix.csv",
        "location,sku,date,units,price\nSHA-S01,RB001-BLK-38,2015-06-30,4,299\n",
    )
    report = import_file(catalogue, "sales", fix)
    assert (report.inserted, report.updated) == (0, 1)
    with Session(catalogue) as session:
        day = session.get(DailySales, ("SHA-S01", "RB001-BLK-38", dt.date(2015, 6, 30)))
    assert day is not None and (day.units, day.promo, day.stockout) == (4, False, False)


def test_sales_rows_with_bad_values_name_line_and_column(catalogue: Engine, tmp_path: Path) -> None:
    bad = write(
        tmp_path,
        "sales.csv",
        """\
        location,sku,date,units,price
        SHA-S01,RB001-BLK-38,2015-06-31,3,299
        SHA-S01,RB001-BLK-38,2015-06-30,-1,299
        SHA-S01,RB001-BLK-38,2015-06-30,2,299
        SHA-S01,RB001-BLK-99,2015-06-30,2
        """,
    )
    with pytest.raises(ImportRejected) as rejected:
        import_file(catalogue, "sales", bad)
    found = [(e.line, e.column) for e in rejected.value.errors]
    assert found == [(2, "date"), (3, "units"), (5, None)]
    assert count(catalogue, DailySales) == 0


def test_numbers_beyond_what_a_position_can_hold_are_row_errors(
    catalogue: Engine, tmp_path: Path
) -> None:
    bad = write(
        tmp_path,
        "stock.csv",
        """\
        location,sku,on_hand,safety
        DC-SHA,RB001-BLK-37,9223372036854775807,
        DC-SHA,RB001-BLK-38,12345678901234567890,
        DC-SHA,RB001-RED-37,5,99999999999999999999999
        DC-SHA,TS001-WHT-M,100000000,
        """,
    )
    with pytest.raises(ImportRejected) as rejected:
        import_file(catalogue, "stock", bad)
    found = [(e.line, e.column) for e in rejected.value.errors]
    assert found == [(2, "on_hand"), (3, "on_hand"), (4, "safety")]
    assert all("less than or equal" in e.reason for e in rejected.value.errors)
    assert count(catalogue, StockPosition) == 0
    sales = write(
        tmp_path,
        "sales.csv",
        "location,sku,date,units,price\nSHA-S01,RB001-BLK-38,2015-06-30,99999999999999999999,1e30\n",
    )
    with pytest.raises(ImportRejected) as rejected:
        import_file(catalogue, "sales", sales)
    assert [(e.line, e.column) for e in rejected.value.errors] == [(2, "units"), (2, "price")]


def test_promo_plans_import_and_a_reimport_replaces_the_plan(
    catalogue: Engine, tmp_path: Path
) -> None:
    """The retailer's promo calendar: a style everywhere or at one location, its days, depth
    and when it was planned (the forecast reads only plans made before its clock)."""
    from inventory.models import PromoPlan

    plans = """\
    style,location,start,end,depth,planned_at
    rb001,,2015-07-06,2015-07-12,0.3,2015-06-10
    RB001,SHA-S01,2015-07-20,2015-07-26,0.2,2015-06-20T09:00:00+08:00
    """
    report = import_file(catalogue, "promo_plans", write(tmp_path, "promo_plans.csv", plans))
    assert (report.inserted, report.updated) == (2, 0)
    again = plans.replace("0.3,", "0.4,")
    report = import_file(catalogue, "promo_plans", write(tmp_path, "promo_plans.csv", again))
    assert (report.inserted, report.updated) == (0, 2)
    with Session(catalogue) as session:
        rows = session.exec(select(PromoPlan).order_by(PromoPlan.start)).all()
    assert [(r.style_code, r.location_code, r.depth) for r in rows] == [
        ("RB001", None, 0.4),
        ("RB001", "SHA-S01", 0.2),
    ]
    assert rows[1].planned_at.replace(tzinfo=None) == dt.datetime(2015, 6, 20, 1, 0)


def test_promo_plans_with_unknown_codes_or_bad_days_are_rejected_whole(
    catalogue: Engine, tmp_path: Path
) -> None:
    from inventory.models import PromoPlan

    bad = """\
    style,location,start,end,depth,planned_at
    XX999,,2015-07-06,2015-07-12,0.3,2015-06-10
    RB001,NOPE,2015-07-06,2015-07-12,0.3,2015-06-10
    RB001,,2015-07-12,2015-07-06,0.3,2015-06-10
    RB001,,2015-08-01,2015-08-02,1.5,2015-06-10
    """
    with pytest.raises(ImportRejected) as caught:
        import_file(catalogue, "promo_plans", write(tmp_path, "promo_plans.csv", bad))
    lines = sorted({(e.line, e.column) for e in caught.value.errors})
    assert [line for line, _ in lines] == [2, 3, 4, 5]
    assert count(catalogue, PromoPlan) == 0
