"""What a cause module exports: its Rule (the drop reasons it claims, how its drops are grouped, the function that
explains one group), plus the Finding constructor the explainers share."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Optional, Tuple

from ..model import Finding


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
    needs_frames: bool = True  # its words need a sampled frame (addresses, ports); else unsampled.explain speaks
    # On kernels without drop reasons (5.10): reason-less drops in these functions are this rule's to explain; its
    # explainer must check the fact that proves it (and return None when it does not hold)
    functions: Tuple[str, ...] = ()


def finding(cause: str, g, title: str, explanation: str, fix: str, evidence, **extra) -> Finding:
    return Finding(cause=cause, title=title, explanation=explanation, fix=fix, interface=g.interface, netns=g.netns,
                   ip=g.top("dst_ip"), count=g.count, sender_ip=g.top("src_ip"), sender_mac=g.top("src_mac"),
                   evidence=tuple(evidence) + (f"dropped at {g.location}",), extra=extra)
