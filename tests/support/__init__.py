"""Helpers shared by the test tiers (real components, started as subprocesses)."""
