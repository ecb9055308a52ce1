"""The counters of iptables raw PREROUTING rules that match one destination address.

The wrong-MAC fault's classic symptom is such a rule that never counts: OTHERHOST frames die in ip_rcv_core(),
before netfilter's first hook. netdrop quotes the counter as evidence, read with `iptables-save -c` (which lists
iptables-nft and iptables-legacy rules alike), and only when such a rule exists.
"""
from __future__ import annotations

import re
import shutil
import subprocess
from dataclasses import dataclass
from typing import List, Optional

from .netns import handle_of

_RULE = re.compile(r"^\[(\d+):(\d+)\]\s+(-A PREROUTING\b.*)$")


@dataclass(frozen=True)
class RawRule:
    rule: str  # as iptables-save prints it, e.g. "-A PREROUTING -d 10.77.0.3/32"
    packets: int
    bytes: int

    def to_dict(self):
        return {"rule": self.rule, "packets": self.packets, "bytes": self.bytes}


def parse_raw_prerouting(text: str, ip: str) -> List[RawRule]:
    """Rules of the raw table's PREROUTING chain whose destination is exactly `ip` (iptables-save -c output)."""
    out, table = [], ""
    host_len = "128" if ":" in ip else "32"
    for line in text.splitlines():
        line = line.strip()
        if line.startswith("*"):
            table = line[1:]
            continue
        m = _RULE.match(line)
        if table != "raw" or not m:
            continue
        words = m.group(3).split()
        dst = next((words[i + 1] for i, w in enumerate(words[:-1]) if w in ("-d", "--destination")), None)
        if dst in (ip, f"{ip}/{host_len}"):
            out.append(RawRule(m.group(3), int(m.group(1)), int(m.group(2))))
    return out


def raw_prerouting(netns: Optional[str], ip: str) -> List[RawRule]:
    """The live rules for `ip` in `netns` (empty when there are none or iptables is not installed)."""
    tool = "ip6tables-save" if ":" in ip else "iptables-save"
    if not shutil.which(tool):
        return []
    cmd = [tool, "-c", "-t", "raw"]
    try:
        handle = handle_of(netns)  # any namespace the registry knows: a name, a container's, a bind mount
    except OSError:
        return []
    if handle:
        cmd = ["nsenter", f"--net={handle}"] + cmd
    r = subprocess.run(cmd, capture_output=True, text=True)
    return parse_raw_prerouting(r.stdout, ip) if r.returncode == 0 else []
