"""The signed alert webhook: signatures, freshness, validation, durability and idempotency."""

from __future__ import annotations

import json
import time

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from api.app import create_app
from api.auth import seed_demo_keys
from api.signatures import SIGNATURE_HEADER, signed_headers
from inventory.config import Settings
from inventory.models import AgentThread, AlertRecord, Run
from tests.api.conftest import KEYS, knows_shanghai

SENDER, SECRET = "demo-weather", "demo-weather-secret"


def weather(alert_id: str = "cma-1", mm: float = 60.0, **extra) -> dict:
    return {
        "type": "weather",
        "alert_id": alert_id,
        "city": "上海",
        "precipitation_mm": mm,
        "window_hours": 24,
        "issued_at": "2015-07-01T08:00:00+08:00",
        **extra,
    }


def post_alert(client: TestClient, payload: dict, *, secret: str = SECRET, at: float | None = None):
    body = json.dumps(payload).encode()
    return client.post("/v1/alerts", content=body, headers=signed_headers(SENDER, secret, body, at))


def test_signed_alert_is_recorded_with_an_admitted_run(
    any_client: TestClient, engine: Engine
) -> None:
    response = post_alert(any_client, weather())
    assert response.status_code == 202, response.text
    accepted = response.json()
    assert accepted["duplicate"] is False and accepted["status"] == "admitted"
    with Session(engine) as session:
        record = session.exec(select(AlertRecord)).one()
        run = session.get(Run, accepted["run_id"])
        thread = session.get(AgentThread, accepted["thread_id"])
    assert record.external_id == "cma-1" and record.sender == SENDER
    assert record.payload["city"] == "Shanghai"  # 上海 resolved to the canonical name
    assert run is not None and run.trigger == "alert" and run.assistant_id == "alert_response"
    assert run.input["alert"] == {
        "type": "rain",
        "city": "Shanghai",
        "mm": 60.0,
        "hours": 24,
        "start": None,
        "external_id": "cma-1",
        "sender": SENDER,
    }
    assert thread is not None and thread.assistant_id == "alert_response"


def test_same_alert_id_returns_the_same_run_and_starts_nothing(
    any_client: TestClient, engine: Engine
) -> None:
    first = post_alert(any_client, weather()).json()
    again = post_alert(any_client, weather())
    assert again.status_code == 202
    assert again.json()["run_id"] == first["run_id"] and again.json()["duplicate"] is True
    with Session(engine) as session:
        assert len(session.exec(select(Run)).all()) == 1
        assert len(session.exec(select(AlertRecord)).all()) == 1


def test_a_changed_body_under_a_known_id_is_409_not_dropped(
    any_client: TestClient, engine: Engine
) -> None:
    first = post_alert(any_client, weather())
    changed = post_alert(any_client, weather(mm=99.0))
    assert changed.status_code == 409
    error = changed.json()["error"]
    assert "already received with a different body" in error["message"]
    assert "precipitation_mm" in error["message"]
    assert error["field"] == "body.alert_id"
    with Session(engine) as session:
        record = session.exec(select(AlertRecord)).one()
    assert record.run_id == first.json()["run_id"] and record.payload["precipitation_mm"] == 60


def test_alert_ids_are_per_sender(api_settings: Settings, engine: Engine) -> None:
    """Two senders may use the same alert id for different alerts: two runs, no 409."""
    from tests.api.conftest import tiny_catalog

    seed_demo_keys(engine)
    knows_shanghai(engine)
    settings = api_settings.model_copy(
        update={"alert_secrets": {SENDER: SECRET, "other-weather": "other-secret"}}
    )
    app = create_app(settings, engine=engine, catalog=tiny_catalog(engine))
    with TestClient(app) as client:
        ours = post_alert(client, weather("shared-id"))
        body = json.dumps(weather("shared-id", mm=5.0)).encode()
        theirs = client.post(
            "/v1/alerts",
            content=body,
            headers=signed_headers("other-weather", "other-secret", body),
        )
        assert (ours.status_code, theirs.status_code) == (202, 202)
        assert theirs.json()["duplicate"] is False
        assert theirs.json()["run_id"] != ours.json()["run_id"]
        mine = client.get(
            "/v1/alerts/shared-id",
            params={"sender": "other-weather"},
            headers={"x-api-key": KEYS["demo-viewer"]},
        )
        assert mine.json()["payload"]["precipitation_mm"] == 5.0


@pytest.mark.parametrize(
    ("tamper", "message"),
    [
        ("bad_signature", "bad alert signature"),
        ("stale", "stale alert"),
        ("future", "stale alert"),
        ("unknown_sender", "unknown alert sender"),
        ("unsigned", "unsigned alert"),
        ("body_changed", "bad alert signature"),
    ],
)
def test_bad_or_stale_signatures_are_401(any_client: TestClient, tamper: str, message: str) -> None:
    body = json.dumps(weather()).encode()
    at = {"stale": time.time() - 301, "future": time.time() + 400}.get(tamper)
    headers = signed_headers(SENDER, SECRET, body, at)
    if tamper == "bad_signature":
        headers[SIGNATURE_HEADER] = "sha256=" + "0" * 64
    if tamper == "unknown_sender":
        headers["X-Stockpilot-Sender"] = "someone-else"
    if tamper == "unsigned":
        headers.pop(SIGNATURE_HEADER)
    if tamper == "body_changed":
        body = body.replace(b"60.0", b"600.0")
    response = any_client.post("/v1/alerts", content=body, headers=headers)
    assert response.status_code == 401
    assert message in response.json()["error"]["message"]


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        (weather(mm=-1), "body.precipitation_mm"),
        (weather(city="Atlantis"), "body.city"),
        (weather(city="杭州"), "body.city"),  # a real city, but none of this pool's
        ({**weather(), "type": "meteor"}, "body"),
        ({k: v for k, v in weather().items() if k != "window_hours"}, "body.window_hours"),
    ],
)
def test_invalid_payload_says_which_field(
    any_client: TestClient, payload: dict, field: str
) -> None:
    response = post_alert(any_client, payload)
    assert response.status_code == 422
    error = response.json()["error"]
    assert error["field"].startswith(field), error


def test_not_json_is_422_not_500(any_client: TestClient) -> None:
    body = b"{not json"
    response = any_client.post(
        "/v1/alerts", content=body, headers=signed_headers(SENDER, SECRET, body)
    )
    assert response.status_code == 422


def test_other_alert_types_are_recorded_without_a_run(
    any_client: TestClient, engine: Engine
) -> None:
    spike = {
        "type": "demand_spike",
        "alert_id": "spike-1",
        "location": "SHA-S01",
        "style": "RB001",
        "factor": 3.0,
        "issued_at": "2015-07-01T08:00:00+08:00",
    }
    response = post_alert(any_client, spike)
    assert response.status_code == 202
    assert response.json()["status"] == "failed"
    with Session(engine) as session:
        run = session.get(Run, response.json()["run_id"])
    assert "no assistant handles 'demand_spike'" in run.error


def test_alerts_are_readable_with_a_key(any_client: TestClient) -> None:
    post_alert(any_client, weather())
    listed = any_client.get("/v1/alerts", headers={"x-api-key": KEYS["demo-viewer"]})
    assert listed.status_code == 200 and listed.json()["items"][0]["alert_id"] == "cma-1"
    one = any_client.get("/v1/alerts/cma-1", headers={"x-api-key": KEYS["demo-viewer"]})
    assert one.json()["payload"]["precipitation_mm"] == 60.0
    assert (
        any_client.get("/v1/alerts/nope", headers={"x-api-key": KEYS["demo-viewer"]}).status_code
        == 404
    )


def test_alert_idempotency_on_both_backends(engine: Engine, tmp_path) -> None:
    """The same alert posted twice on either backend: one alert row, one run."""
    seed_demo_keys(engine)
    knows_shanghai(engine)
    settings = Settings(
        database_url=str(engine.url), data_dir=tmp_path, alert_secrets={SENDER: SECRET}
    )
    from tests.api.conftest import tiny_catalog

    app = create_app(settings, engine=engine, catalog=tiny_catalog(engine))
    with TestClient(app) as client:
        first = post_alert(client, weather("pg-1")).json()
        second = post_alert(client, weather("pg-1")).json()
    assert first["run_id"] == second["run_id"] and second["duplicate"] is True
    with Session(engine) as session:
        assert len(session.exec(select(Run)).all()) == 1
