"""EtherTypes and IP protocol numbers, written once for decode, model, watch's --proto and the BPF program (bpf/
netdrop.h's ND_ETH_P_* / ND_IPPROTO_* defines are checked against these by tests/unit/test_contract.py)."""
from __future__ import annotations

from typing import Dict, Optional

ETH_P_IP, ETH_P_ARP, ETH_P_IPV6, ETH_P_8021Q, ETH_P_8021AD = 0x0800, 0x0806, 0x86DD, 0x8100, 0x88A8
VLAN_TAGS = (ETH_P_8021Q, ETH_P_8021AD)
ETHERTYPE_NAMES = {ETH_P_ARP: "arp", ETH_P_IP: "ip", ETH_P_IPV6: "ip6"}

IPPROTO_ICMP, IPPROTO_TCP, IPPROTO_UDP, IPPROTO_ICMPV6, IPPROTO_SCTP = 1, 6, 17, 58, 132
L4_NAMES = {IPPROTO_ICMP: "icmp", IPPROTO_TCP: "tcp", IPPROTO_UDP: "udp", IPPROTO_ICMPV6: "icmp6",
            IPPROTO_SCTP: "sctp"}
WITH_PORTS = (IPPROTO_TCP, IPPROTO_UDP, IPPROTO_SCTP)  # source and destination port in the first 4 bytes
L4_BY_NAME: Dict[str, int] = {**{v: k for k, v in L4_NAMES.items()}, "ipv6-icmp": IPPROTO_ICMPV6}


def l4_number(text: str) -> Optional[int]:
    """A protocol name (tcp, udp, icmp, icmp6, ipv6-icmp, sctp) or number 0-255; None if neither."""
    p = text.lower()
    if p in L4_BY_NAME:
        return L4_BY_NAME[p]
    return int(p) if p.isdigit() and int(p) < 256 else None
