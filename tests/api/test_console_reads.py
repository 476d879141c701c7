"""The reads the console draws from — ``/v1/network``, ``/v1/catalog``, ``/v1/sales-history``,
``/v1/me`` — and the console's page itself, on the small world on SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt
import json
import time
from collections.abc import Iterator

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from api.app import create_app
from api.auth import Role, create_api_key, seed_demo_keys
from api.console import CONSOLE_DIST
from inventory.clock import world_clock
from inventory.config import Settings
from inventory.models import DailySales, Location, Sku, Style, WeatherDaily
from tests.api.conftest import KEYS, tiny_catalog

VIEWER = {"x-api-key": KEYS["demo-viewer"]}


@pytest.fixture
def reads(any_world_engine: Engine, tmp_path) -> Iterator[TestClient]:
    seed_demo_keys(any_world_engine)
    with Session(any_world_engine) as session:
        create_api_key(session, "tmall", [Role.CHANNEL], "sp-test-tmall-key", channel="tmall")
        session.commit()
    settings = Settings(
        database_url=any_world_engine.url.render_as_string(hide_password=False),
        data_dir=tmp_path,
        clock="world",  # the small world lives in 2015
    )
    app = create_app(settings, engine=any_world_engine, catalog=tiny_catalog(any_world_engine))
    with TestClient(app) as client:
        yield client


def test_network_places_every_dc_and_store_with_the_stock_lookups_numbers(
    reads: TestClient, any_world_engine: Engine
) -> None:
    answer = reads.get("/v1/network", params={"category": "rain_boots"}, headers=VIEWER)
    assert answer.status_code == 200, answer.text
    body = answer.json()
    with Session(any_world_engine) as session:
        places = session.exec(select(Location).where(Location.kind != "online")).all()
    assert {loc["code"] for loc in body["locations"]} == {p.code for p in places}
    assert {c["code"] for c in body["cities"]} == {p.city for p in places}
    assert body["category"] == "rain_boots"
    stocked = [loc for loc in body["locations"] if loc["on_hand"]]
    assert stocked, "the small world stocks rain boots somewhere"
    for location in stocked[:3]:  # the same ATP as the one stock lookup, summed per location
        lookup = reads.get(
            "/v1/stock",
            params={"location": location["code"], "category": "rain_boots", "limit": 5000},
            headers=VIEWER,
        ).json()
        assert location["atp"] == lookup["totals"]["atp"]
        assert location["on_hand"] == lookup["totals"]["on_hand"]
        sales = sum(p["avg_daily_sales"] for p in lookup["positions"])
        if sales > 0:
            assert location["cover_days"] == pytest.approx(location["atp"] / sales, abs=0.06)
    place = next(p for p in places if p.code == stocked[0]["code"])
    assert (stocked[0]["lat"], stocked[0]["lon"]) == (place.lat, place.lon)


def test_network_by_city_chinese_category_and_without_health(reads: TestClient) -> None:
    shanghai = reads.get(
        "/v1/network", params={"city": "上海", "category": "雨靴"}, headers=VIEWER
    ).json()
    assert {loc["city"] for loc in shanghai["locations"]} == {"Shanghai"}
    assert shanghai["category"] == "rain_boots"
    bare = reads.get("/v1/network", headers=VIEWER).json()
    assert bare["category"] is None
    assert all(loc["atp"] is None and loc["cover_days"] is None for loc in bare["locations"])


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"category": "ski_boots"}, "category"),
        ({"city": "Atlantis"}, "city"),
        ({"cover_window_days": 3}, "query.cover_window_days"),
    ],
)
def test_network_bad_input_is_a_422_naming_the_field(
    reads: TestClient, params: dict, field: str
) -> None:
    answer = reads.get("/v1/network", params=params, headers=VIEWER)
    assert answer.status_code == 422, answer.text
    assert answer.json()["error"]["field"] == field


def test_who_may_read_the_console_reads(reads: TestClient) -> None:
    for path in ("/v1/network", "/v1/catalog", "/v1/sales-history?city=Shanghai"):
        assert reads.get(path).status_code == 401
        assert reads.get(path, headers={"x-api-key": "sp-test-tmall-key"}).status_code == 403
        assert reads.get(path, headers=VIEWER).status_code == 200


def test_catalog_resolves_skus_to_style_and_size(
    reads: TestClient, any_world_engine: Engine
) -> None:
    with Session(any_world_engine) as session:
        skus = session.exec(select(Sku).order_by(col(Sku.code)).limit(3)).all()
        styles = session.exec(select(Style)).all()
    answer = reads.get(
        "/v1/catalog", params=[("sku", s.code) for s in skus] + [("sku", "NOPE")], headers=VIEWER
    )
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert {(s["code"], s["style"], s["size"]) for s in body["skus"]} == {
        (s.code, s.style_code, s.size) for s in skus
    }  # an unknown code is simply not there
    assert len(body["styles"]) == len(styles)
    style = next(s for s in body["styles"] if s["code"] == skus[0].style_code)
    assert skus[0].size in style["size_run"]
    assert {c["code"] for c in body["categories"]} >= {"rain_boots", "umbrellas"}


def test_sales_history_sums_the_days_before_the_clock_beside_the_rain(
    reads: TestClient, any_world_engine: Engine
) -> None:
    answer = reads.get(
        "/v1/sales-history",
        params={"city": "Shanghai", "category": "rain_boots", "days": 30},
        headers=VIEWER,
    )
    assert answer.status_code == 200, answer.text
    days = answer.json()["days"]
    today = world_clock(any_world_engine)().date()
    assert len(days) == 30
    assert days[-1]["date"] == str(today - dt.timedelta(days=1))  # today is not over yet
    with Session(any_world_engine) as session:
        expected = dict(
            session.execute(
                sa.select(DailySales.date, sa.func.sum(DailySales.units))
                .join(Location, col(Location.code) == DailySales.location_code)
                .join(Sku, col(Sku.code) == DailySales.sku_code)
                .join(Style, col(Style.code) == Sku.style_code)
                .where(
                    Location.city == "Shanghai",
                    Style.category == "rain_boots",
                    DailySales.date >= today - dt.timedelta(days=30),
                    DailySales.date < today,
                )
                .group_by(DailySales.date)
            ).all()
        )
        rain = {
            w.date: w.precipitation_mm
            for w in session.exec(select(WeatherDaily).where(WeatherDaily.city == "Shanghai"))
        }
    assert {d["date"]: d["units"] for d in days if d["units"]} == {
        str(k): int(v) for k, v in expected.items() if v
    }
    wet = next(d for d in days if d["precipitation_mm"])
    assert wet["precipitation_mm"] == pytest.approx(rain[dt.date.fromisoformat(wet["date"])], 0.05)


def test_sales_history_of_one_store_and_its_refusals(reads: TestClient) -> None:
    one = reads.get(
        "/v1/sales-history", params={"location": "SHA-S01", "days": 7}, headers=VIEWER
    ).json()
    assert one["city"] == "Shanghai" and len(one["days"]) == 7
    for params, field in [
        ({}, "city"),
        ({"location": "NOWHERE"}, "location"),
        ({"city": "Beijing", "location": "SHA-S01"}, "location"),
        ({"city": "Shanghai", "style": "NOPE"}, "style"),
        ({"city": "Shanghai", "days": 0}, "query.days"),
    ]:
        answer = reads.get("/v1/sales-history", params=params, headers=VIEWER)
        assert answer.status_code == 422, (params, answer.text)
        assert answer.json()["error"]["field"] == field


def test_me_names_the_key_its_roles_and_the_services_clock(
    reads: TestClient, any_world_engine: Engine
) -> None:
    me = reads.get("/v1/me", headers={"x-api-key": KEYS["demo-approver"]}).json()
    assert me["name"] == "demo-approver"
    assert set(me["roles"]) == {"viewer", "approver"}
    assert me["now"].startswith(str(world_clock(any_world_engine)().date()))
    assert reads.get("/v1/me").status_code == 401


def test_the_console_page_is_served_with_its_assets(reads: TestClient) -> None:
    if not (CONSOLE_DIST / "index.html").is_file():
        pytest.fail("api/console_dist is not built: run `make console` and commit it")
    redirect = reads.get("/console", follow_redirects=False)
    assert redirect.status_code == 307 and redirect.headers["location"] == "/console/"
    page = reads.get("/console/")
    assert page.status_code == 200 and "text/html" in page.headers["content-type"]
    assert page.headers["cache-control"] == "no-cache"
    assets = [p.name for p in (CONSOLE_DIST / "assets").iterdir()]
    assert any(name.endswith(".js") for name in assets)
    for name in assets:
        assert f"/console/assets/{name}" in page.text or name.endswith(".map")
        asset = reads.get(f"/console/assets/{name}")
        assert asset.status_code == 200
        assert "immutable" in asset.headers["cache-control"]
    assert "https://" not in page.text  # no CDN at run time


def test_the_last_eval_report_or_how_to_make_one(reads: TestClient, tmp_path) -> None:
    empty = reads.get("/v1/evals/latest", headers=VIEWER).json()
    assert empty["report"] is None and "stockpilot eval run" in empty["hint"]
    older = tmp_path / "reports" / "old"
    older.mkdir(parents=True)
    (older / "report.json").write_text('{"scenarios": [], "passed": true}')
    time.sleep(0.05)  # the newest report wins, by modification time
    report = {
        "started_at": "2026-12-06T03:00:00Z",
        "duration_s": 12.5,
        "llm_mode": "offline",
        "passed": False,
        "headline": {"lost_sales_avoided": 0.8},
        "scenarios": [
            {"id": "rain-sh", "purpose": "act on rain", "passed": True, "passes": 3,
             "trials": [{}, {}, {}]},
            {"id": "dry-bj", "purpose": "do nothing", "passed": False, "passes": 1,
             "trials": [{}, {}, {}]},
        ],
    }  # fmt: skip
    (tmp_path / "reports" / "report.json").write_text(json.dumps(report))
    (tmp_path / "reports" / "report.md").write_text("# Eval report\n")
    latest = reads.get("/v1/evals/latest", headers=VIEWER).json()["report"]
    assert latest["path"] == "reports/report.json" and latest["passed"] is False
    assert [(s["id"], s["passed"], s["passes"], s["trials"]) for s in latest["scenarios"]] == [
        ("rain-sh", True, 3, 3),
        ("dry-bj", False, 1, 3),
    ]
    assert latest["markdown"] == "# Eval report\n"
    (tmp_path / "reports" / "report.json").write_text('{"scenarios": [{"no id": 1}]')
    broken = reads.get("/v1/evals/latest", headers=VIEWER).json()
    assert broken["report"] is None and "cannot be read" in broken["hint"]
    assert reads.get("/v1/evals/latest").status_code == 401
