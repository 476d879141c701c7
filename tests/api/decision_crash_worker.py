"""A service process that takes one REST decision and is SIGKILLed half-way, as a crashed
machine would: right after the decision is recorded (before any run resumes the thread), or
right after the resuming run took the thread's lease (before the graph ran).

python -m tests.api.decision_crash_worker --db URL --data-dir DIR --policy FILE
    --approval ID --kill-at after_record|after_admit
"""

from __future__ import annotations

import argparse
import os
import signal
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient

from api import decisions
from api.app import create_app
from api.langgraph_compat.runner import GraphRunner
from inventory.config import Settings
from tests.api.real_service import as_


def die() -> None:
    os.kill(os.getpid(), signal.SIGKILL)


def settings_for(db: str, data_dir: Path, policy: Path) -> Settings:
    return Settings(
        database_url=db,
        data_dir=data_dir,
        policy_file=policy,
        alert_secrets={"demo-weather": "demo-weather-secret"},
        clock="world",  # the small demo world lives in 2015
    )


def arm(kill_at: str) -> None:
    if kill_at == "after_record":
        record_all = decisions.record_all

        def record_then_die(*args: Any, **kwargs: Any) -> None:
            record_all(*args, **kwargs)
            die()

        decisions.record_all = record_then_die  # type: ignore[assignment]
    else:

        def die_holding_the_thread(self: GraphRunner, ticket: Any) -> Any:
            die()

        GraphRunner.run_to_end = die_holding_the_thread  # type: ignore[method-assign]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--db", required=True)
    parser.add_argument("--data-dir", required=True, type=Path)
    parser.add_argument("--policy", required=True, type=Path)
    parser.add_argument("--approval", required=True)
    parser.add_argument("--kill-at", choices=["after_record", "after_admit"], required=True)
    args = parser.parse_args()
    app = create_app(settings_for(args.db, args.data_dir, args.policy), run_worker=False)
    with TestClient(app) as client:
        arm(args.kill_at)
        response = client.post(
            f"/v1/approvals/{args.approval}/decision",
            json={"decision": "approve", "comment": "storm tomorrow"},
            headers=as_("demo-approver"),
        )
    raise SystemExit(f"not killed: {response.status_code} {response.text}")


if __name__ == "__main__":
    main()
