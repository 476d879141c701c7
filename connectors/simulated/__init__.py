"""Simulated enterprise systems: the embedded default behind the connectors (DESIGN §6)."""
