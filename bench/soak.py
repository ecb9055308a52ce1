"""`netdrop export` soaked under a wrong-MAC flood: RSS over time, CPU per interval and per scrape, and the exported
count against the kernel's own rx_otherhost_dropped counter at the end.

Run as root: `make soak` (or `.venv/bin/python bench/soak.py [--minutes 10]`). Builds its own lab (namespaces
ndsoak-*), floods through its veth pair with bench/flood.c, scrapes the exporter over loopback, removes the lab.
"""
from __future__ import annotations

import argparse
import json
import os
import re
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from typing import Dict, List

os.environ.setdefault("NETDROP_LAB_PREFIX", "ndsoak-")
HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import run as bench  # noqa: E402  (bench/run.py: the flood, the counter, /proc readings)

L = bench.L
SCRAPES = 20  # back-to-back scrapes per sample, for CPU per scrape


def rss_mib(pid: int) -> float:
    with open(f"/proc/{pid}/status") as f:
        return next(int(line.split()[1]) for line in f if line.startswith("VmRSS")) / 1024


def scrape(port: int) -> str:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as r:
        return r.read().decode()


def exported_otherhost(text: str) -> int:
    pat = re.compile(r'^netdrop_otherhost_drops_total\{[^}]*interface="%s"[^}]*netns="%s"[^}]*\} (\S+)$'
                     % (L.RX_IF, L.RX_NS), re.M)
    return int(sum(float(v) for v in pat.findall(text)))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--minutes", type=float, default=10.0)
    ap.add_argument("--interval", type=float, default=5.0, help="the exporter's --interval")
    ap.add_argument("--every", type=float, default=30.0, help="seconds between samples")
    ap.add_argument("--threads", type=int, default=1, help="flood threads (1 leaves a core to the exporter)")
    args = ap.parse_args()
    if os.geteuid() != 0:
        print("error: the soak builds namespaces and loads BPF\nhint: run it as root", file=sys.stderr)
        return 3
    flood = bench.build_flood()
    frame_hex = bench.wrong_mac_frame().hex()
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    L.up("wrong-mac")
    tmp = tempfile.mkdtemp(prefix="netdrop-soak-")
    ready = os.path.join(tmp, "ready")
    env = dict(os.environ, NETDROP_CACHE_DIR=os.path.join(tmp, "cache"))
    exporter = subprocess.Popen(bench.NETDROP + ["export", "--listen", f"127.0.0.1:{port}", "--interval",
                                                 str(args.interval), "--netns", L.RX_NS, "--ready-file", ready],
                                env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    samples: List[Dict] = []
    flooder = None
    try:
        while not os.path.exists(ready):
            if exporter.poll() is not None:
                raise SystemExit(f"netdrop export exited: {exporter.stderr.read()}")
            time.sleep(0.05)
        c0 = bench.otherhost()
        seconds = args.minutes * 60
        flooder = subprocess.Popen(["ip", "netns", "exec", L.TX_NS, flood, L.TX_IF, str(seconds), frame_hex,
                                    str(args.threads)], stdout=subprocess.PIPE, text=True)
        t0 = time.monotonic()
        cpu_prev, at_prev = bench.proc_stat(exporter.pid)["cpu"], t0
        while flooder.poll() is None:
            time.sleep(min(args.every, max(0.0, t0 + seconds - time.monotonic()) + 0.1))
            if flooder.poll() is not None:
                break
            now = time.monotonic()
            cpu = bench.proc_stat(exporter.pid)["cpu"]
            idle_cpu = (cpu - cpu_prev) / ((now - at_prev) / args.interval)  # per interval, scrapes excluded
            s0 = time.monotonic()
            for _ in range(SCRAPES):
                text = scrape(port)
            lat = (time.monotonic() - s0) / SCRAPES
            cpu_after = bench.proc_stat(exporter.pid)["cpu"]
            samples.append({"t": round(now - t0), "rss_mib": round(rss_mib(exporter.pid), 1),
                            "cpu_ms_per_interval": round(idle_cpu * 1000, 1),
                            "cpu_ms_per_scrape": round((cpu_after - cpu) / SCRAPES * 1000, 2),
                            "scrape_ms": round(lat * 1000, 2), "bytes": len(text),
                            "exported": exported_otherhost(text)})
            print(json.dumps(samples[-1]), file=sys.stderr, flush=True)
            cpu_prev, at_prev = cpu_after, time.monotonic()
        sent = int(flooder.communicate()[0].strip() or 0)
        time.sleep(2 * args.interval + 1)  # the last reading covers every drop
        exported = exported_otherhost(scrape(port))
        counted = bench.otherhost() - c0
    finally:
        if flooder is not None and flooder.poll() is None:
            flooder.kill()
        exporter.terminate()
        exporter.communicate(timeout=60)
        L.down()
        subprocess.run(["rm", "-rf", tmp])
    rss = [s["rss_mib"] for s in samples]
    result = {"minutes": args.minutes, "interval": args.interval, "sent": sent, "kernel_counter": counted,
              "exported": exported, "exact": exported == counted, "exit_code": exporter.returncode,
              "rss_first_mib": rss[0] if rss else None, "rss_last_mib": rss[-1] if rss else None,
              "rss_max_mib": max(rss) if rss else None, "samples": samples, "kernel": os.uname().release}
    os.makedirs(bench.OUT, exist_ok=True)
    with open(os.path.join(bench.OUT, "soak.json"), "w") as f:
        json.dump(result, f, indent=2)
    per_scrape = sorted(s["cpu_ms_per_scrape"] for s in samples)
    per_interval = sorted(s["cpu_ms_per_interval"] for s in samples)
    print(f"{args.minutes:g} min flood: {counted:,} wrong-MAC drops counted by the kernel, {exported:,} exported "
          f"({'exact' if exported == counted else 'NOT exact'}); exporter exit {exporter.returncode}")
    if samples:
        print(f"RSS {rss[0]} MiB at {samples[0]['t']} s, {rss[-1]} MiB at {samples[-1]['t']} s (max {max(rss)}); "
              f"CPU per {args.interval:g} s interval: median {per_interval[len(per_interval) // 2]} ms; "
              f"per scrape: median {per_scrape[len(per_scrape) // 2]} ms")
    return 0 if exported == counted else 1


if __name__ == "__main__":
    sys.exit(main())
