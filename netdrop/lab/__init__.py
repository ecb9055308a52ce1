"""The built-in reproduction lab: the wrong-MAC situation (and its relatives) in network namespaces netdrop
creates, all named PREFIX* (ndlab-* unless NETDROP_LAB_PREFIX says otherwise); `down` removes every one of them,
whatever state a crash left. Traffic only ever goes between these namespaces.

topology (names, addresses, building blocks) <- backlog, traffic <- scenarios (the registry, up, down).
"""
from .scenarios import REGISTRY, SCENARIOS, Scenario, down, up  # noqa: F401
from .topology import *  # noqa: F401,F403
from .topology import (build_macvlan, build_pair, build_vxlan, in_ns, ip, namespaces, ns_ip,  # noqa: F401
                       require_lab, set_sysctls, status)
from .traffic import KINDS, TRAFFIC_KINDS, flood, send, wrong_mac_frame  # noqa: F401
