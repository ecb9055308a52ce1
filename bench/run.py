"""netdrop's cost, measured: a wrong-MAC flood through the lab's veth pair, untraced and with each tool attached.

Run as root: `make bench` (or `.venv/bin/python bench/run.py [--rounds 3] [--seconds 3]`). It builds its own lab
(namespaces ndbench-*), compiles bench/flood.c, and for every round runs every mode once, in order, so the modes
are interleaved over time. Drop rates are the kernel's own rx_otherhost_dropped delta over the flood's wall time;
results are medians with their spread, and ratios to the untraced rate so they hold on a noisy machine.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from contextlib import contextmanager
from typing import Callable, Dict, Iterator, List, Optional

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
OUT = os.path.join(HERE, "out")
os.environ.setdefault("NETDROP_LAB_PREFIX", "ndbench-")  # a shared machine gives each user their own prefix
sys.path.insert(0, ROOT)
sys.path.insert(0, HERE)

from netdrop import lab as L  # noqa: E402  (after the prefix is set)
from netdrop.lab.traffic import wrong_mac_frame  # noqa: E402
from netdrop.kernel.bpfsys import enable_run_time_stats  # noqa: E402
from netdrop.net.links import HostFacts  # noqa: E402
import progstats  # noqa: E402  (bench/progstats.py)

NETDROP = [sys.executable, "-m", "netdrop"]
BPFTRACE_PROG = "tracepoint:skb:kfree_skb { @[args->reason] = count(); }"


def build_flood() -> str:
    os.makedirs(OUT, exist_ok=True)
    exe = os.path.join(OUT, "flood")
    subprocess.run(["gcc", "-O2", "-pthread", "-o", exe, os.path.join(HERE, "flood.c")], check=True)
    return exe


def otherhost() -> int:
    return HostFacts.collect(only=[L.RX_NS]).find_name(L.RX_IF, L.RX_NS)[0].rx_otherhost_dropped


def proc_stat(pid: int) -> Dict[str, float]:
    """CPU seconds used so far and peak RSS (MiB) of a process."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        cpu = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
        with open(f"/proc/{pid}/status") as f:
            hwm = next(int(line.split()[1]) for line in f if line.startswith("VmHWM"))
        return {"cpu": cpu, "rss_mib": hwm / 1024}
    except (OSError, StopIteration):
        return {"cpu": 0.0, "rss_mib": 0.0}


class Tool:
    """A tracing process started before the flood and stopped after it."""

    def __init__(self, name: str, argv: List[str], ready: Callable[["Tool"], bool], stdout=None,
                 ends_itself: bool = False, env: Optional[Dict[str, str]] = None):
        self.name, self.argv, self.ready_check = name, argv, ready
        self.stdout = stdout
        self.env = dict(os.environ, **(env or {}))
        self.ends_itself = ends_itself  # diagnose ends after --duration and prints its report
        self.proc: Optional[subprocess.Popen] = None
        self.startup = 0.0

    def start(self) -> None:
        t0 = time.monotonic()
        self.proc = subprocess.Popen(self.argv, stdout=self.stdout or subprocess.PIPE, stderr=subprocess.DEVNULL,
                                     text=True, env=self.env)
        deadline = t0 + 60
        while not self.ready_check(self):
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"{self.name} did not attach")
            time.sleep(0.005)
        self.startup = time.monotonic() - t0

    def stop(self) -> str:
        assert self.proc is not None
        if self.proc.poll() is None and not self.ends_itself:
            self.proc.send_signal(signal.SIGINT)
        try:
            out, _ = self.proc.communicate(timeout=60)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            out, _ = self.proc.communicate()
        return out or ""


def ready_file(path: str) -> Callable[[Tool], bool]:
    return lambda tool: os.path.exists(path)


def bpftrace_ready(tool: Tool) -> bool:
    # bpftrace prints "Attaching N probe(s)..." once attached
    line = tool.proc.stdout.readline()
    return line.startswith("Attaching")


def modes(tmp: str, seconds: float) -> Dict[str, Optional[Callable[[], Tool]]]:
    def rf(name: str) -> str:
        path = os.path.join(tmp, f"ready-{name}-{time.monotonic_ns()}")
        return path

    raw = {"NETDROP_KFREE_HOOK": "raw_tracepoint"}  # the fallback, for the tp_btf vs raw tracepoint comparison

    def diagnose(env=None) -> Tool:
        p = rf("diagnose")
        return Tool("diagnose", NETDROP + ["diagnose", "--json", "--duration", str(seconds + 1), "--ready-file", p],
                    ready_file(p), ends_itself=True, env=env)

    def top(env=None) -> Tool:
        p = rf("top")
        return Tool("top", NETDROP + ["top", "--json", "--interval", "1", "--ready-file", p], ready_file(p),
                    stdout=subprocess.DEVNULL, env=env)

    def watch(env=None) -> Tool:
        p = rf("watch")
        out = open(os.path.join(tmp, f"watch-{time.monotonic_ns()}.jsonl"), "w+")
        # a budget above the flood's rate: this measures what the JSON stream delivers, not the sampling
        return Tool("watch", NETDROP + ["watch", "--json", "--budget", "2000000", "--ready-file", p], ready_file(p),
                    stdout=out, env=env)

    def bpftrace() -> Tool:
        return Tool("bpftrace", ["bpftrace", "-e", BPFTRACE_PROG], bpftrace_ready)

    have = {m: _has_command(m) for m in ("top", "watch")}
    return {
        "untraced": None,
        "netdrop diagnose": diagnose,
        "netdrop top": top if have["top"] else None,
        "netdrop watch --json": watch if have["watch"] else None,
        "bpftrace count by reason": bpftrace if shutil.which("bpftrace") else None,
        "netdrop diagnose, raw tracepoint": lambda: diagnose(raw),
        "netdrop top, raw tracepoint": (lambda: top(raw)) if have["top"] else None,
    }


@contextmanager
def tracefs_mounted() -> Iterator[None]:
    """bpftrace resolves `tracepoint:` probes through tracefs (netdrop does not need it: BTF). Mount it for the
    benchmark when the host has not, and unmount it afterwards: the host is left as found."""
    path = "/sys/kernel/tracing"
    mounted_here = False
    if not os.path.exists(os.path.join(path, "events")):
        mounted_here = subprocess.run(["mount", "-t", "tracefs", "nodev", path], capture_output=True).returncode == 0
    try:
        yield
    finally:
        if mounted_here:
            subprocess.run(["umount", path], capture_output=True)


def _has_command(cmd: str) -> bool:
    return subprocess.run(NETDROP + [cmd, "--help"], capture_output=True).returncode == 0


def one_run(flood: str, frame_hex: str, seconds: float, factory: Optional[Callable[[], Tool]]) -> Dict:
    tool = factory() if factory else None
    if tool:
        tool.start()
        cpu0 = proc_stat(tool.proc.pid)["cpu"]
        progs = progstats.kfree_progs_of(tool.proc.pid, wait=2.0)  # bpftrace says "Attaching" before it loads
        run0 = progstats.totals(progs)
    c0, t0 = otherhost(), time.monotonic()
    r = subprocess.run(["ip", "netns", "exec", L.TX_NS, flood, L.TX_IF, str(seconds), frame_hex],
                       capture_output=True, text=True, check=True)
    elapsed, dropped = time.monotonic() - t0, otherhost() - c0
    res = {"drops_per_s": dropped / elapsed, "sent": int(r.stdout.strip()), "dropped": dropped}
    if tool:
        st = proc_stat(tool.proc.pid)
        res.update(startup_s=tool.startup, rss_mib=st["rss_mib"], cpu_s=st["cpu"] - cpu0)
        if progs:
            res["ns_per_drop"] = progstats.per_run(run0, progstats.totals(progs))
        out = tool.stop()
        if tool.name == "diagnose":
            res["exact"] = _diagnose_exact(out, dropped)
        if tool.name == "watch":
            res.update(_watch_accounting(tool.stdout, elapsed))
    return res


def _diagnose_exact(out: str, dropped: int) -> Optional[bool]:
    """netdrop's count of the wrong-MAC drops against the kernel counter over the same window."""
    try:
        report = json.loads(out)
    except ValueError:
        return None
    f = [f for f in report["findings"] if f["cause"] == "mac-mismatch"]
    return bool(f) and f[0]["count"] == f[0]["counter_delta"] and f[0]["count"] >= dropped


def _watch_accounting(f, elapsed: float) -> Dict:
    """Events delivered to the JSON stream per second of flood, and whether every counted drop is accounted for."""
    f.seek(0)
    last = None
    for line in f:
        last = line
    f.close()
    s = json.loads(last) if last else {}
    if s.get("type") != "summary":
        return {"exact": False}
    ok = s["printed"] + s["lost"] + s["sampled"] + s["filtered"] + s["not_printed"] == s["counted"]
    return {"events_per_s": s["printed"] / elapsed, "exact": ok, "lost": s["lost"], "sampled": s["sampled"]}


def summarise(results: Dict[str, List[Dict]]) -> List[Dict]:
    """Per mode: the median rate, and the median and spread of its ratio to the untraced run of the same round
    (the load others put on the machine drifts; a ratio within a round cancels most of it)."""
    base = [r["drops_per_s"] for r in results["untraced"]]
    rows = []
    for mode, runs in results.items():
        rates = [r["drops_per_s"] for r in runs]
        ratios = [r / b for r, b in zip(rates, base)]
        row = {"mode": mode, "drops_per_s": statistics.median(rates), "ratio": statistics.median(ratios),
               "ratio_min": min(ratios), "ratio_max": max(ratios), "runs": len(runs)}
        bpftrace = results.get("bpftrace count by reason")
        if bpftrace and mode.startswith("netdrop"):
            row["ahead_of_bpftrace"] = sum(r > b["drops_per_s"] for r, b in zip(rates, bpftrace))
        for k in ("startup_s", "rss_mib", "cpu_s", "events_per_s", "ns_per_drop"):
            vals = [r[k] for r in runs if k in r]
            if k in ("startup_s", "rss_mib") and len(vals) > 1:
                row[k + "_cold"] = vals[0]  # round 1: netdrop's compile cache is empty
                vals = vals[1:]
            if vals:
                row[k] = statistics.median(vals)
        exact = [r["exact"] for r in runs if "exact" in r]
        if exact:
            row["exact"] = all(exact)
        rows.append(row)
    return rows


def table(rows: List[Dict]) -> str:
    out = ["| mode | drops/s (median) | vs untraced, same round (median, spread) | rounds ahead of bpftrace | "
           "BPF ns/drop | start-up warm (cold) | peak RSS warm (cold) | CPU during flood | events/s delivered | "
           "exact |",
           "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |"]
    for r in rows:
        def f(k, fmt, missing="-"):
            return fmt.format(r[k]) if k in r else missing
        ahead = f"{r['ahead_of_bpftrace']}/{r['runs']}" if "ahead_of_bpftrace" in r else "-"
        out.append(f"| {r['mode']} | {r['drops_per_s']:,.0f} | {r['ratio'] * 100:.1f}% "
                   f"({r['ratio_min'] * 100:.1f}-{r['ratio_max'] * 100:.1f}%) | {ahead} | "
                   f"{f('ns_per_drop', '{:.0f}')} | "
                   f"{f('startup_s', '{:.2f} s')}{f('startup_s_cold', ' ({:.2f} s)', '')} | "
                   f"{f('rss_mib', '{:.0f} MiB')}{f('rss_mib_cold', ' ({:.0f} MiB)', '')} | "
                   f"{f('cpu_s', '{:.2f} s')} | {f('events_per_s', '{:,.0f}')} | "
                   f"{('yes' if r['exact'] else 'NO') if 'exact' in r else '-'} |")
    return "\n".join(out)


def guest_hook_cost(suite: str) -> Dict:
    """The per-packet cost of the classification hooks (eth_type_trans/ip_rcv_core), which cannot attach on a
    kernel without kprobes or trampolines: measured in a kernel-matrix guest (tests/vm/, qemu TCG)."""
    sys.path.insert(0, os.path.join(ROOT, "tests", "vm"))
    import run as vm  # tests/vm/run.py
    if not shutil.which("qemu-system-x86_64"):
        return {"error": "qemu-system-x86_64 is missing (scripts/install-deps.sh --vm)"}
    try:
        return vm.hook_cost(suite)
    except subprocess.CalledProcessError:
        return {"error": f"the {suite} guest could not be built"}


def hook_table(suite: str, cost: Dict) -> str:
    if "error" in cost:
        return f"classification hooks ({suite} guest): not measured: {cost['error']}"
    out = [f"Classification hooks, per received packet (guest: Debian {suite}, kernel {cost['kernel']}, qemu TCG):",
           "",
           "| hooks | packets/s untraced | packets/s hooked | vs untraced | added per packet |",
           "| --- | ---: | ---: | ---: | ---: |"]
    for mode, label in (("fentry", "fexit eth_type_trans + fentry ip_rcv_core"),
                        ("kprobe", "kretprobe eth_type_trans + kprobe ip_rcv_core")):
        c = cost.get(mode) or {}
        if "error" in c or not c:
            out.append(f"| {label} | - | - | - | {c.get('error', 'not measured')} |")
            continue
        added_us = (1 / c["hooked_pps"] - 1 / c["untraced_pps"]) * 1e6
        out.append(f"| {label} | {c['untraced_pps']:,} | {c['hooked_pps']:,} | {c['ratio'] * 100:.1f}% | "
                   f"{added_us:.2f} us |")
    return "\n".join(out)


def run_rounds(args, flood: str, frame_hex: str, tmp: str, results: Dict[str, List[Dict]]) -> None:
    """Every mode once per round, in order: the modes are interleaved over time."""
    available = {k: v for k, v in modes(tmp, args.seconds).items() if k == "untraced" or v is not None}
    for rnd in range(args.rounds):
        for mode, factory in available.items():
            res = one_run(flood, frame_hex, args.seconds, factory)
            results.setdefault(mode, []).append(res)
            print(f"round {rnd + 1} {mode}: {res['drops_per_s']:,.0f} drops/s", file=sys.stderr)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--seconds", type=float, default=3.0)
    ap.add_argument("--guest", default="trixie", help="kernel-matrix guest for the hook cost ('none': skip)")
    args = ap.parse_args()
    if os.geteuid() != 0:
        print("error: the benchmark builds namespaces and loads BPF\nhint: run it as root", file=sys.stderr)
        return 3
    flood = build_flood()
    frame_hex = wrong_mac_frame().hex()
    L.up("wrong-mac")
    tmp = tempfile.mkdtemp(prefix="netdrop-bench-")
    # netdrop's compile cache lives in the run's own directory: round 1 starts cold, the others warm, and the
    # host's /var/cache/netdrop is left as found
    os.environ.setdefault("NETDROP_CACHE_DIR", os.path.join(tmp, "cache"))
    results: Dict[str, List[Dict]] = {}
    stats_fd = enable_run_time_stats()  # BPF ns/drop column; closed below, the host's sysctl untouched
    try:
        with tracefs_mounted():
            run_rounds(args, flood, frame_hex, tmp, results)
    finally:
        if stats_fd >= 0:
            os.close(stats_fd)
        L.down()
        shutil.rmtree(tmp, ignore_errors=True)
    rows = summarise(results)
    print(table(rows), flush=True)
    cost = guest_hook_cost(args.guest) if args.guest != "none" else {"error": "skipped (--guest none)"}
    with open(os.path.join(OUT, "results.json"), "w") as f:
        json.dump({"rows": rows, "runs": results, "seconds": args.seconds, "kernel": os.uname().release,
                   "cpus": os.cpu_count(), "hook_cost": cost}, f, indent=2)
    print()
    print(hook_table(args.guest, cost))
    return 0


if __name__ == "__main__":
    sys.exit(main())
