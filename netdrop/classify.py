"""The classification hooks' counts (bpf/classify.c) as numbers per interface and destination MAC."""
from __future__ import annotations

from typing import Dict, List, Tuple

from .bpf.layout import CLASS_KEY
from .decode import mac_str

HOOK_CLASSIFIED, HOOK_REACHED_IP = 1, 2


def decode_classes(rows: List[Tuple[bytes, int]]) -> Dict[Tuple[int, int, str], Dict[str, int]]:
    """(netns inode, ifindex, dst MAC) -> {"classified": n, "reached_ip": m}"""
    out: Dict[Tuple[int, int, str], Dict[str, int]] = {}
    for raw, n in rows:
        netns, ifindex, dst, _src, hook = CLASS_KEY.unpack_from(raw)
        slot = out.setdefault((netns, ifindex, mac_str(dst)), {"classified": 0, "reached_ip": 0})
        slot["classified" if hook == HOOK_CLASSIFIED else "reached_ip"] += n
    return out


def ip_rcv_core_symbol(ksyms) -> str:
    """ip_rcv_core's name in kallsyms ("ip_rcv_core", or a compiler clone like "ip_rcv_core.isra.0"), "" if it
    was inlined away."""
    return ksyms.find("ip_rcv_core") or ""
