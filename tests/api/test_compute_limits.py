"""What one request may compute: forecasts, plans and markdown scans are refused with a 422
naming the size and what to narrow when their scope needs more series than ``limit_series``;
a refit asked again right after a fit is a 409, never a second full fit."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from api.schemas.tools import MAX_CODES, MAX_SERIES
from tests.api.conftest import KEYS

OPS = {"x-api-key": KEYS["demo-ops"]}
ADMIN = {"x-api-key": KEYS["demo-admin"]}


@pytest.mark.parametrize(
    ("path", "says"),
    [
        ("/v1/forecasts", "the request matches 1251 series, more than limit_series=100"),
        ("/v1/transfer-plans", "more than limit_series=100; narrow it (city, region, category"),
        ("/v1/promo-recommendations", "more than limit_series=100; narrow it (city, region"),
    ],
)
def test_an_unscoped_request_above_its_limit_is_refused_with_what_to_narrow(
    world_client: TestClient, path: str, says: str
) -> None:
    response = world_client.post(path, json={"limit_series": 100}, headers=OPS)
    assert response.status_code == 422, response.text
    error = response.json()["error"]
    assert error["field"] == "limit_series" and error["value"] == 100
    assert says in error["message"]


@pytest.mark.parametrize(
    "path", ["/v1/forecasts", "/v1/transfer-plans", "/v1/promo-recommendations"]
)
def test_limits_cannot_be_raised_past_the_api_maximum(world_client: TestClient, path: str) -> None:
    too_many = world_client.post(path, json={"limit_series": MAX_SERIES + 1}, headers=OPS)
    assert too_many.status_code == 422
    assert too_many.json()["error"]["field"] == "body.limit_series"
    field = "locations" if path != "/v1/transfer-plans" else "destinations"
    long_list = world_client.post(path, json={field: ["X"] * (MAX_CODES + 1)}, headers=OPS)
    assert long_list.status_code == 422
    assert long_list.json()["error"]["field"] == f"body.{field}"


def test_a_scoped_plan_within_the_limit_is_planned(world_client: TestClient) -> None:
    body = {"city": "Shanghai", "category": "rain_boots", "limit_series": 1000}
    response = world_client.post("/v1/transfer-plans", json=body, headers=OPS)
    assert response.status_code == 200, response.text
    assert response.json()["window_days"] == 3


def test_a_refit_right_after_a_fit_is_refused_with_the_fit_and_when(client: TestClient) -> None:
    """The cooldown is read from the fit jobs the service ran: one just finished here (the job
    runner's own record; the tiny pool has no sales to fit on)."""
    from api.startup import fit_title

    state = client.app.state.stockpilot  # type: ignore[attr-defined]
    first = state.jobs.submit("forecast_fit", fit_title("sku"), lambda progress: {"level": "sku"})
    state.jobs.wait(first.id, timeout=60)
    again = client.post(
        "/v1/jobs/forecast-fit", json={"level": "sku", "refit": True}, headers=ADMIN
    )
    assert again.status_code == 409, again.text
    error = again.json()["error"]
    assert error["field"] == "refit" and error["value"] == first.id
    assert "a refit is allowed again in" in error["message"]
    assert 0 < int(again.headers["Retry-After"]) <= 600
    # The other level has not been fitted, and a plain fit is never refused for the cooldown:
    # both go on to the next check, which finds no sales history to fit on.
    for body in ({"level": "style", "refit": True}, {"level": "sku"}):
        passed = client.post("/v1/jobs/forecast-fit", json=body, headers=ADMIN)
        assert passed.status_code == 422, passed.text
        assert passed.json()["error"]["field"] == "history_days"
