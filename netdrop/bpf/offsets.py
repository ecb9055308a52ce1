"""The probe configuration the BPF programs are compiled with (budgets, filters, ring buffer), as -D macros; the
kernel's own facts (offsets, argument positions) come from netdrop/kernel/offsets.py. Pure: no bcc."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Dict, List, Optional

from ..errors import KernelError

@dataclass(frozen=True)
class Filters:
    netns: Optional[int] = None
    ifindex: Optional[int] = None
    reason: Optional[int] = None
    otherhost: bool = False
    l4proto: Optional[int] = None
    port: Optional[int] = None
    host4: Optional[int] = None  # network byte order as read from the packet, as an integer in host order
    mac: Optional[bytes] = None

    def macros(self) -> Dict[str, int]:
        out: Dict[str, int] = {}
        for name in ("netns", "ifindex", "reason", "l4proto", "port", "host4"):
            val = getattr(self, name)
            if val is not None:
                out["FILTER_" + name.upper()] = val
        if self.otherhost:
            out["FILTER_OTHERHOST"] = 1
        if self.mac is not None:
            out["FILTER_MAC_HI"] = int.from_bytes(self.mac[:2], "big")
            out["FILTER_MAC_LO"] = int.from_bytes(self.mac[2:], "big")
        return out


BUDGET_TICK_MS = 100  # the event budget is granted per CPU in windows of this length (session.drain advances them)


@dataclass(frozen=True)
class ProbeConfig:
    event_budget: int = 2000  # sampled events per second per CPU (0: counts only)
    ringbuf_pages: int = 256  # power of two
    max_keys: int = 16384
    snaplen: int = 128
    with_stack: bool = False
    filters: Filters = Filters()

    def cflags(self, kernel_macros: Dict[str, int]) -> List[str]:
        if self.snaplen % 8 or not 16 <= self.snaplen <= 1024:
            raise KernelError(f"snaplen {self.snaplen} is not a multiple of 8 in 16..1024", "")
        macros = dict(kernel_macros)
        per_tick = max(1, self.event_budget * BUDGET_TICK_MS // 1000) if self.event_budget else 0
        macros.update(EVENT_BUDGET=self.event_budget, EVENT_BUDGET_TICK=per_tick, RINGBUF_PAGES=self.ringbuf_pages,
                      MAX_KEYS=self.max_keys, SNAPLEN=self.snaplen)
        macros.update(self.filters.macros())
        flags = [f"-D{k}={v}" for k, v in sorted(macros.items())]
        if self.with_stack:
            flags.append("-DWITH_STACK=1")
        return flags
