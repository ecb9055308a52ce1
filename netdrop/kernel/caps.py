"""The capabilities netdrop's BPF programs need, read from /proc/self/status (root alone is not enough: a
container or `capsh --drop` may take them away)."""
from __future__ import annotations

from typing import List

CAP_SYS_ADMIN, CAP_PERFMON, CAP_BPF = 21, 38, 39
NAMES = {CAP_SYS_ADMIN: "CAP_SYS_ADMIN", CAP_PERFMON: "CAP_PERFMON", CAP_BPF: "CAP_BPF"}


def effective(status: str = "/proc/self/status") -> int:
    try:
        with open(status) as f:
            for line in f:
                if line.startswith("CapEff:"):
                    return int(line.split()[1], 16)
    except OSError:
        pass
    return 0


def last_cap(path: str = "/proc/sys/kernel/cap_last_cap") -> int:
    try:
        with open(path) as f:
            return int(f.read())
    except (OSError, ValueError):
        return CAP_SYS_ADMIN


def missing_for_bpf(eff: int, last: int) -> List[str]:
    """What is missing to load and attach tracing programs: CAP_SYS_ADMIN, or CAP_BPF + CAP_PERFMON where the
    kernel has them (5.8+). [] when netdrop can load its programs."""
    if eff >> CAP_SYS_ADMIN & 1:
        return []
    if last < CAP_BPF:  # before 5.8 only CAP_SYS_ADMIN allows it
        return [NAMES[CAP_SYS_ADMIN]]
    missing = [NAMES[c] for c in (CAP_BPF, CAP_PERFMON) if not eff >> c & 1]
    return [f"{NAMES[CAP_SYS_ADMIN]} (or {' and '.join(missing)})"] if missing else []


def bpf_capability_problem() -> str:
    """'' when this process may load BPF tracing programs, else which capabilities it lacks."""
    missing = missing_for_bpf(effective(), last_cap())
    return f"this process lacks {missing[0]}" if missing else ""
