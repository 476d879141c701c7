"""`stockpilot import KIND FILE`: prints what it wrote, or every row error and exits non-zero
(on SQLite and PostgreSQL: the rows land in, or stay out of, either pool)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import Result
from sqlmodel import Session, select
from typer.testing import CliRunner

from inventory import schema
from inventory.db import make_engine
from inventory.models import Location, WeatherDaily
from stockpilot_cli.main import full_app

app = full_app()

runner = CliRunner()
HEADER = "code,kind,name_en,name_zh,city,lat,lon\n"


@pytest.fixture(
    scope="module", params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]
)
def db(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A migrated pool knowing Shanghai, once on a SQLite file and once on a fresh PostgreSQL
    database, shared by the module: each test imports rows of its own (its own location codes;
    only one test writes weather) and looks only at those."""
    from inventory.pool_copy import drop_postgres_database
    from tests.conftest import create_test_database

    folder = tmp_path_factory.mktemp("import-cli")
    admin_url = None
    if request.param == "sqlite":
        url = f"sqlite:///{folder / 'pool.sqlite'}"
    else:
        admin_url = request.getfixturevalue("postgres_admin_url")
        url = create_test_database(admin_url)
    try:
        engine = make_engine(url)
        schema.upgrade(engine)
        engine.dispose()
        cities = folder / "cities.csv"
        cities.write_text(
            "code,name_en,name_zh,region,region_name_zh,lat,lon\n"
            "Shanghai,Shanghai,上海,East,华东,31.2,121.5\n",
            encoding="utf-8",
        )
        result = runner.invoke(app, ["import", "cities", str(cities), "--db", url])
        assert result.exit_code == 0, result.output
        yield url
    finally:
        if admin_url is not None:
            drop_postgres_database(admin_url, url)


def said(result: Result) -> str:
    """The CLI's output with rich's line wrapping undone (it wraps at long file paths)."""
    return " ".join(result.output.split())


def locations_in(url: str, *codes: str) -> set[str]:
    """Which of ``codes`` the pool holds."""
    engine = make_engine(url)
    with Session(engine) as session:
        found = session.exec(select(Location.code).where(Location.code.in_(codes))).all()
    engine.dispose()
    return set(found)


def test_good_file_is_imported(db: str, tmp_path: Path) -> None:
    path = tmp_path / "locations.csv"
    path.write_text(HEADER + "SHA-S01,store,Nanjing Rd,南京路,上海,31.2,121.5\n", encoding="utf-8")
    result = runner.invoke(app, ["import", "locations", str(path), "--db", db])
    assert result.exit_code == 0, result.output
    assert "imported 1 locations row(s)" in said(result) and ": 1 new" in said(result)
    assert locations_in(db, "SHA-S01") == {"SHA-S01"}


def test_bad_file_prints_row_errors_and_writes_nothing(db: str, tmp_path: Path) -> None:
    path = tmp_path / "locations.csv"
    path.write_text(
        HEADER + "SHA-S02,store,Huaihai Rd,淮海路,上海,31.2,121.5\nX-1,kiosk,K,K,Paris,1,2\n",
        encoding="utf-8",
    )
    result = runner.invoke(app, ["import", "locations", str(path), "--db", db])
    assert result.exit_code == 1
    assert "nothing was written" in said(result)
    assert "locations.csv:3: column 'kind' = 'kiosk'" in said(result)
    assert "locations.csv:3: column 'city' = 'Paris'" in said(result)
    assert locations_in(db, "SHA-S02", "X-1") == set()


def test_missing_file_is_a_clear_error(db: str, tmp_path: Path) -> None:
    result = runner.invoke(app, ["import", "sales", str(tmp_path / "nope.csv"), "--db", db])
    assert result.exit_code == 1
    assert "nope.csv" in said(result) and "cannot open" in said(result)


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
    path.write_text(HEADER + "SHA-S03,store,Xujiahui,徐家汇,上海,31.2,121.4\n", encoding="utf-8")
    result = runner.invoke(
        app, ["import", "locations", str(path), "--db", db, "--shift-to", "yesterday"]
    )
    assert result.exit_code == 2
    assert "only sales, weather files have dates to shift" in said(result)
    assert locations_in(db, "SHA-S03") == set()
