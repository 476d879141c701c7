"""API keys → principals with roles. Keys are stored only as SHA-256 hashes.

Keys are long random tokens, so a fast hash is enough (no password stretching needed). Every
request reads its key's row (``principal_for``): a revoked key is refused at once.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from datetime import UTC, datetime
from enum import StrEnum

import sqlalchemy as sa
from pydantic import BaseModel, Field
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from inventory.models import ApiKey


class Role(StrEnum):
    VIEWER = "viewer"
    OPS = "ops"
    APPROVER = "approver"
    ADMIN = "admin"
    #: A sales channel (Tmall, Douyin, POS, ...): reads availability and holds its own
    #: reservations; the key is bound to one channel code (``ApiKey.channel``).
    CHANNEL = "channel"


#: The people's roles: every read of the domain (stock, orders, audit, runs) is open to them; a
#: channel key reads only availability and its own reservations.
STAFF_ROLES: tuple[Role, ...] = (Role.VIEWER, Role.OPS, Role.APPROVER, Role.ADMIN)


class Principal(BaseModel):
    """Who is calling: the API key's name and its roles. Recorded on every decision."""

    name: str
    roles: list[Role] = Field(default_factory=list)
    channel: str | None = Field(
        default=None, description="The channel a `channel` key acts for (None for people)."
    )

    def has_any(self, *roles: Role) -> bool:
        """Admin may do everything; otherwise one of ``roles`` is needed."""
        return Role.ADMIN in self.roles or any(role in self.roles for role in roles)

    def as_resume_principal(self) -> dict[str, object]:
        return {"name": self.name, "roles": [str(r) for r in self.roles]}


#: What a channel code looks like (``tmall``, ``douyin``, ``mini_program``, ``pos``, ``online``).
CHANNEL_CODE = re.compile(r"[a-z][a-z0-9_-]{0,31}")

#: Demo keys seeded into an empty key table, so the README's curl examples work as written.
#: They are public: replace them (``stockpilot api-key create``) before real use.
DEMO_KEYS: dict[str, tuple[str, list[Role]]] = {
    "demo-viewer": ("sp-demo-viewer-key", [Role.VIEWER]),
    "demo-ops": ("sp-demo-ops-key", [Role.VIEWER, Role.OPS]),
    "demo-approver": ("sp-demo-approver-key", [Role.VIEWER, Role.APPROVER]),
    "demo-approver-2": ("sp-demo-approver-2-key", [Role.VIEWER, Role.APPROVER]),
    "demo-admin": ("sp-demo-admin-key", [Role.ADMIN]),
}


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


def new_key() -> str:
    return "sp-" + secrets.token_urlsafe(32)


def create_api_key(
    session: Session,
    name: str,
    roles: list[Role],
    key: str | None = None,
    *,
    channel: str | None = None,
) -> str:
    """Store a key's hash under ``name``; returns the key (shown once, never stored).

    A ``channel`` key must name its channel, and only a ``channel`` key may: a person's key
    acting for one channel would blur who took the stock.
    """
    if session.exec(select(ApiKey).where(ApiKey.name == name)).first() is not None:
        raise ValueError(f"an API key named {name!r} already exists")
    if (Role.CHANNEL in roles) != (channel is not None):
        raise ValueError("a key with the channel role needs --channel, and only such a key")
    if Role.CHANNEL in roles and len(set(roles)) > 1:
        raise ValueError("the channel role cannot be combined with other roles")
    if channel is not None and not CHANNEL_CODE.fullmatch(channel):
        raise ValueError(f"channel code {channel!r} must match {CHANNEL_CODE.pattern}")
    key = key or new_key()
    session.add(
        ApiKey(
            name=name,
            key_hash=hash_key(key),
            roles=[str(r) for r in roles],
            channel=channel,
            created_at=datetime.now(UTC),
        )
    )
    return key


def seed_demo_keys(engine: Engine) -> dict[str, str]:
    """Insert the demo keys when no key exists yet; returns name → key of what was seeded."""
    with Session(engine, expire_on_commit=False) as session:
        if session.exec(select(ApiKey.id).limit(1)).first() is not None:
            return {}
        seeded = {
            name: create_api_key(session, name, roles, key)
            for name, (key, roles) in DEMO_KEYS.items()
        }
        session.commit()
    return seeded


_KEY = ApiKey.__table__.c  # type: ignore[attr-defined]
#: The one look-up of a key: by its hash (unique index), only the columns a principal needs.
_BY_HASH = sa.select(_KEY.name, _KEY.roles, _KEY.channel).where(
    _KEY.key_hash == sa.bindparam("digest")
)


def principal_for(session: Session, key: str) -> Principal | None:
    """The principal ``key`` stands for now, or None (unknown or revoked).

    Read from the pool on every request, in the caller's session: a key revoked from the CLI
    (another process) is refused by the next request. One indexed read on the request's own
    connection costs tens of microseconds, less than any cache that would need the database to
    learn of a revocation anyway.
    """
    row = session.connection().execute(_BY_HASH, {"digest": hash_key(key)}).first()
    if row is None:
        return None
    name, roles, channel = row
    return Principal(
        name=name, roles=[Role(r) for r in roles if r in Role._value2member_map_], channel=channel
    )


class KeyStore:
    """Resolves keys to principals, exactly (see ``principal_for``): no cache to outlive a
    revocation."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def resolve(self, key: str) -> Principal | None:
        with Session(self._engine, expire_on_commit=False) as session:
            return principal_for(session, key)
