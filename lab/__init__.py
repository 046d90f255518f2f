"""The lab: the Supervisor's world rebuilt on this machine (API simulators now, namespaces next).

Nothing here is imported by the suite; the lab only produces what a live site would offer
(endpoints, certificates, an inventory).
"""
