"""The table of causes netdrop can name. Each rule: the drop reasons it claims, how its drops are grouped, and a
function that turns one group plus the host's facts into a Finding (explanation, evidence, fix).

Reason names are the kernel's own (read at run time); a kernel without reasons gets OTHERHOST from enrich.py.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Optional, Tuple

from ..model import Finding
from .explain_ip import (explain_backlog, explain_no_socket, explain_not_local, explain_netfilter, explain_rcvbuf,
                         explain_rp_filter, explain_unresolved_neighbour)
from .explain_mac import explain_mac_mismatch


@dataclass(frozen=True)
class Rule:
    cause: str
    reasons: Tuple[str, ...]
    by_destination: bool  # group OTHERHOST drops by (dst MAC, dst address) rather than by interface
    explain: Callable[..., Optional[Finding]]
    # Multicast and broadcast frames are left to the drop table: interfaces coming up send MLD reports, neighbour
    # solicitations and DAD to groups nobody here joined, and broadcasts to closed ports are normal. A rule whose
    # words are about one local address or socket explains unicast only.
    unicast_only: bool = True
    needs_frames: bool = True  # its words need a sampled frame (addresses, ports); else explain_unsampled speaks


RULES: Tuple[Rule, ...] = (
    Rule("mac-mismatch", ("OTHERHOST",), True, explain_mac_mismatch, needs_frames=False),
    Rule("no-socket", ("NO_SOCKET",), False, explain_no_socket),
    Rule("rp-filter", ("IP_RPFILTER",), False, explain_rp_filter, unicast_only=False),
    Rule("netfilter-drop", ("NETFILTER_DROP",), False, explain_netfilter, unicast_only=False),
    Rule("not-local", ("IP_INADDRERRORS", "IP_INNOROUTES", "IP_INVALID_SOURCE"), False, explain_not_local),
    Rule("unresolved-neighbour", ("NEIGH_FAILED", "NEIGH_QUEUEFULL"), False, explain_unresolved_neighbour),
    Rule("rcvbuf-full", ("SOCKET_RCVBUFF",), False, explain_rcvbuf),
    Rule("backlog-full", ("CPU_BACKLOG",), False, explain_backlog, unicast_only=False, needs_frames=False),
)
