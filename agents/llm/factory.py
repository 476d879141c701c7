"""Picks the chat model from settings: the openai client when configured, else offline."""

from __future__ import annotations

from collections.abc import Callable

import httpx

from agents.llm.base import ChatModel
from agents.llm.offline import OfflinePlanner
from inventory.clock import Clock
from inventory.config import Settings
from inventory.vocabulary import Vocabulary


def make_chat_model(
    settings: Settings,
    clock: Clock,
    vocabulary: Callable[[], Vocabulary] | None = None,
    http_client: httpx.Client | None = None,
) -> ChatModel:
    """``clock`` is the runtime's: the offline planner dates rain scenarios by it;
    ``vocabulary`` gives it the pool's words (cities, categories, location codes);
    ``http_client`` replaces the model's transport (the eval harness records cassettes)."""
    if settings.llm_configured:
        # Imported here: the openai client costs ~1 s of CPU to import, paid by every process
        # that starts the service (and every test that starts one) though most never call it.
        from agents.llm.openai_adapter import OpenAIChatModel

        assert settings.llm_base_url and settings.llm_model
        return OpenAIChatModel(
            base_url=settings.llm_base_url,
            model=settings.llm_model,
            api_key=settings.llm_api_key,
            timeout_s=settings.llm_timeout_s,
            max_retries=settings.llm_max_retries,
            max_output_tokens=settings.llm_max_output_tokens,
            context_tokens=settings.llm_context_tokens,
            http_client=http_client,
        )
    return OfflinePlanner(clock, vocabulary)
