"""Stockpilot package."""
