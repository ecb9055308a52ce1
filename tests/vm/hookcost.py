"""Inside a guest: packets/s of the lab's wrong-MAC flood without and with the classification hooks attached
(the per-packet probes), each twice, interleaved; then the kfree_skb program's own cost per drop on each way it
can attach (tp_btf with direct loads, the raw tracepoint fallback), from the kernel's BPF statistics. Prints one
JSON line."""
import json
import os
import subprocess
import sys

sys.path.insert(0, os.getcwd())

from netdrop import lab as L  # noqa: E402
from netdrop.bpf.offsets import ProbeConfig  # noqa: E402
from netdrop.bpf.session import ClassifySession  # noqa: E402
from netdrop.collect import Collector  # noqa: E402
from netdrop.kernel.bpfsys import enable_run_time_stats  # noqa: E402
from netdrop.classify import ip_rcv_core_symbol  # noqa: E402
from netdrop.kernel.features import KernelInfo  # noqa: E402


def flood_rate(seconds=3.0):
    out = subprocess.run([sys.executable, "-m", "netdrop", "lab", "flood", "--seconds", str(seconds)],
                         capture_output=True, text=True, check=True).stdout
    return int(out.split()[1]) / seconds


def own_prog_runs():
    """(run_time_ns, run_cnt) summed over the BPF programs this process holds (its fdinfo; no bpftool needed)."""
    ns = cnt = 0
    for fd in os.listdir("/proc/self/fdinfo"):
        try:
            with open(f"/proc/self/fdinfo/{fd}") as f:
                info = dict(ln.split(":", 1) for ln in f if ":" in ln)
        except OSError:
            continue
        if "prog_id" in info and "run_cnt" in info and "link_id" not in info:
            ns += int(info["run_time_ns"])
            cnt += int(info["run_cnt"])
    return ns, cnt


def kfree_cost(k):
    """{hook: {ns_per_drop, ratio}} for tp_btf and raw_tracepoint (ratio: flood rate hooked / untraced)."""
    out = {}
    stats = enable_run_time_stats()
    try:
        for hook in ("tp_btf", "raw_tracepoint"):
            os.environ["NETDROP_KFREE_HOOK"] = hook
            os.environ.setdefault("NETDROP_CACHE_DIR", "off")
            base = flood_rate()
            try:
                with Collector(k, ProbeConfig(event_budget=0)) as col:
                    if col.hook != hook:
                        out[hook] = {"error": col.hooks()[0].get("why", "not attached")}
                        continue
                    r0 = own_prog_runs()
                    rate = flood_rate()
                    r1 = own_prog_runs()
            except Exception as exc:
                out[hook] = {"error": str(exc)}
                continue
            runs = r1[1] - r0[1]
            out[hook] = {"ns_per_drop": round((r1[0] - r0[0]) / runs, 1) if runs else None,
                         "ratio": round(rate / base, 3)}
    finally:
        os.environ.pop("NETDROP_KFREE_HOOK", None)
        if stats >= 0:
            os.close(stats)
    return out


def main():
    k = KernelInfo.load()
    L.up("wrong-mac")
    res = {}
    try:
        for mode in ("fentry", "kprobe"):
            base, hooked = [], []
            for _ in range(2):
                base.append(flood_rate())
                try:
                    with ClassifySession(k.macros, ip_rcv_core_symbol(k.ksyms), k.btf.has_func("ip_rcv_core"),
                                         prefer=mode) as s:
                        if s.mode != mode:
                            raise RuntimeError(s.hooks[0].get("why"))
                        hooked.append(flood_rate())
                except Exception as exc:
                    res[mode] = {"error": str(exc)}
                    break
            else:
                res[mode] = {"untraced_pps": round(sum(base) / 2), "hooked_pps": round(sum(hooked) / 2),
                             "ratio": round(sum(hooked) / sum(base), 3)}
        res["kfree_skb"] = kfree_cost(k)
    finally:
        L.down()
    print(json.dumps(res))


if __name__ == "__main__":
    main()
