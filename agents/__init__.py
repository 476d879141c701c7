"""Agents: LangGraph graphs over the deterministic tools, behind a policy gate (DESIGN §4).

Checkpoints are deserialised against LangGraph's allowlist only: a checkpoint row must never be
able to name arbitrary Python to import. The flag is read when langgraph is first imported, so it
is set here, before any of our modules import it.
"""

import os

os.environ.setdefault("LANGGRAPH_STRICT_MSGPACK", "true")
