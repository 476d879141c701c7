"""What the pool answers when it refuses a channel's request (a reservation, an online order).

One shape for every such refusal, so the API maps it to an HTTP answer in one place
(``api.channel_access.as_api_error``).
"""

from __future__ import annotations


class PoolRefusal(ValueError):
    """A request the pool refuses; ``kind`` says which HTTP answer it deserves."""

    def __init__(self, kind: str, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.kind = kind  # not_found | forbidden | conflict | refused
        self.message = message
        self.field = field
