"""Drop reason names as the running kernel spells them: never a table in code.

Reason numbers differ between kernels (OTHERHOST has been 7, 8, 9 and 13), so the names come from the tracepoint's
format file (`__print_symbolic`) and, failing that, from BTF's `enum skb_drop_reason`.
"""
from __future__ import annotations

import re
from typing import Dict, Optional

from .tracefs import read_event_format

_SYMBOLIC = re.compile(r"__print_symbolic\(\s*REC->reason\s*,(.*)\)\s*$", re.S)
_PAIR = re.compile(r"\{\s*(-?\d+|0x[0-9a-fA-F]+)\s*,\s*\"([^\"]*)\"\s*\}")
_BTF_PREFIX = "SKB_DROP_REASON_"


def parse_format_reasons(format_text: str) -> Dict[int, str]:
    """Reason number -> name from a kfree_skb format file's print fmt; {} when it has no reason field."""
    m = _SYMBOLIC.search(format_text)
    if not m:
        return {}
    return {int(num, 0): name for num, name in _PAIR.findall(m.group(1))}


def reasons_from_btf(btf) -> Dict[int, str]:
    out = {}
    for val, name in btf.enum("skb_drop_reason").items():
        # SKB_DROP_REASON_SUBSYS_MASK is a bit mask over subsystem reasons, not a reason: the format file omits it
        if name.startswith(_BTF_PREFIX) and not name.endswith("_MASK"):
            out[val] = name[len(_BTF_PREFIX):]
    return out


class ReasonTable:
    """Number <-> name for this kernel. `names` is empty on kernels without drop reasons (5.10)."""

    def __init__(self, names: Dict[int, str], source: str):
        self.names = dict(names)
        self.source = source
        self._by_name = {v: k for k, v in self.names.items()}

    @classmethod
    def load(cls, btf=None) -> "ReasonTable":
        fmt = read_event_format("skb", "kfree_skb")
        if fmt:
            names = parse_format_reasons(fmt)
            if names:
                return cls(names, "tracepoint format")
        if btf is not None:
            names = reasons_from_btf(btf)
            if names:
                return cls(names, "BTF enum skb_drop_reason")
        return cls({}, "none (this kernel has no drop reasons)")

    def name(self, number: int) -> str:
        if not self.names:
            return "-"
        return self.names.get(number, f"REASON_{number}")

    def number(self, name: str) -> Optional[int]:
        name = name.upper()
        if name.startswith(_BTF_PREFIX):
            name = name[len(_BTF_PREFIX):]
        return self._by_name.get(name)

    @property
    def available(self) -> bool:
        return bool(self.names)
