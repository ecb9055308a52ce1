"""Per-drop cost of a tool's kfree_skb program, from the kernel's own BPF statistics (run_time_ns / run_cnt).

Far less sensitive to the machine's load than drop rates: it is the program's own run time per run. The
statistics are switched on with a BPF_ENABLE_STATS fd held for the benchmark (reference-counted: the host's
kernel.bpf_stats_enabled is left as found). A tool's programs are told apart from others' by the process that
holds them (the prog_id lines of its /proc/PID/fdinfo), so programs other people load on the same machine are never
counted.
"""
from __future__ import annotations

import json
import os
import subprocess
import time
from typing import Dict, List, Set, Tuple


def _progs() -> List[Dict]:
    out = subprocess.run(["bpftool", "-j", "prog", "show"], capture_output=True, text=True)
    return json.loads(out.stdout) if out.returncode == 0 and out.stdout.strip() else []


def _held_by(pid: int) -> Set[int]:
    """Ids of the BPF programs process `pid` holds an fd of (a program's or a link's)."""
    ids = set()
    base = f"/proc/{pid}/fdinfo"
    for fd in os.listdir(base):
        try:
            with open(os.path.join(base, fd)) as f:
                ids.update(int(ln.split()[1]) for ln in f if ln.startswith("prog_id:"))
        except (OSError, ValueError, IndexError):
            continue
    return ids


def kfree_progs_of(pid: int, wait: float = 0.0) -> List[int]:
    """Ids of the programs process `pid` holds that run on kfree_skb (netdrop's and bpftrace's are named so),
    polling up to `wait` seconds for them to appear."""
    deadline = time.monotonic() + wait
    while True:
        held = _held_by(pid)
        ids = [p["id"] for p in _progs() if p["id"] in held and "kfree_skb" in p.get("name", "")]
        if ids or time.monotonic() >= deadline:
            return ids
        time.sleep(0.02)


def totals(ids: List[int]) -> Tuple[int, int]:
    """(run_time_ns, run_cnt) summed over `ids`."""
    ns = cnt = 0
    for p in _progs():
        if p["id"] in ids:
            ns += p.get("run_time_ns", 0)
            cnt += p.get("run_cnt", 0)
    return ns, cnt


def per_run(before: Tuple[int, int], after: Tuple[int, int]) -> float:
    runs = after[1] - before[1]
    return (after[0] - before[0]) / runs if runs > 0 else 0.0
