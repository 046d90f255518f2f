"""Checks: pure functions from an observation to a Finding (expected, observed, likely cause, evidence)."""
