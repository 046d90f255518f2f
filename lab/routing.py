"""The Tier-0's routing and the site's capacity as the NSX simulator serves them (part of the lab's model).

:class:`RoutingState` is one field of :class:`lab.model.SupervisorModel` (``model.routing``): the
Tier-0 and its locale service, the edge cluster and its edge node, the BGP neighbour (its state and
what the Tier-0 advertises come from the edge's real BIRD when ``bird_socket`` is set, else from
``bgp_state`` / ``advertised``), the NCP IP pools' usage and the edge load balancer's usage. Faults
change it like the rest of the model.
"""

from __future__ import annotations

from dataclasses import dataclass, field

# A LARGE edge VM's load-balancer capacity as the lab states it (NSX sizes by form factor; the real
# figures depend on the release, so the lab's are its own): credits (a SMALL lb-service costs 1, MEDIUM 10,
# LARGE 40), virtual servers, pools and pool members.
LB_CAPACITY = {"credits": 40, "virtual_servers": 400, "pools": 400, "pool_members": 2000}
LB_CREDITS = {"SMALL": 1, "MEDIUM": 10, "LARGE": 40, "XLARGE": 80}


@dataclass
class RoutingState:
    locale_service: str = "default"
    edge_cluster: str = "edge-cluster-1"
    edge_nodes: list[str] = field(default_factory=lambda: ["edge-node-1"])
    local_as: int = 65010
    remote_as: int = 65001
    neighbor_address: str = "192.168.255.1"
    source_address: str = "192.168.255.2"
    neighbor_id: str = "upstream-router"
    # without bird_socket (the simulators in the host namespace) the neighbour's state and routes are these
    bgp_state: str = "ESTABLISHED"
    advertised: list[str] = field(default_factory=list)  # empty: the model's ingress and egress ranges
    bird_socket: str = ""  # the edge's BIRD control socket: state and advertised routes asked at request time
    bird_protocol: str = "tier0_uplink"
    # IP pools: addresses allocated beyond what the model itself uses (None: only the model's own)
    egress_allocated: int | None = None
    ingress_allocated: int | None = None
    lb_form_factor: str = "LARGE_VIRTUAL_MACHINE"
    lb_extra_credits: int = 0  # load-balancer credits in use beyond the model's own lb-services
