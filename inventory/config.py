"""One settings object for the whole service, read from ``STOCKPILOT_*`` environment variables.

It lives in the bottom layer so every package can read it without importing upward.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_DATA_DIR = PROJECT_ROOT / "var"
#: Demo mode keeps its generated world in a file of its own, never in the real default pool.
DEMO_DATABASE_FILE = "demo.sqlite"
#: The demo's alert sender and its published secret: accepted in demo mode only.
DEMO_ALERT_SENDER = "demo-weather"
DEMO_ALERT_SECRET = "demo-weather-secret"
#: The simulated WMS as a sender of fulfilment events, and its published secret (demo mode only).
DEMO_WMS_SENDER = "demo-wms"
DEMO_WMS_SECRET = "demo-wms-secret"
#: The simulated OMS as a sender of online parcels' fulfilment events (demo mode only).
DEMO_OMS_SENDER = "demo-oms"
DEMO_OMS_SECRET = "demo-oms-secret"


class Settings(BaseSettings):
    """Runtime configuration; every field can be set as ``STOCKPILOT_<NAME>``."""

    model_config = SettingsConfigDict(env_prefix="STOCKPILOT_", env_file=".env", extra="ignore")

    database_url: str = Field(
        default=f"sqlite:///{DEFAULT_DATA_DIR / 'stockpilot.sqlite'}",
        description="SQLAlchemy URL of the pool; sqlite:///path or postgresql+psycopg://...",
    )
    data_dir: Path = Field(default=DEFAULT_DATA_DIR, description="Artefacts, reports, models.")
    shared_data_dir: Path | None = Field(
        default=None,
        description="Optional external data for checks (a folder holding walmart-stormy/); "
        "nothing at run time reads it, and the checks skip when it is unset or absent. The city "
        "weather ships inside the package (inventory/data/weather).",
    )
    policy_file: Path | None = Field(
        default=None, description="Policy YAML; the shipped default policy when unset."
    )
    value_terms_file: Path | None = Field(
        default=None,
        description="What a moved unit is worth and costs unsold (tier price factors, return "
        "freight, markdown risk per category); the shipped tools/plan_transfers/value_terms.yaml "
        "when unset.",
    )
    routing_file: Path | None = Field(
        default=None,
        description="How online orders are routed (score weights, store capacity and share "
        "caps, parcel costs); the shipped tools/route_order/routing.yaml when unset.",
    )
    llm_base_url: str | None = Field(default=None, description="OpenAI-compatible base URL.")
    llm_model: str | None = None
    llm_api_key: str | None = None
    llm_timeout_s: float = Field(
        default=300.0,
        gt=0,
        description="Seconds one model request may take; a read timeout is not retried (the "
        "server is still generating), so size it for a slow local model.",
    )
    llm_max_retries: int = Field(
        default=2, ge=0, le=10, description="Retries of 429/5xx/connection errors."
    )
    llm_context_tokens: int = Field(
        default=8192,
        ge=2048,
        description="The model's context window; tool results and history are fitted to it.",
    )
    llm_max_output_tokens: int | None = Field(
        default=None, ge=16, description="Cap on one reply's tokens (sent as max_tokens)."
    )
    llm_turn_max_tokens: int = Field(
        default=100_000, ge=1000, description="Tokens (in + out) one chat turn may spend."
    )
    llm_turn_timeout_s: float = Field(
        default=900.0,
        gt=0,
        description="Seconds one chat turn may spend in the model (approvals excluded).",
    )
    llm_fallback: Literal["offline", "none"] = Field(
        default="offline",
        description="When the model fails: answer with the offline planner if it can parse the "
        "request (offline), or only say that it failed (none).",
    )
    llm_grounded_answers: bool = Field(
        default=True,
        description="Check a model's final chat answer against its turn's tool results (figures "
        "the tools returned, no recited calls or echoed errors, refusals said) and, when it "
        "fails, answer from those results instead, saying so.",
    )
    wms_url: str | None = Field(default=None, description="WMS base URL; simulated when unset.")
    oms_url: str | None = None
    pricing_url: str | None = None
    notify_url: str | None = None
    alert_secrets: dict[str, str] = Field(
        default_factory=dict,
        description="HMAC secret per alert sender id; none → the webhook accepts no sender. "
        "Demo mode adds the demo sender with its published secret when none is set.",
    )
    fulfilment_secrets: dict[str, str] = Field(
        default_factory=dict,
        description="HMAC secret per sender of fulfilment events (a WMS, an OMS); none → "
        "POST /v1/fulfilment/events accepts no sender. Demo mode adds the simulated WMS with "
        "its published secret when none is set, and the simulated WMS then reports what it "
        "ships.",
    )
    outbox_backoff_initial_s: float = Field(
        default=5.0, ge=0, description="First retry delay of a failed outbox send (doubles)."
    )
    outbox_backoff_max_s: float = Field(
        default=300.0, ge=0, description="Cap of the outbox retry delay."
    )
    outbox_lease_s: float = Field(
        default=120.0, gt=0, description="How long a claimed outbox row is left to its sender."
    )
    outbox_alert_after_attempts: int = Field(
        default=5, ge=1, description="Failed sends after which a row is an operational alert."
    )
    outbox_dead_letter_after_attempts: int = Field(
        default=30,
        ge=1,
        description="Failed sends after which a bounded outbox row (an OMS parcel cancellation) "
        "is dead-lettered instead of retried.",
    )
    outbox_dead_letter_after_s: float = Field(
        default=4 * 3600.0,
        gt=0,
        description="Age (seconds since it was written) after which a bounded outbox row that "
        "still fails to send is dead-lettered.",
    )
    outbox_alert_recipient: str | None = Field(
        default="ops",
        description="Who the notification system tells of a dead-lettered outbox row (none: "
        "audit and log only).",
    )
    outbox_poll_s: float = Field(
        default=1.0, gt=0, description="Longest the dispatcher sleeps between passes."
    )
    run_lease_s: float = Field(
        default=30.0, gt=1, description="A run's lease on its thread, renewed every third of it."
    )
    forecast_refit_days: int = Field(
        default=7,
        ge=0,
        le=365,
        description="Refit a stored forecaster once the pool holds this many days of sales it "
        "was not fitted on (its rain uplift and calibration learn only at a fit); 0: never.",
    )
    forecast_check_s: float = Field(
        default=900.0,
        gt=0,
        description="How often the service looks for new sales its forecasters have not seen.",
    )
    host: str = "127.0.0.1"
    port: int = 8000
    cors_origins: str = Field(
        default="http://localhost,http://localhost:*,http://127.0.0.1,http://127.0.0.1:*",
        description=(
            "Browser origins allowed to call the API (agent-chat-ui runs on another origin): "
            "comma-separated, `*` matches a port or host part, a lone `*` allows any origin, "
            "empty allows none. The default admits localhost on any port (the demo)."
        ),
    )
    log_format: Literal["text", "json"] = Field(
        default="text",
        description="`json`: one JSON object per log line with request id and run id.",
    )
    demo: bool = Field(
        default=False,
        description="Demo mode: the generated demo world, its public demo keys and alert secret, "
        "and the world's clock. Never for a real pool.",
    )
    clock: Literal["wall", "world"] | None = Field(
        default=None,
        description="Where 'now' comes from: the wall clock, or the demo world's stored clock; "
        "unset → world in demo mode, wall otherwise.",
    )
    max_request_bytes: int = Field(
        default=1 << 20, ge=1024, description="Largest request body the API accepts (413 above)."
    )

    @property
    def is_postgres(self) -> bool:
        return self.database_url.startswith("postgresql")

    @model_validator(mode="after")
    def _demo_defaults(self) -> Settings:
        """Demo mode, unless told otherwise: its own SQLite file, the demo alert sender."""
        if self.demo and "database_url" not in self.model_fields_set:
            self.database_url = f"sqlite:///{self.data_dir / DEMO_DATABASE_FILE}"
        if self.demo and not self.alert_secrets:
            self.alert_secrets = {DEMO_ALERT_SENDER: DEMO_ALERT_SECRET}
        if self.demo and not self.fulfilment_secrets:
            self.fulfilment_secrets = {
                DEMO_WMS_SENDER: DEMO_WMS_SECRET,
                DEMO_OMS_SENDER: DEMO_OMS_SECRET,
            }
        return self

    @property
    def published_secret_senders(self) -> list[str]:
        """Senders configured with the published demo secret (refused outside demo mode)."""
        published = (DEMO_ALERT_SECRET, DEMO_WMS_SECRET, DEMO_OMS_SECRET)
        return [
            sender
            for secrets in (self.alert_secrets, self.fulfilment_secrets)
            for sender, secret in secrets.items()
            if secret in published
        ]

    @property
    def clock_mode(self) -> Literal["wall", "world"]:
        """The clock in force: the explicit setting, else the world's in demo mode only."""
        if self.clock is not None:
            return self.clock
        return "world" if self.demo else "wall"

    @property
    def llm_configured(self) -> bool:
        return bool(self.llm_base_url and self.llm_model)


#: Values given on the command line (``stockpilot --demo``, ``--clock``); they beat the env.
_OVERRIDES: dict[str, object] = {}


@lru_cache
def get_settings() -> Settings:
    return Settings(**_OVERRIDES)  # type: ignore[arg-type]


def override_settings(*, reset: bool = False, **values: object) -> Settings:
    """Add command-line overrides (``None`` = not given; ``reset`` drops earlier ones) and
    re-read the settings, so this invocation's environment counts too."""
    if reset:
        _OVERRIDES.clear()
    _OVERRIDES.update({key: value for key, value in values.items() if value is not None})
    get_settings.cache_clear()
    return get_settings()
