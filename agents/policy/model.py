"""The policy file's schema and loader; a bad file fails loudly naming the field at fault."""

from __future__ import annotations

from pathlib import Path

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

DEFAULT_POLICY_FILE = Path(__file__).with_name("default_policy.yaml")


class PolicyError(ValueError):
    """The policy file is missing, unreadable or breaks the schema."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class TransferLimits(_Strict):
    max_units_per_order: int = Field(ge=0)
    max_value_per_order: float = Field(ge=0)
    max_cost_per_order: float = Field(ge=0)
    max_units_per_run: int = Field(ge=0)
    max_cost_per_run: float = Field(ge=0)


class FourEyes(_Strict):
    above_value: float = Field(ge=0, description="Orders worth more than this need four eyes.")
    distinct_from_requester: bool = True
    # At most two: an approval records a first approver and one confirming approver
    # (``agents.authority.rule``); a third could never be recorded, so every order asking for
    # one would fail at execution.
    approvers_required: int = Field(default=2, ge=1, le=2)


class TransferPolicy(_Strict):
    auto_approve: TransferLimits
    approver_roles: list[str] = Field(min_length=1)
    four_eyes: FourEyes


class MarkdownPolicy(_Strict):
    auto_approve_max_depth: float = Field(ge=0, le=1)
    max_depth: float = Field(gt=0, le=1)
    approver_roles: list[str] = Field(min_length=1)
    four_eyes_above_depth: float = Field(ge=0, le=1)

    @model_validator(mode="after")
    def _ordered(self) -> MarkdownPolicy:
        if self.auto_approve_max_depth > self.max_depth:
            raise ValueError(
                f"auto_approve_max_depth {self.auto_approve_max_depth} exceeds "
                f"max_depth {self.max_depth}"
            )
        return self


class ExpiryPolicy(_Strict):
    emergency_hours: float = Field(default=4.0, gt=0)
    default_hours: float = Field(default=24.0, gt=0)


class Policy(_Strict):
    version: int = Field(ge=1)
    transfer: TransferPolicy
    markdown: MarkdownPolicy
    expiry: ExpiryPolicy = ExpiryPolicy()


def load_policy(path: Path | None = None) -> Policy:
    """The policy at ``path``, or the shipped default when None."""
    source = path or DEFAULT_POLICY_FILE
    try:
        raw = yaml.safe_load(source.read_text(encoding="utf-8"))
    except OSError as exc:
        raise PolicyError(f"cannot read policy file {source}: {exc}") from exc
    except yaml.YAMLError as exc:
        raise PolicyError(f"policy file {source} is not valid YAML: {exc}") from exc
    try:
        return Policy.model_validate(raw)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc'])}: {err['msg']} (got {err.get('input')!r})"
            for err in exc.errors(include_url=False)
        )
        raise PolicyError(f"policy file {source} is invalid: {problems}") from exc
