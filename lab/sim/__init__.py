"""API simulators (Kubernetes, NSX Policy, vCenter) that answer as the real APIs do."""
