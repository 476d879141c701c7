"""The documented way to start agent-chat-ui must leave it a place to enter the API key.

agent-chat-ui shows its setup form (deployment URL, assistant id, "LangSmith API key") only
when the deployment URL or the assistant id is missing; with both ``NEXT_PUBLIC_API_URL`` and
``NEXT_PUBLIC_ASSISTANT_ID`` set it skips the form, sends no ``x-api-key`` and every call gets a
401. Found by driving the real agent-chat-ui (fdc87e6) in a browser as a new user would.
"""

from __future__ import annotations

import re
from pathlib import Path

DOC = Path(__file__).resolve().parents[2] / "docs" / "api.md"
HEADING = "### Pointing agent-chat-ui at the service"


def _section() -> str:
    text = DOC.read_text(encoding="utf-8")
    start = text.index(HEADING)
    end = text.find("\n## ", start)
    return text[start : end if end != -1 else None]


def _commands(section: str) -> list[str]:
    """Shell lines of the section's code blocks, without comments."""
    blocks = re.findall(r"```bash\n(.*?)```", section, flags=re.S)
    lines = (line.split("#", 1)[0].strip() for block in blocks for line in block.splitlines())
    return [line for line in lines if line]


def test_the_documented_start_keeps_the_key_form() -> None:
    section = _section()
    assert "setup form" in section and "sp-demo-ops-key" in section
    starts = [line for line in _commands(section) if re.search(r"\b(pnpm|npm|npx|next)\b", line)]
    assert any(re.search(r"\b(dev|start)\b", line) for line in starts), starts
    for line in starts:
        both = "NEXT_PUBLIC_API_URL=" in line and "NEXT_PUBLIC_ASSISTANT_ID=" in line
        assert not both, f"agent-chat-ui skips its key form when both are set: {line}"
