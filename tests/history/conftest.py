"""History tests: crafted summaries in temporary folders, and the suite run against the simulators."""

from tests.suite.conftest import start_stack, suite  # noqa: F401 - fixtures
