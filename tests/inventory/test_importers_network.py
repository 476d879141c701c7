"""Importers of the retailer's network and history: cities, categories, lanes, entitlements,
weather — good files land whole, bad ones are rejected whole with row-level errors."""

from __future__ import annotations

import datetime as dt
import textwrap
from pathlib import Path

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import Session, func, select

from inventory.importers import ImportRejected, import_file
from inventory.models import ChannelEntitlement, City, Lane, Location, Region, WeatherDaily
from inventory.vocabulary import vocabulary_of

CITIES = """\
code,name_en,name_zh,region,region_name_zh,lat,lon
Hangzhou,Hangzhou,杭州,Zhejiang,浙江,30.27,120.16
Ningbo,Ningbo,宁波,Zhejiang,,29.87,121.55
"""

CATEGORIES = """\
code,name_en,name_zh,synonyms,rain_sensitive
Ski Jackets,ski jackets,滑雪服,ski coat|雪服,false
umbrellas,umbrellas,雨伞,umbrella,yes
"""

LOCATIONS = """\
code,kind,name_en,name_zh,city,lat,lon
HZ-DC,dc,Hangzhou DC,杭州仓,杭州,30.3,120.1
HZ-S01,store,West Lake,西湖店,Hangzhou,30.25,120.15
NB-S01,store,Tianyi Square,天一广场店,ningbo,29.87,121.55
"""


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def count(engine: Engine, model: type) -> int:
    with Session(engine) as session:
        return session.exec(select(func.count()).select_from(model)).one()


@pytest.fixture
def network(engine: Engine, tmp_path: Path) -> Engine:
    import_file(engine, "cities", write(tmp_path, "cities.csv", CITIES))
    import_file(engine, "categories", write(tmp_path, "categories.csv", CATEGORIES))
    import_file(engine, "locations", write(tmp_path, "locations.csv", LOCATIONS))
    return engine


def test_a_retailer_outside_the_demo_cities_is_served(network: Engine) -> None:
    """Hangzhou and Ningbo are no demo city; once imported they are the pool's vocabulary."""
    terms = vocabulary_of(network)
    assert terms.resolve_city("杭州") == "Hangzhou"
    assert terms.city_region == {"Hangzhou": "Zhejiang", "Ningbo": "Zhejiang"}
    assert terms.region_zh("Zhejiang") == "浙江"
    assert terms.resolve_category("Ski Coat") == "ski_jackets"  # code normalised, synonym read
    assert terms.rain_categories == {"umbrellas"}
    with Session(network) as session:
        assert session.get(Location, "NB-S01").region == "Zhejiang"  # type: ignore[union-attr]
        assert session.get(City, "Hangzhou").weather_key == "Hangzhou"  # type: ignore[union-attr]


def test_cities_with_an_undefined_region_are_rejected_whole(engine: Engine, tmp_path: Path) -> None:
    bad = write(
        tmp_path,
        "cities.csv",
        """\
        code,name_en,name_zh,region,lat,lon
        Wuhan,Wuhan,武汉,Central,30.59,114.3
        Wuhan,Wuhan,武汉,Central,30.59,114.3
        Xian,Xi'an,西安,Northwest,95,108.9
        """,
    )
    with pytest.raises(ImportRejected) as rejected:
        import_file(engine, "cities", bad)
    found = {(e.line, e.column) for e in rejected.value.errors}
    assert found == {(2, "region"), (3, "region"), (3, None), (4, "lat")}
    assert count(engine, City) == 0 and count(engine, Region) == 0


def test_lanes_land_with_a_computed_distance_and_update_in_place(
    network: Engine, tmp_path: Path
) -> None:
    lanes = "source,dest,lead_time_hours,cost_per_unit,cost_per_shipment\n"
    report = import_file(
        network,
        "lanes",
        write(tmp_path, "lanes.csv", lanes + "HZ-DC,HZ-S01,8,1.2,50\nhz-dc,NB-S01,20,2.5,120\n"),
    )
    assert (report.inserted, report.updated) == (2, 0)
    again = import_file(
        network, "lanes", write(tmp_path, "lanes.csv", lanes + "HZ-DC,NB-S01,18,2.5,120\n")
    )
    assert (again.inserted, again.updated) == (0, 1)
    with Session(network) as session:
        lane = session.exec(select(Lane).where(Lane.dest_code == "NB-S01")).one()
    assert lane.lead_time_hours == 18
    assert 130 < lane.distance_km < 160  # Hangzhou → Ningbo as the crow flies


def test_bad_lanes_are_rejected_whole(network: Engine, tmp_path: Path) -> None:
    bad = write(
        tmp_path,
        "lanes.csv",
        """\
        source,dest,lead_time_hours,cost_per_unit,cost_per_shipment
        HZ-DC,HZ-S01,8,1.2,50
        HZ-DC,SH-S99,8,1.2,50
        HZ-DC,HZ-DC,8,1.2,50
        HZ-DC,NB-S01,0,-1,50
        HZ-DC,HZ-S01,9,1.2,50
        """,
    )
    with pytest.raises(ImportRejected) as rejected:
        import_file(network, "lanes", bad)
    found = {(e.line, e.column) for e in rejected.value.errors}
    assert found == {
        (3, "dest"),
        (4, None),
        (5, "lead_time_hours"),
        (5, "cost_per_unit"),
        (6, None),
    }
    assert count(network, Lane) == 0


def test_entitlements_keep_an_outlet_offline(network: Engine, tmp_path: Path) -> None:
    path = write(tmp_path, "entitlements.csv", "location,channel,allowed\nNB-S01,Online,false\n")
    import_file(network, "entitlements", path)
    with Session(network) as session:
        (row,) = session.exec(select(ChannelEntitlement)).all()
    assert (row.location_code, row.channel, row.allowed) == ("NB-S01", "online", False)
    bad = write(tmp_path, "entitlements.csv", "location,channel,allowed\nNB-S01,tmall,false\n")
    with pytest.raises(ImportRejected, match="channel"):
        import_file(network, "entitlements", bad)


def test_weather_days_get_their_band_and_can_be_shifted_to_end_on_a_day(
    network: Engine, tmp_path: Path
) -> None:
    weather = write(
        tmp_path,
        "weather.csv",
        """\
        city,date,precipitation_mm,temp_mean_c
        杭州,2015-06-29,62.5,24.1
        Hangzhou,2015-06-30,0,
        """,
    )
    report = import_file(network, "weather", weather, shift_to=dt.date(2026, 12, 1))
    assert (report.rows, report.inserted) == (2, 2)
    with Session(network) as session:
        days = session.exec(select(WeatherDaily).order_by(WeatherDaily.date)).all()
    assert [(d.city, d.date, d.rain_band) for d in days] == [
        ("Hangzhou", dt.date(2026, 11, 30), "rainstorm"),
        ("Hangzhou", dt.date(2026, 12, 1), "none"),
    ]
    assert import_file(network, "weather", weather, shift_to=dt.date(2026, 12, 1)).updated == 2


def test_bad_weather_is_rejected_whole(network: Engine, tmp_path: Path) -> None:
    bad = write(
        tmp_path,
        "weather.csv",
        """\
        city,date,precipitation_mm
        Hangzhou,2015-06-29,10
        Shanghai,2015-06-29,10
        Hangzhou,2015-06-31,10
        Hangzhou,2015-06-30,-1
        Hangzhou,2015-06-29,12
        """,
    )
    with pytest.raises(ImportRejected) as rejected:
        import_file(network, "weather", bad)
    found = {(e.line, e.column) for e in rejected.value.errors}
    assert found == {(3, "city"), (4, "date"), (5, "precipitation_mm"), (6, None)}
    assert "known cities: Hangzhou (杭州), Ningbo (宁波)" in str(rejected.value)
    assert count(network, WeatherDaily) == 0


def test_quantities_of_a_billion_are_refused(network: Engine, tmp_path: Path) -> None:
    skus = write(
        tmp_path,
        "skus.csv",
        "sku,style,colour,size,category,style_name_en,style_name_zh,season,price,cost\n"
        "UM1-BLK-F,UM1,BLK,F,雨伞,Umbrella,雨伞,core,89,30\n",
    )
    import_file(network, "skus", skus)
    stock = write(tmp_path, "stock.csv", "location,sku,on_hand\nHZ-S01,UM1-BLK-F,1000000000\n")
    with pytest.raises(ImportRejected, match="on_hand"):
        import_file(network, "stock", stock)


def test_only_dated_files_can_be_shifted(network: Engine, tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="only sales, weather"):
        import_file(
            network,
            "locations",
            write(tmp_path, "locations.csv", LOCATIONS),
            shift_to=dt.date(2026, 1, 1),
        )
