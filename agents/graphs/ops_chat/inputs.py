"""The one input an ops_chat run accepts from outside: new human messages, in LangChain form.

The graph's ``input_schema`` already drops every other key; this model is what the API checks a
run's ``input`` against first, so a bad input is a 422 that names the field instead of a failed
run, and a caller cannot even try to write the approval flow's keys.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator

MAX_MESSAGE_CHARS = 20_000

Text = Annotated[str, StringConstraints(max_length=MAX_MESSAGE_CHARS)]


class TextBlock(BaseModel):
    model_config = ConfigDict(extra="allow")

    type: Literal["text"]
    text: Text


class HumanInput(BaseModel):
    """``{"role": "user", "content": "..."}`` or agent-chat-ui's ``{"type": "human", ...}``."""

    model_config = ConfigDict(extra="allow")

    role: Literal["user", "human"] | None = None
    type: Literal["human"] | None = None
    content: Text | list[TextBlock] = Field(description="The message text (or text blocks).")
    id: str | None = Field(default=None, max_length=128)

    @model_validator(mode="after")
    def _names_its_speaker(self) -> HumanInput:
        if self.role is None and self.type is None:
            raise ValueError("a message needs role 'user' (or type 'human')")
        return self


class ChatRunInput(BaseModel):
    """A chat turn: the caller's new messages (human only; the graph writes everything else)."""

    model_config = ConfigDict(extra="forbid")

    messages: list[HumanInput] = Field(min_length=1, max_length=20)
