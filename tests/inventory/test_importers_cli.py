"""`stockpilot import KIND FILE`: prints what it wrote, or every row error and exits non-zero."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from sqlmodel import Session, func, select
from typer.testing import CliRunner

from inventory import schema
from inventory.db import make_engine
from inventory.models import Location, WeatherDaily
from stockpilot_cli.main import full_app

app = full_app()

runner = CliRunner()
HEADER = "code,kind,name_en,name_zh,city,lat,lon\n"


@pytest.fixture
def db(tmp_path: Path) -> str:
    url = f"sqlite:///{tmp_path / 'pool.sqlite'}"
    engine = make_engine(url)
    schema.upgrade(engine)
    engine.dispose()
    cities = tmp_path / "cities.csv"
    cities.write_text(
        "code,name_en,name_zh,region,region_name_zh,lat,lon\n"
        "Shanghai,Shanghai,上海,East,华东,31.2,121.5\n",
        encoding="utf-8",
    )
    result = runner.invoke(app, ["import", "cities", str(cities), "--db", url])
    assert result.exit_code == 0, result.output
    return url


def locations_in(url: str) -> int:
    engine = make_engine(url)
    with Session(engine) as session:
        found = session.exec(select(func.count()).select_from(Location)).one()
    engine.dispose()
    return found


def test_good_file_is_imported(db: str, tmp_path: Path) -> None:
    path = tmp_path / "locations.csv"
    path.write_text(HEADER + "SHA-S01,store,Nanjing Rd,南京路,上海,31.2,121.5\n", encoding="utf-8")
    result = runner.invoke(app, ["import", "locations", str(path), "--db", db])
    assert result.exit_code == 0, result.output
    assert "imported 1 locations row(s)" in result.output and "1 new" in result.output
    assert locations_in(db) == 1


def test_bad_file_prints_row_errors_and_writes_nothing(db: str, tmp_path: Path) -> None:
    path = tmp_path / "locations.csv"
    path.write_text(
        HEADER + "SHA-S01,store,Nanjing Rd,南京路,上海,31.2,121.5\nX-1,kiosk,K,K,Paris,1,2\n",
        encoding="utf-8",
    )
    result = runner.invoke(app, ["import", "locations", str(path), "--db", db])
    assert result.exit_code == 1
    assert "nothing was written" in result.output
    assert "locations.csv:3: column 'kind' = 'kiosk'" in result.output
    assert "locations.csv:3: column 'city' = 'Paris'" in result.output
    assert locations_in(db) == 0


def test_missing_file_is_a_clear_error(db: str, tmp_path: Path) -> None:
    result = runner.invoke(app, ["import", "sales", str(tmp_path / "nope.csv"), "--db", db])
    assert result.exit_code == 1
    assert "nope.csv" in result.output and "cannot open" in result.output


def test_weather_can_be_shifted_to_end_on_a_day(db: str, tmp_path: Path) -> None:
    path = tmp_path / "weather.csv"
    path.write_text(
        "city,date,precipitation_mm\n上海,2015-06-30,12.5\nShanghai,2015-07-01,0\n",
        encoding="utf-8",
    )
    result = runner.invoke(
        app, ["import", "weather", str(path), "--db", db, "--shift-to", "2026-01-31"]
    )
    assert result.exit_code == 0, result.output
    engine = make_engine(db)
    with Session(engine) as session:
        days = session.exec(select(WeatherDaily.date, WeatherDaily.rain_band)).all()
    engine.dispose()
    assert sorted(days) == [(dt.date(2026, 1, 30), "moderate"), (dt.date(2026, 1, 31), "none")]


def test_shift_to_is_refused_for_files_without_dates(db: str, tmp_path: Path) -> None:
    path = tmp_path / "locations.csv"
    path.write_text(HEADER + "SHA-S01,store,Nanjing Rd,南京路,上海,31.2,121.5\n", encoding="utf-8")
    result = runner.invoke(
        app, ["import", "locations", str(path), "--db", db, "--shift-to", "yesterday"]
    )
    assert result.exit_code == 2
    assert "only sales, weather files have dates to shift" in result.output
    assert locations_in(db) == 0
