"""Per-interface IPv4/IPv6 sysctls of any namespace, read-only (/proc/sys as seen from inside the namespace)."""
from __future__ import annotations

from typing import Dict, Optional

from .netns import entered

ARP_KEYS = ("arp_ignore", "arp_announce", "arp_filter")


def read(netns: Optional[str], path: str) -> Optional[str]:
    """`path` like "net/ipv4/conf/vB/rp_filter"; None when absent."""
    try:
        with entered(netns):
            with open("/proc/sys/" + path) as f:
                return f.read().strip()
    except OSError:
        return None


def conf(netns: Optional[str], ifname: str, key: str, family: str = "ipv4") -> Dict[str, Optional[str]]:
    """The value on the interface and on "all" (the kernel combines them: max for most, "or" for some)."""
    return {scope: read(netns, f"net/{family}/conf/{scope}/{key}") for scope in (ifname, "all")}


def effective_max(values: Dict[str, Optional[str]]) -> Optional[int]:
    """rp_filter, arp_ignore and arp_announce take the larger of conf/all and conf/<if>."""
    nums = [int(v) for v in values.values() if v is not None and v.lstrip("-").isdigit()]
    return max(nums) if nums else None
