"""What this kernel offers netdrop, read once per run: BTF offsets, tracepoint arguments, reason names, symbols.
(The capability table `netdrop check` prints is netdrop/check.py, above every layer it asks.)"""
from __future__ import annotations

import os
import platform
from dataclasses import dataclass, field
from typing import Dict, Optional

from ..errors import KernelError, PermissionDenied
from .btf import BTF
from .ksyms import Ksyms
from .reasons import ReasonTable

# Functions whose kfree_skb location means "dropped on IP input" (for kernels without drop reasons).
IP_RCV_FUNCS = ("ip_rcv_core", "ip_rcv", "ip6_rcv_core", "ipv6_rcv")


def kprobes_available() -> bool:
    return os.path.isdir("/sys/bus/event_source/devices/kprobe")


@dataclass
class KernelInfo:
    release: str
    btf: BTF
    reasons: ReasonTable
    macros: Dict[str, int] = field(default_factory=dict)
    _ksyms: Optional[Ksyms] = None

    @property
    def ksyms(self) -> Ksyms:
        """Loaded on first use (0.1 s for ~120k symbols): names are needed when results are shown, not to attach."""
        if self._ksyms is None:
            self._ksyms = Ksyms.load()
        return self._ksyms

    @classmethod
    def load(cls, need_root: bool = True) -> "KernelInfo":
        if need_root and os.geteuid() != 0:
            raise PermissionDenied("netdrop loads BPF programs and reads kernel symbols, which needs root",
                                   "run it with sudo")
        from .offsets import kfree_skb_args, packet_types, struct_offsets
        btf = BTF.load()
        info = cls(platform.release(), btf, ReasonTable.load(btf))
        info.macros = struct_offsets(btf)
        info.macros.update(kfree_skb_args(btf))
        info.macros.update(packet_types(btf))
        if not info.reasons.available and info.macros["ARG_REASON"] >= 0:
            raise KernelError("the kernel reports drop reasons but netdrop found no names for them",
                              "mount tracefs: mount -t tracefs nodev /sys/kernel/tracing")
        return info

    @property
    def has_reasons(self) -> bool:
        return self.macros.get("ARG_REASON", -1) >= 0

    def location(self, addr: int) -> str:
        return self.ksyms.format(addr)

    def in_ip_rcv(self, addr: int) -> bool:
        hit = self.ksyms.lookup(addr)
        return bool(hit) and hit[0] in IP_RCV_FUNCS
