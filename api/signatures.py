"""HMAC-SHA256 signatures of alert webhooks: ``hex(HMAC(secret, f"{timestamp}." + body))``.

Signing the timestamp with the body stops replays of an old, validly signed request; comparing
in constant time stops timing attacks on the signature.
"""

from __future__ import annotations

import hashlib
import hmac
import time

from api.errors import ApiError

SENDER_HEADER = "X-Stockpilot-Sender"
TIMESTAMP_HEADER = "X-Stockpilot-Timestamp"
SIGNATURE_HEADER = "X-Stockpilot-Signature"
MAX_SKEW_S = 300


def sign(secret: str, timestamp: str, body: bytes) -> str:
    mac = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256)
    return "sha256=" + mac.hexdigest()


def signed_headers(
    sender: str, secret: str, body: bytes, at: float | None = None
) -> dict[str, str]:
    """What a sender puts on its request (used by tests, the docs and the CLI)."""
    timestamp = str(int(at if at is not None else time.time()))
    return {
        SENDER_HEADER: sender,
        TIMESTAMP_HEADER: timestamp,
        SIGNATURE_HEADER: sign(secret, timestamp, body),
        "Content-Type": "application/json",
    }


def verify(
    secrets: dict[str, str],
    *,
    sender: str | None,
    timestamp: str | None,
    signature: str | None,
    body: bytes,
    now: float | None = None,
    what: str = "alert",
) -> str:
    """Return the sender when the request is authentic and fresh; otherwise raise 401.

    ``what`` names the kind of request in the errors (an alert, a fulfilment event)."""
    if not sender or not timestamp or not signature:
        missing = [
            name
            for name, value in (
                (SENDER_HEADER, sender),
                (TIMESTAMP_HEADER, timestamp),
                (SIGNATURE_HEADER, signature),
            )
            if not value
        ]
        raise ApiError(401, f"unsigned {what}: missing {', '.join(missing)}", field=missing[0])
    secret = secrets.get(sender)
    if secret is None:
        raise ApiError(401, f"unknown {what} sender {sender!r}", field=SENDER_HEADER, value=sender)
    try:
        sent_at = int(timestamp)
    except ValueError:
        raise ApiError(
            401, "timestamp must be Unix seconds", field=TIMESTAMP_HEADER, value=timestamp
        ) from None
    skew = abs((now if now is not None else time.time()) - sent_at)
    if skew > MAX_SKEW_S:
        raise ApiError(
            401,
            f"stale {what}: timestamp is {int(skew)} s away from now (limit {MAX_SKEW_S} s)",
            field=TIMESTAMP_HEADER,
            value=timestamp,
        )
    if not hmac.compare_digest(sign(secret, timestamp, body), signature.strip()):
        raise ApiError(401, f"bad {what} signature", field=SIGNATURE_HEADER)
    return sender
