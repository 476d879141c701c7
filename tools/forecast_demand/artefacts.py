"""Fitted forecasters on disk: one file per pool and level, with version and data window.

The alert path cannot afford a fit, so `stockpilot forecast fit` (or the first forecast on a
pool) fits once and stores the model under ``settings.data_dir / "models"``; later calls load it
(and keep it in memory while the file is unchanged). An artefact is tied to its pool and never
used for a clock at or before its data window ends (that would forecast from the future).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path

import joblib
from pydantic import BaseModel, Field
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from forecasting.model import FittedForecaster
from inventory.models import WorldMeta

ARTEFACT_FORMAT = 4  # 4: sell-out excess, temperature change, no day of year (3: online exposure)


class ArtefactMeta(BaseModel):
    """What a stored forecaster is: shown to users and recorded with every forecast."""

    format: int = ARTEFACT_FORMAT
    model: str
    version: str
    level: str
    pool: str = Field(description="Fingerprint of the pool it was fitted on.")
    created_at: str
    data_start: dt.date
    data_end: dt.date
    series: int
    backtest: dict[str, float] = Field(description="Out-of-sample errors (rmsse, mase, ...).")
    selected_by: str = Field(description="How the model was chosen.")

    @property
    def label(self) -> str:
        return f"{self.model}@{self.version}"


@dataclass
class Artefact:
    meta: ArtefactMeta
    fitted: FittedForecaster


_MEMORY: dict[Path, tuple[float, Artefact]] = {}


def pool_fingerprint(engine: Engine) -> str:
    """Identifies a pool's history: a demo world's recorded spec and generator parameters (so
    every copy of one world template, as evals make, shares one artefact), else its URL."""
    with Session(engine) as session:
        world = session.exec(select(WorldMeta).where(WorldMeta.key == "world")).first()
    if world is not None:
        source = "world:" + json.dumps(world.value, sort_keys=True, default=str)
    else:
        source = "url:" + engine.url.render_as_string(hide_password=True)
    return hashlib.sha256(source.encode()).hexdigest()[:12]


def artefact_path(models_dir: Path, pool: str, level: str) -> Path:
    return models_dir / f"forecast-{level}-{pool}.joblib"


def save_artefact(models_dir: Path, artefact: Artefact) -> Path:
    """Write atomically (temp file + rename) so a reader never sees half a model."""
    models_dir.mkdir(parents=True, exist_ok=True)
    path = artefact_path(models_dir, artefact.meta.pool, artefact.meta.level)
    temporary = path.with_suffix(f".{os.getpid()}.tmp")
    joblib.dump(
        {"meta": artefact.meta.model_dump(mode="json"), "fitted": artefact.fitted}, temporary
    )
    os.replace(temporary, path)
    (path.with_suffix(".json")).write_text(artefact.meta.model_dump_json(indent=2))
    # Kept in memory as written, as a load would keep it: the process that stored a model (a
    # fit job, an eval trial seeding its pool) then forecasts without unpickling it again.
    _MEMORY[path] = (path.stat().st_mtime, artefact)
    return path


def load_artefact(models_dir: Path, pool: str, level: str) -> Artefact | None:
    """The stored artefact, or None when there is none or it was written in an older format."""
    path = artefact_path(models_dir, pool, level)
    if not path.exists():
        return None
    mtime = path.stat().st_mtime
    cached = _MEMORY.get(path)
    if cached is not None and cached[0] == mtime:
        return cached[1]
    payload = joblib.load(path)
    if payload.get("meta", {}).get("format") != ARTEFACT_FORMAT:
        return None
    artefact = Artefact(meta=ArtefactMeta.model_validate(payload["meta"]), fitted=payload["fitted"])
    _MEMORY[path] = (mtime, artefact)
    return artefact


def make_version(data_end: dt.date, created_at: dt.datetime) -> str:
    return f"{data_end.isoformat()}.{created_at:%Y%m%dT%H%M%S}"
