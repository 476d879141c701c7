"""Thread copy, delete and checkpoint forks on the checkpointer of each backend (SQLite file,
PostgreSQL), as ``stockpilot serve`` opens it."""

from __future__ import annotations

from pathlib import Path

from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine

from agents.persistence import open_checkpointer
from api.app import create_app
from api.auth import seed_demo_keys
from inventory.config import Settings
from tests.api.conftest import KEYS, tiny_catalog

OPS = {"x-api-key": KEYS["demo-ops"]}


def _say(client: TestClient, thread_id: str, text: str, **extra) -> dict:
    body = {
        "assistant_id": "tiny",
        "input": {"messages": [{"role": "user", "content": text}]},
        **extra,
    }
    response = client.post(f"/threads/{thread_id}/runs/wait", json=body, headers=OPS)
    assert response.status_code == 200, response.text
    return response.json()


def test_copy_delete_and_fork_on_both_backends(engine: Engine, tmp_path: Path) -> None:
    seed_demo_keys(engine)
    settings = Settings(database_url=str(engine.url), data_dir=tmp_path)
    with open_checkpointer(settings) as saver:
        app = create_app(settings, engine=engine, catalog=tiny_catalog(engine, saver))
        with TestClient(app) as client:
            thread_id = client.post("/threads", json={}, headers=OPS).json()["thread_id"]
            _say(client, thread_id, "one")
            first = client.get(f"/threads/{thread_id}/state", headers=OPS).json()["checkpoint"]
            _say(client, thread_id, "two")

            copy = client.post(f"/threads/{thread_id}/copy", headers=OPS).json()
            state = client.get(f"/threads/{copy['thread_id']}/state", headers=OPS).json()
            original = client.get(f"/threads/{thread_id}/state", headers=OPS).json()
            assert state["values"] == original["values"]
            history = client.post(f"/threads/{copy['thread_id']}/history", json={}, headers=OPS)
            assert len(history.json()) == len(
                client.post(f"/threads/{thread_id}/history", json={}, headers=OPS).json()
            )

            forked = _say(client, copy["thread_id"], "instead", checkpoint=first)
            assert [m["content"] for m in forked["messages"]] == [
                "one",
                "echo: one",
                "instead",
                "echo: instead",
            ]
            assert client.delete(f"/threads/{thread_id}", headers=OPS).status_code == 204
            assert client.get(f"/threads/{thread_id}", headers=OPS).status_code == 404
            assert client.get(f"/threads/{copy['thread_id']}", headers=OPS).status_code == 200
            assert saver.get_tuple({"configurable": {"thread_id": thread_id}}) is None
