"""The kernel matrix: boot Debian's stock kernels under qemu (TCG) and run netdrop's lab scenario inside each.

Usage (root): python3 tests/vm/run.py [bullseye] [bookworm] [trixie]    (default: all three; `make vm-test`)
Guests are built once by tests/vm/build.sh and cached in tests/vm/cache/ (git-ignored). The checkout goes in as a
second, read-only disk; the guests get no network but an emulated e1000e NIC joined to a tap in a namespace the
harness creates (nic.py: the e1000e scenario; NETDROP_VM_E1000E names the guests that get it, default all).
Prints per kernel: hooks, drop-reason support, the finding's count against the N packets sent and the counter, the
e1000e and VLAN scenarios' tables, and exits non-zero if any kernel fails.
NETDROP_VM_STEPS=scenarios (or e1000e, or lab: with the lab report runs) runs only `check` and those scenarios in
the guests, to work on them.
"""
from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from typing import Callable, Dict, List, Optional

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import nic as NIC  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
CACHE = os.path.join(HERE, "cache")
SUITES = {"bullseye": "Debian 11 (5.10)", "bookworm": "Debian 12 (6.1)", "trixie": "Debian 13 (6.12)"}
N = 5  # wrong-MAC packets guest-run.sh sends
BUILD_TEMPFAIL = 75  # build.sh: the archive or PyPI could not be reached (SKIP, not FAIL)
BOOT_TIMEOUT = 1800  # seconds: a guest run takes a few minutes under TCG (bcc compiles inside); this catches a hang
# The e1000e scenario's guests (default: all); CI may name fewer to stay in its time budget (.ci/run).
NIC_SUITES = os.environ.get("NETDROP_VM_E1000E", " ".join(SUITES)).split()


def build(suite: str) -> None:
    subprocess.run([os.path.join(HERE, "build.sh"), suite], check=True)


def checkout_image(tmp: str) -> str:
    """The tracked files of this checkout on a small ext4 image (what the guest runs)."""
    src = os.path.join(tmp, "src")
    files = subprocess.run(["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, check=True).stdout.split(b"\0")
    for f in filter(None, files):
        rel = f.decode()
        dst = os.path.join(src, rel)
        os.makedirs(os.path.dirname(dst), exist_ok=True)
        if os.path.isfile(os.path.join(ROOT, rel)):
            shutil.copy2(os.path.join(ROOT, rel), dst)
    img = os.path.join(tmp, "src.img")
    subprocess.run(["truncate", "-s", "64M", img], check=True)
    subprocess.run(["mke2fs", "-q", "-t", "ext4", "-F", "-d", src, img], check=True)
    return img


def boot(suite: str, src_img: str, steps: str = "all", nic: Optional[NIC.NicHost] = None) -> str:
    """Boot the guest on a throwaway copy-on-write overlay of its image; return the console output.
    steps="cost": only `netdrop check` and the hook-cost measurement (what make bench needs).
    nic: join an emulated e1000e to that host side's tap (qemu runs in its namespace) and let it read the console."""
    base = os.path.join(CACHE, f"{suite}.img")
    with tempfile.TemporaryDirectory(prefix="netdrop-vm-") as tmp:
        overlay = os.path.join(tmp, "overlay.qcow2")
        subprocess.run(["qemu-img", "create", "-q", "-f", "qcow2", "-F", "raw", "-b", base, overlay], check=True)
        append = f"root=/dev/vda rw console=ttyS0 init=/netdrop-init panic=-1 quiet netdrop.steps={steps}"
        cmd = ["qemu-system-x86_64", "-accel", "tcg", "-m", "3072", "-smp", "2", "-nographic", "-no-reboot",
               "-kernel", os.path.join(CACHE, f"{suite}.vmlinuz"), "-initrd", os.path.join(CACHE, f"{suite}.initrd"),
               "-append", append + (" " + nic.kernel_arg() if nic else ""),
               "-drive", f"file={overlay},if=virtio,format=qcow2",
               "-drive", f"file={src_img},if=virtio,format=raw,readonly=on",
               "-nic", "none"] + (nic.qemu_args() if nic else [])
        return run_console(nic.wrap(cmd) if nic else cmd, nic.on_console if nic else None,
                           os.path.join(CACHE, f"{suite}.console.log"))


def run_console(cmd: List[str], on_line: Optional[Callable[[str], None]], log: str) -> str:
    """Run qemu, reading its console line by line (on_line sees each: the e1000e scenario's signals; `log` gets
    them as they come, to follow a run); kill it after BOOT_TIMEOUT."""
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                            text=True, errors="replace")
    timed_out = threading.Event()

    def expire() -> None:
        timed_out.set()
        proc.kill()

    timer = threading.Timer(BOOT_TIMEOUT, expire)
    timer.start()
    out: List[str] = []
    try:
        with open(log, "w") as f:
            for line in proc.stdout:
                out.append(line)
                f.write(line)
                f.flush()
                if on_line:
                    on_line(line)
        proc.wait()
    finally:
        timer.cancel()
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    if timed_out.is_set():
        out.append(f"\n@@@ timeout after {BOOT_TIMEOUT} s\n")
    return "".join(out)


def sections(console: str) -> Dict[str, str]:
    out: Dict[str, str] = {}
    name = None
    for line in console.replace("\r", "").splitlines():
        m = re.search(r"@@@ (\w+)(.*)", line)  # the first line may follow the firmware's terminal escapes
        if m:
            name = m.group(1)
            out[name] = m.group(2).strip()
            continue
        if name:
            out[name] += "\n" + line
    return out


def judge(suite: str, console: str, nic: bool = False) -> Dict:
    res = judge_lab(suite, console)
    s = sections(console)
    res["vlan"] = judge_vlan(s)
    res["ok"] = res["ok"] and res["vlan"]["ok"]
    if nic:
        res["e1000e"] = NIC.judge(s, res.get("counter"))
        res["ok"] = res["ok"] and res["e1000e"]["ok"]
    return res


def judge_vlan(s: Dict[str, str]) -> Dict:
    """The VLAN case (lab scenario vlan): the finding names the VLAN sub-interface and its MAC, with exact counts."""
    try:
        rep = json.loads(s["vlan"][s["vlan"].index("{"):])
    except (KeyError, ValueError) as exc:
        return {"ok": False, "error": f"no vlan report ({exc})"}
    f = next((x for x in rep["findings"] if x["cause"] == "mac-mismatch"), {})
    head = dict(kv.split("=", 1) for kv in s["vlan"].splitlines()[0].split() if "=" in kv)
    res = {k: f.get(k) for k in ("interface", "ip", "count", "counter_delta", "seen_dst_mac", "expected_mac",
                                 "interface_kind")}
    res["ok"] = (f.get("interface") == head.get("iface") and f.get("expected_mac") == head.get("mac")
                 and f.get("count") == N and f.get("counter_delta") in (N, None) and f.get("interface_kind") == "vlan"
                 and f.get("ip") == head.get("ip"))
    return res


def judge_lab(suite: str, console: str) -> Dict:
    s = sections(console)
    res = {"suite": suite, "kernel": s.get("kernel", "?").splitlines()[0] if s.get("kernel") else "?", "ok": False}
    try:
        caps = {c["name"]: c for c in json.loads(s["check"][s["check"].index("{"):])["capabilities"]}
        report = json.loads(s["report"][s["report"].index("{"):])
    except (KeyError, ValueError) as exc:
        res["error"] = f"no result ({exc}); console tail:\n" + "\n".join(console.splitlines()[-30:])
        return res
    res["kernel"] = report.get("kernel", res["kernel"])
    found = [f for f in report["findings"] if f["cause"] == "mac-mismatch"]
    f = found[0] if found else {}
    res.update(
        reasons=caps.get("drop reasons", {}).get("ok"), otherhost_reason=caps.get("OTHERHOST reason", {}).get("ok"),
        counter=caps.get("rx_otherhost_dropped", {}).get("ok"), kprobes=caps.get("kprobes", {}).get("ok"),
        fentry=caps.get("fentry/fexit", {}).get("ok"),
        hooks=[f"{h['name']} {h.get('type')}" if h.get("attached") else f"{h['name']} not attached: {h.get('why')}"
               for h in report["hooks"]],
        count=f.get("count"), counter_delta=f.get("counter_delta"), location=f.get("location"),
        classified=f.get("classified"), reached_ip=f.get("reached_ip"))
    res["ok"] = bool(found) and f["count"] == N and f.get("counter_delta") in (N, None) and \
        f["seen_dst_mac"] == "02:de:ad:be:ef:01" and f.get("classified") == N and f.get("reached_ip") == N
    try:
        kp = json.loads(s["report_kprobe"][s["report_kprobe"].index("{"):])
        fk = next(x for x in kp["findings"] if x["cause"] == "mac-mismatch")
        res["kprobe"] = {"hooks": [f"{h['name']} {h.get('type')}" for h in kp["hooks"] if h.get("attached")],
                         "count": fk["count"], "classified": fk.get("classified"), "reached_ip": fk.get("reached_ip")}
        res["ok"] = res["ok"] and fk["count"] == fk.get("classified") == fk.get("reached_ip") == N
    except (KeyError, ValueError, StopIteration) as exc:
        res["kprobe"] = {"error": str(exc)}
        res["ok"] = False
    res["tests"] = pytest_summary(s.get("pytest", ""))
    res["ok"] = res["ok"] and res["tests"].get("failed", 0) == 0 and res["tests"].get("error", 0) == 0 and \
        res["tests"].get("passed", 0) > 0
    try:
        res["cost"] = json.loads(s["cost"].strip().splitlines()[-1])
    except (KeyError, ValueError, IndexError):
        res["cost"] = None
    return res


def hook_cost(suite: str) -> Dict:
    """Boot one guest for the hook-cost measurement only (make bench): {'kernel', 'fentry': {...}, 'kprobe': {...}}
    with packets/s untraced and hooked, or {'error': ...}."""
    build(suite)
    with tempfile.TemporaryDirectory(prefix="netdrop-vmsrc-") as tmp:
        console = boot(suite, checkout_image(tmp), steps="cost")
    s = sections(console)
    try:
        cost = json.loads(s["cost"].strip().splitlines()[-1])
    except (KeyError, ValueError, IndexError):
        return {"error": "no cost result; console tail:\n" + "\n".join(console.splitlines()[-20:])}
    return dict(cost, kernel=s.get("kernel", "?").splitlines()[0] if s.get("kernel") else "?")


def print_scenarios(results: List[Dict]) -> None:
    """The e1000e and VLAN scenarios' tables (docs/compatibility.md)."""
    def c(v) -> str:  # a cell: "-" where there is no value
        return "-" if v is None else str(v)

    rows = [r for r in results if r.get("e1000e")]
    if rows:
        print()
        print(f"| guest | kernel | driver | window | promiscuous by | drops seen (sent {NIC.N}) | counter delta | "
              "raw PREROUTING counter | classified / reached ip_rcv_core | drop stage | location, pkt_type | "
              "promiscuity before/during/after | result |")
        print("| --- " * 13 + "|")
        for r in rows:
            e = r["e1000e"]
            for w in e.get("runs", []):
                who = ", ".join(w["promiscuous_by"] or []) or "nobody"
                print(f"| {SUITES.get(r['suite'], r['suite'])} | {r['kernel']} | {c(e.get('driver'))} | {w['run']} | "
                      f"{who} | {w['otherhost_drops']} | {c(w['counter_delta'])} | {c(w['raw_prerouting'])} | "
                      f"{c(w['classified'])} / {c(w['reached_ip'])} | {c(w['drop_stage'])} | "
                      f"{c(w['location'])}, {c(w['pkt_type'])} | {w['promiscuity']} | "
                      f"{'PASS' if e['ok'] else 'FAIL'} |")
            print(f"| {SUITES.get(r['suite'], r['suite'])} | | | SIGKILL | netdrop --promisc | | | | | | | "
                  f"{c(e.get('kill', {}).get('during'))} -> {c(e.get('kill', {}).get('after'))} | |")
            for err in e.get("errors", []):
                print(f"{r['suite']} e1000e: {err}", file=sys.stderr)
    print()
    print("| guest | VLAN interface | ip | count | counter delta | seen MAC | expected MAC | result |")
    print("| --- " * 8 + "|")
    for r in results:
        v = r.get("vlan") or {}
        print(f"| {SUITES.get(r['suite'], r['suite'])} | {c(v.get('interface'))} | {c(v.get('ip'))} | "
              f"{c(v.get('count'))} | {c(v.get('counter_delta'))} | {c(v.get('seen_dst_mac'))} | "
              f"{c(v.get('expected_mac'))} | "
              f"{'PASS' if v.get('ok') else 'FAIL'} |")


def pytest_summary(text: str) -> Dict[str, int]:
    """Counts from pytest's last line, e.g. '70 passed, 12 skipped in 310.2s': {'passed': 70, 'skipped': 12}."""
    lines = [ln for ln in text.splitlines() if re.search(r"\d+ (passed|failed|error)", ln)]
    if not lines:
        return {}
    return {k.rstrip("s"): int(n) for n, k in re.findall(r"(\d+) (passed|failed|skipped|errors?)", lines[-1])}


def _tests_cell(t: Dict[str, int]) -> str:
    return ", ".join(f"{v} {k}" for k, v in t.items()) if t else "did not run"


def _kprobe_cell(k) -> str:
    if not k:
        return "-"
    if "error" in k:
        return "error: " + k["error"]
    return f"{', '.join(k['hooks'][1:])}: {k['classified']} / {k['reached_ip']} of {k['count']}"


def kfree_cost_table(results: List[Dict]) -> str:
    """The kfree_skb program's cost per drop in each guest, tp_btf vs the raw tracepoint (hookcost.py), for
    docs/compatibility.md."""
    out = ["| kernel | tp_btf: BPF ns/drop | flood vs untraced | raw tracepoint: BPF ns/drop | flood vs untraced |",
           "| --- | ---: | ---: | ---: | ---: |"]
    for r in results:
        k = (r.get("cost") or {}).get("kfree_skb") or {}
        cells = []
        for hook in ("tp_btf", "raw_tracepoint"):
            c = k.get(hook) or {}
            if "error" in c or not c:
                cells += [c.get("error", "not measured"), "-"]
            else:
                cells += [f"{c['ns_per_drop']}", f"{c['ratio'] * 100:.0f}%"]
        out.append(f"| {r.get('kernel', '?')} | " + " | ".join(cells) + " |")
    return "\n".join(out)


def main(argv: List[str]) -> int:
    if os.geteuid() != 0:
        print("error: building guests needs root (debootstrap)\nhint: run it as root", file=sys.stderr)
        return 3
    suites = argv or list(SUITES)
    results = []
    with tempfile.TemporaryDirectory(prefix="netdrop-vmsrc-") as tmp:
        src = checkout_image(tmp)
        for suite in suites:
            t0 = time.monotonic()
            try:
                build(suite)
            except subprocess.CalledProcessError as exc:
                if exc.returncode == BUILD_TEMPFAIL:
                    # The archive could not be reached or a package is missing: a fact about the network, not
                    # about netdrop. Reported as SKIP; NETDROP_VM_STRICT=1 makes it a failure.
                    r = {"suite": suite, "kernel": "?", "ok": None, "error": "the Debian archive or PyPI could not "
                         f"be reached (see tests/vm/cache/{suite}.debootstrap.log)"}
                else:  # a bug in the harness: never a silent SKIP
                    r = {"suite": suite, "kernel": "?", "ok": False,
                         "error": f"tests/vm/build.sh {suite} failed with exit code {exc.returncode}"}
                results.append(r)
                print(json.dumps(r), flush=True)
                continue
            t1 = time.monotonic()
            steps = os.environ.get("NETDROP_VM_STEPS", "all")  # e.g. "scenarios" while working on them
            if suite in NIC_SUITES:
                with NIC.NicHost() as nic:
                    console = boot(suite, src, steps, nic=nic)
                console += "".join(f"\nhost: {line}" for line in nic.sent) + "\n"
            else:
                console = boot(suite, src, steps)
            with open(os.path.join(CACHE, f"{suite}.console.log"), "w") as f:
                f.write(console)
            r = judge(suite, console, nic=suite in NIC_SUITES)
            r.update(build_s=round(t1 - t0), run_s=round(time.monotonic() - t1))
            results.append(r)
            print(json.dumps(r), flush=True)
    print()
    print("| guest | kernel | drop reasons | OTHERHOST reason | otherhost counter | kprobes | fentry | hooks (auto) | "
          f"finding count (sent {N}) | counter delta | classified / reached IP | kprobe run | location | "
          "unit + integration tests | result |")
    print("| --- " * 15 + "|")
    for r in results:
        yn = {True: "yes", False: "no", None: "?"}
        print(f"| {SUITES.get(r['suite'], r['suite'])} | {r['kernel']} | {yn[r.get('reasons')]} | "
              f"{yn[r.get('otherhost_reason')]} | {yn[r.get('counter')]} | {yn[r.get('kprobes')]} | "
              f"{yn[r.get('fentry')]} | "
              f"{', '.join(r.get('hooks', []))} | {r.get('count')} | {r.get('counter_delta')} | "
              f"{r.get('classified')} / {r.get('reached_ip')} | {_kprobe_cell(r.get('kprobe'))} | "
              f"{r.get('location')} | "
              f"{_tests_cell(r.get('tests', {}))} | { {True: 'PASS', False: 'FAIL', None: 'SKIP'}[r['ok']] } |")
        if r.get("error"):
            print(r["error"], file=sys.stderr)
        if r.get("tests", {}).get("failed") or r.get("tests", {}).get("error"):
            print(f"{r['suite']}: tests failed, see tests/vm/cache/{r['suite']}.console.log", file=sys.stderr)
    print()
    print(kfree_cost_table(results))
    print_scenarios(results)
    strict = os.environ.get("NETDROP_VM_STRICT") == "1"
    return 0 if all(r["ok"] or (r["ok"] is None and not strict) for r in results) else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
