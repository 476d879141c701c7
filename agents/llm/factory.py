"""Picks the chat model from settings: the openai client when configured, else offline."""

from __future__ import annotations

from collections.abc import Callable

from agents.llm.base import ChatModel
from agents.llm.offline import OfflinePlanner
from agents.llm.openai_adapter import OpenAIChatModel
from inventory.clock import Clock
from inventory.config import Settings
from inventory.vocabulary import Vocabulary


def make_chat_model(
    settings: Settings, clock: Clock, vocabulary: Callable[[], Vocabulary] | None = None
) -> ChatModel:
    """``clock`` is the runtime's: the offline planner dates rain scenarios by it;
    ``vocabulary`` gives it the pool's words (cities, categories, location codes)."""
    if settings.llm_configured:
        assert settings.llm_base_url and settings.llm_model
        return OpenAIChatModel(
            base_url=settings.llm_base_url,
            model=settings.llm_model,
            api_key=settings.llm_api_key,
            timeout_s=settings.llm_timeout_s,
        )
    return OfflinePlanner(clock, vocabulary)
