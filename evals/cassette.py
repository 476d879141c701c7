"""Record a live run's LLM exchanges to a cassette, and replay them later through ``respx``.

Replay keeps the real ``openai`` client and our adapter in the path (only the HTTP transport is
mocked), so LLM-driven scenarios run in CI with no network. A replayed request must follow the
recorded conversation: its *shape* (each message's role, the user's words, the tools called) is
compared, not the system prompt or tool schemas, so prompt edits do not invalidate every cassette
while a different trajectory still fails loudly.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import respx
from pydantic import BaseModel, Field

CASSETTE_VERSION = 1


class CassetteError(RuntimeError):
    """A cassette is unreadable, or a replayed run left the recorded conversation."""


class Exchange(BaseModel):
    request: dict[str, Any] = Field(description="The JSON body sent to /chat/completions.")
    status: int = 200
    response: dict[str, Any]


class Cassette(BaseModel):
    version: int = CASSETTE_VERSION
    base_url: str
    model: str
    source: str = Field(default="recorded", description="How the exchanges were obtained.")
    exchanges: list[Exchange] = Field(default_factory=list)

    @classmethod
    def load(cls, path: Path) -> Cassette:
        try:
            return cls.model_validate_json(path.read_text(encoding="utf-8"))
        except OSError as exc:
            raise CassetteError(f"{path}: cannot read cassette: {exc}") from exc
        except ValueError as exc:
            raise CassetteError(f"{path}: not a valid cassette: {exc}") from exc

    def save(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(self.model_dump_json(indent=2), encoding="utf-8")


#: A forecast artefact's creation stamp (``tools.forecast_demand.artefacts.make_version``): a
#: replay refits the model, so the stamp a nudge quotes differs from the recording's while the
#: conversation is the same.
_ARTEFACT_STAMP = re.compile(r"\b\d{8}T\d{6}\b")


def conversation_shape(body: dict[str, Any]) -> list[str]:
    """What must agree between a recorded and a replayed request."""
    shape: list[str] = []
    for message in body.get("messages", []):
        role = message.get("role", "?")
        if role == "user":
            content = message.get("content")
            if isinstance(content, str):
                content = _ARTEFACT_STAMP.sub("<fitted>", content)
            shape.append(f"user:{content}")
        elif role == "assistant":
            calls = [c.get("function", {}).get("name") for c in message.get("tool_calls") or []]
            shape.append(f"assistant:{','.join(calls)}" if calls else "assistant")
        elif role == "tool":
            shape.append("tool")
    return shape


def _chat_url(base_url: str) -> str:
    return base_url.rstrip("/") + "/chat/completions"


class _RecordingTransport(httpx.BaseTransport):
    def __init__(self, inner: httpx.BaseTransport, cassette: Cassette) -> None:
        self.inner = inner
        self.cassette = cassette

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        response = self.inner.handle_request(request)
        if request.method == "POST" and request.url.path.endswith("/chat/completions"):
            content = response.read()
            self.cassette.exchanges.append(
                Exchange(
                    request=json.loads(request.content or b"{}"),
                    status=response.status_code,
                    response=json.loads(content or b"{}"),
                )
            )
        return response


def recording_client(cassette: Cassette, *, timeout_s: float = 30.0) -> httpx.Client:
    """An httpx client for the openai adapter that appends every chat exchange to ``cassette``."""
    return httpx.Client(
        transport=_RecordingTransport(httpx.HTTPTransport(), cassette), timeout=timeout_s
    )


class CassettePlayer:
    """Serves recorded responses in order; remembers where a replay went off the record."""

    def __init__(self, cassette: Cassette) -> None:
        self.cassette = cassette
        self.position = 0
        self.problems: list[str] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content or b"{}")
        if self.position >= len(self.cassette.exchanges):
            return self._refuse(
                f"request #{self.position + 1} but the cassette holds only "
                f"{len(self.cassette.exchanges)} exchange(s)"
            )
        recorded = self.cassette.exchanges[self.position]
        want, got = conversation_shape(recorded.request), conversation_shape(body)
        if want != got:
            return self._refuse(
                f"request #{self.position + 1} left the recorded conversation: "
                f"recorded {want}, replayed {got}"
            )
        self.position += 1
        return httpx.Response(recorded.status, json=recorded.response)

    def _refuse(self, problem: str) -> httpx.Response:
        self.problems.append(problem)
        return httpx.Response(400, json={"error": {"message": f"cassette: {problem}"}})

    @property
    def unused(self) -> int:
        return len(self.cassette.exchanges) - self.position


@contextmanager
def replaying(cassette: Cassette) -> Iterator[CassettePlayer]:
    """Mock the cassette's chat endpoint with respx; every other host passes through untouched
    (the simulated enterprise systems run on localhost during a scenario)."""
    player = CassettePlayer(cassette)
    with respx.mock(assert_all_called=False) as router:
        router.post(_chat_url(cassette.base_url)).mock(side_effect=player)
        router.route().pass_through()
        yield player
