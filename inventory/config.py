"""One settings object for the whole service, read from ``STOCKPILOT_*`` environment variables.

It lives in the bottom layer so every package can read it without importing upward.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_DATA_DIR = PROJECT_ROOT / "var"
DEFAULT_SHARED_DATA = PROJECT_ROOT.parent / "shared" / "data"


class Settings(BaseSettings):
    """Runtime configuration; every field can be set as ``STOCKPILOT_<NAME>``."""

    model_config = SettingsConfigDict(env_prefix="STOCKPILOT_", env_file=".env", extra="ignore")

    database_url: str = Field(
        default=f"sqlite:///{DEFAULT_DATA_DIR / 'stockpilot.sqlite'}",
        description="SQLAlchemy URL of the pool; sqlite:///path or postgresql+psycopg://...",
    )
    data_dir: Path = Field(default=DEFAULT_DATA_DIR, description="Artefacts, reports, models.")
    shared_data_dir: Path = Field(
        default=DEFAULT_SHARED_DATA, description="Real weather and sales data shipped with us."
    )
    policy_file: Path | None = Field(
        default=None, description="Policy YAML; the shipped default policy when unset."
    )
    llm_base_url: str | None = Field(default=None, description="OpenAI-compatible base URL.")
    llm_model: str | None = None
    llm_api_key: str | None = None
    llm_timeout_s: float = 30.0
    wms_url: str | None = Field(default=None, description="WMS base URL; simulated when unset.")
    oms_url: str | None = None
    pricing_url: str | None = None
    notify_url: str | None = None
    alert_secrets: dict[str, str] = Field(
        default_factory=lambda: {"demo-weather": "demo-weather-secret"},
        description="HMAC secret per alert sender id.",
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

    @property
    def is_postgres(self) -> bool:
        return self.database_url.startswith("postgresql")

    @property
    def llm_configured(self) -> bool:
        return bool(self.llm_base_url and self.llm_model)


@lru_cache
def get_settings() -> Settings:
    return Settings()
