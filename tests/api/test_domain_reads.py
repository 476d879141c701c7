"""The /v1 read endpoints on the small demo world: stock, policy, audit and plans."""

from __future__ import annotations

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine

from api.app import create_app
from api.auth import seed_demo_keys
from inventory.config import Settings
from tests.api.conftest import KEYS, tiny_catalog

VIEWER = {"x-api-key": KEYS["demo-viewer"]}
OPS = {"x-api-key": KEYS["demo-ops"]}


@pytest.fixture
def world_app(any_world_engine: Engine, api_settings: Settings) -> FastAPI:
    """The conftest's ``world_app`` on the small world on SQLite or PostgreSQL (reads only:
    the test graphs' checkpoints stay in memory)."""
    seed_demo_keys(any_world_engine)
    url = any_world_engine.url.render_as_string(hide_password=False)
    settings = api_settings.model_copy(update={"database_url": url, "clock": "world"})
    return create_app(settings, engine=any_world_engine, catalog=tiny_catalog(any_world_engine))


def test_stock_lookup_by_location(world_client: TestClient) -> None:
    response = world_client.get(
        "/v1/stock", params={"location": "SHA-S01", "category": "rain_boots"}, headers=VIEWER
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["positions"], body
    assert {p["location"] for p in body["positions"]} == {"SHA-S01"}
    assert all(
        p["atp"] == max(0, p["on_hand"] - p["reserved"] - p["safety"]) for p in body["positions"]
    )


def test_stock_lookup_bad_input_says_where(world_client: TestClient) -> None:
    response = world_client.get("/v1/stock", params={"limit": 0}, headers=VIEWER)
    assert response.status_code == 422
    assert response.json()["error"]["field"] == "query.limit"
    unknown = world_client.get("/v1/stock", params={"city": "Atlantis"}, headers=VIEWER)
    assert unknown.status_code == 422 and "Atlantis" in unknown.json()["error"]["message"]


def test_policy_is_readable(world_client: TestClient) -> None:
    policy = world_client.get("/v1/policy", headers=VIEWER).json()
    assert policy["transfer"]["four_eyes"]["above_value"] > 0


def test_transfer_plan_needs_ops_and_passes_tool_errors_on(world_client: TestClient) -> None:
    """The route's wiring; planning itself (seconds: it fits the forecast model) is tested in
    tests/tools."""
    body = {"styles": ["NO-SUCH-STYLE"], "window_days": 3}
    assert world_client.post("/v1/transfer-plans", json=body, headers=VIEWER).status_code == 403
    response = world_client.post("/v1/transfer-plans", json=body, headers=OPS)
    assert response.status_code == 422, response.text
    assert "NO-SUCH-STYLE" in response.text
    orders = world_client.get("/v1/transfer-orders", headers=VIEWER).json()
    assert orders["total"] == 0  # a dry run orders nothing


def test_compute_endpoints_reject_bad_input_with_the_field(world_client: TestClient) -> None:
    cases = [
        ("/v1/forecasts", {"horizon_days": 0}, "body.horizon_days"),
        ("/v1/forecasts", {"limit_series": 10**9}, "body.limit_series"),
        ("/v1/transfer-plans", {"window_days": 99}, "body.window_days"),
        ("/v1/transfer-plans", {"time_limit_s": 3600}, "body.time_limit_s"),
        ("/v1/promo-recommendations", {"limit": -1}, "body.limit"),
        ("/v1/promo-recommendations", [], "body"),
    ]
    for path, body, field in cases:
        response = world_client.post(path, json=body, headers=OPS)
        assert response.status_code == 422, (path, body, response.text)
        assert response.json()["error"]["field"] == field, (path, response.json())
