"""`netdrop check`: what this kernel and host offer netdrop, one row per capability with a fix hint. It asks every
layer (kernel facts, bcc, BPF sources, namespaces' counters), so it sits above them all. Never raises."""
from __future__ import annotations

import os
from dataclasses import dataclass
from typing import List, Optional

from .errors import KernelError
from .kernel.btf import BTF, STRUCT
from .kernel.caps import bpf_capability_problem
from .kernel.features import kprobes_available
from .kernel.ksyms import Ksyms
from .kernel.reasons import ReasonTable
from .kernel.tracefs import describe as tracefs_describe
from .kernel.tracefs import mount_points as tracefs_mount_points
from .kernel.tracefs import tracefs_root


@dataclass(frozen=True)
class Capability:
    name: str
    ok: bool
    detail: str
    hint: str = ""
    required: bool = False


def capabilities() -> List[Capability]:
    """Everything `netdrop check` reports. Never raises: each failure becomes a row with a hint."""
    rows: List[Capability] = []
    root = os.geteuid() == 0
    rows.append(Capability("root", root, "running as root" if root else "not root", "run netdrop with sudo", True))
    if root:
        problem = bpf_capability_problem()
        rows.append(Capability("BPF capabilities", not problem, problem or "may load and attach BPF programs",
                               "run with full root capabilities (containers: --cap-add BPF --cap-add PERFMON, or "
                               "--privileged)", True))
    from .bpf.session import bcc_version
    version = bcc_version()
    if version:
        rows.append(Capability("bcc", True, f"python3-bpfcc {version}", required=True))
    else:
        rows.append(Capability("bcc", False, "bcc's Python module is missing",
                               "apt-get install python3-bpfcc (not PyPI's unrelated `bcc`)", True))
    btf: Optional[BTF] = None
    try:
        btf = BTF.load()
        rows.append(Capability("BTF", True, "/sys/kernel/btf/vmlinux", required=True))
    except KernelError as exc:
        rows.append(Capability("BTF", False, exc.message, "a kernel with CONFIG_DEBUG_INFO_BTF=y is needed", True))
    root_tfs = tracefs_root()
    rows.append(Capability("tracefs", bool(root_tfs), tracefs_describe(),
                           "run as root" if tracefs_mount_points() else
                           "mount -t tracefs nodev /sys/kernel/tracing (reason names then come from the format file;"
                           " without it they come from BTF)"))
    try:
        from .bpf.sources import bpf_dir
        rows.append(Capability("BPF sources", True, bpf_dir(), required=True))
    except KernelError as exc:
        rows.append(Capability("BPF sources", False, exc.message, exc.hint, True))
    from .kernel.headers import find_headers
    try:
        tree = find_headers()
        detail = f"{tree.kernel}" + ("" if tree.exact else " (another kernel's: fine, offsets come from BTF)")
        tree.cleanup()
        rows.append(Capability("kernel headers", True, detail, required=True))
    except KernelError as exc:
        rows.append(Capability("kernel headers", False, exc.message, exc.hint, True))
    if btf is not None:
        params = btf.typedef_proto_params("btf_trace_kfree_skb")
        rows.append(Capability("skb:kfree_skb", bool(params), "raw tracepoint " + (", ".join(params[1:]) if params
                                                                                   else "missing"),
                               "netdrop needs the skb:kfree_skb tracepoint", True))
        reasons = ReasonTable.load(btf)
        has_arg = bool(params) and "enum skb_drop_reason" in params
        rows.append(Capability("drop reasons", has_arg and reasons.available,
                               f"{len(reasons.names)} names from {reasons.source}" if has_arg else
                               "this kernel's kfree_skb has no reason (before 5.17): drops are attributed by "
                               "location and packet type", "Linux 5.18+ names OTHERHOST drops directly"))
        other = reasons.number("OTHERHOST")
        rows.append(Capability("OTHERHOST reason", other is not None,
                               f"reason {other}" if other is not None else "not in this kernel",
                               "drops are attributed by location in ip_rcv_core and skb->pkt_type instead"))
        rows.append(Capability("ring buffer", btf.has_func("bpf_ringbuf_reserve"),
                               "BPF ring buffer" if btf.has_func("bpf_ringbuf_reserve") else "missing (Linux < 5.8)",
                               "per-drop events need Linux 5.8+; counts still work"))
    rows.append(_otherhost_counter())
    kprobes = kprobes_available()
    rows.append(Capability("kprobes", kprobes, "available" if kprobes else "not in this kernel (CONFIG_KPROBES off)",
                           "classification hooks on eth_type_trans/ip_rcv_core need kprobes or fentry"))
    ks = Ksyms.load()
    for fn in ("eth_type_trans", "ip_rcv_core"):
        present = ks.has(fn)
        rows.append(Capability(f"symbol {fn}", present, "in kallsyms" if present else "absent (inlined?)",
                               "the hook on it cannot attach; the kfree_skb evidence still stands"))
    if btf is not None:
        rows.append(Capability("struct offsets", btf.find(STRUCT, "sk_buff") is not None,
                               "sk_buff/net_device layouts from BTF", required=True))
        if root:
            from .kernel.trampoline import probe_fentry
            ok, detail = probe_fentry(btf)
        else:
            ok, detail = False, "not probed (needs root)"
        if root:
            from .kernel.tpbtf import probe
            tp_ok, tp_detail = probe(btf)
        else:
            tp_ok, tp_detail = False, "not probed (needs root)"
        rows.append(Capability("kfree_skb hook", tp_ok,
                               ("tp_btf (BTF-typed, direct loads): " if tp_ok else "raw tracepoint (fallback): ")
                               + tp_detail,
                               "netdrop uses the raw tracepoint with probe reads instead (costs more per drop)"))
        rows.append(Capability("fentry/fexit", ok, detail,
                               "the classification hooks use kprobes instead" if kprobes else
                               "without fentry or kprobes the classification hooks cannot attach; the kfree_skb "
                               "evidence still stands"))
    return rows


def _otherhost_counter() -> Capability:
    try:
        from .net.links import read_netns
        from .net.netns import HOST, own_inode
        lo = next(i for i in read_netns(HOST, own_inode()) if i.kind == "loopback")
        ok = lo.rx_otherhost_dropped is not None
    except Exception as exc:  # check must never fail: report why
        return Capability("rx_otherhost_dropped", False, f"could not read: {exc}")
    return Capability("rx_otherhost_dropped", ok, "in IFLA_STATS64" if ok else "not in this kernel (before 5.19)",
                      "without it the trace is the only evidence of OTHERHOST drops")
