"""wcp-acceptance: read-only acceptance checks for a vSphere with Tanzu Supervisor on NSX-T.

This package holds everything that is plain code (inventory model, readers, probes, checks,
report writing). It never imports pytest; the pytest glue lives in conftest.py and fixtures/.
"""

__version__ = "0.1.0"
