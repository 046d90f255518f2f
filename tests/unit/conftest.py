"""Unit tests of the NSX/vCenter readers run against the simulators' fixtures (defined in tests/sim)."""

from tests.sim.conftest import (  # noqa: F401 - fixtures
    _shared_nsx_server,
    _shared_vcenter_server,
    api_lab_ca,
    nsx_sim,
    start_nsx_sim,
    vcenter_sim,
)
