"""The suite run as a user runs it, against the API simulators (the fixtures of tests/suite)."""

from tests.suite.conftest import start_stack, suite

__all__ = ["start_stack", "suite"]
