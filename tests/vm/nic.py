"""The e1000e scenario's host side: a namespace with a tap device that a guest's emulated Intel 82574L (qemu
`-device e1000e`) is joined to. The namespace plays the guest's upstream router: the guest's subnet on the tap, a
static neighbour entry pointing the guest's SECONDARY address at a wrong MAC, and N datagrams sent when the guest
says it is ready (tests/vm/guest-e1000e.sh prints "@@@ e1000e_go R" on the console). Nothing touches the host's
own links: qemu runs under `ip netns exec`, the tap exists only in that namespace, and both are removed on exit.
"""
from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from typing import Dict, List, Optional

HERE = os.path.dirname(os.path.abspath(__file__))
# Never a prefix the lab's `down` would match (it removes every namespace starting with NETDROP_LAB_PREFIX).
PREFIX = os.environ.get("NETDROP_VM_PREFIX") or os.environ.get("NETDROP_LAB_PREFIX", "ndlab-").rstrip("-") + "vm-"
GUEST_MAC, TAP_MAC, WRONG_MAC = "52:54:00:4e:44:02", "02:4e:44:00:00:fe", "02:de:ad:be:ef:01"
HOST_IP, PRIMARY, SECONDARY, PLEN = "10.77.0.1", "10.77.0.2", "10.77.0.3", 24
N, PORT, DONE_PORT = 5, 9999, 9998
GO = re.compile(r"@@@ e1000e_go (\d+)")


def _ip(*args: str, check: bool = True) -> subprocess.CompletedProcess:
    return subprocess.run(["ip", *args], capture_output=True, text=True, check=check)


class NicHost:
    """Owns the namespace and the tap for one guest boot; `with NicHost() as nic:` removes both whatever happens."""

    def __init__(self) -> None:
        self.ns = f"{PREFIX}{os.getpid()}"
        self.tap = f"{PREFIX}t{os.getpid()}"[:15]
        self.sent: List[str] = []  # one line per window: what the host sent

    def __enter__(self) -> "NicHost":
        try:
            _ip("netns", "add", self.ns)
            for key in ("all", "default"):  # no IPv6 chatter on the guest's link
                subprocess.run(["ip", "netns", "exec", self.ns, "sysctl", "-qw",
                                f"net.ipv6.conf.{key}.disable_ipv6=1"], check=True)
            _ip("-n", self.ns, "link", "set", "lo", "up")
            # a persistent tap made before qemu starts: configured before the guest exists, no race with qemu
            _ip("-n", self.ns, "tuntap", "add", "dev", self.tap, "mode", "tap")
            _ip("-n", self.ns, "link", "set", self.tap, "address", TAP_MAC, "up")
            _ip("-n", self.ns, "addr", "add", f"{HOST_IP}/{PLEN}", "dev", self.tap)
            _ip("-n", self.ns, "neigh", "replace", SECONDARY, "lladdr", WRONG_MAC, "dev", self.tap, "nud", "permanent")
            _ip("-n", self.ns, "neigh", "replace", PRIMARY, "lladdr", GUEST_MAC, "dev", self.tap, "nud", "permanent")
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(self, *exc) -> bool:
        self.close()
        return False

    def close(self) -> None:
        _ip("-n", self.ns, "link", "del", self.tap, check=False)
        _ip("netns", "del", self.ns, check=False)

    def wrap(self, cmd: List[str]) -> List[str]:
        """qemu runs in the namespace, so its tap is found (and only exists) there."""
        return ["ip", "netns", "exec", self.ns] + cmd

    def qemu_args(self) -> List[str]:
        return ["-netdev", f"tap,id=n0,ifname={self.tap},script=no,downscript=no",
                "-device", f"e1000e,netdev=n0,mac={GUEST_MAC}"]

    def kernel_arg(self) -> str:
        return f"netdrop.nic={GUEST_MAC},{PRIMARY},{SECONDARY},{PLEN},{HOST_IP},{N},{PORT},{DONE_PORT}"

    def on_console(self, line: str) -> None:
        m = GO.search(line)
        if m:
            r = subprocess.run(self.wrap([sys.executable, os.path.join(HERE, "udp.py"), "send", SECONDARY, str(PORT),
                                          str(N), PRIMARY, str(DONE_PORT)]), capture_output=True, text=True)
            self.sent.append(f"window {m.group(1)}: sent {r.stdout.strip() or r.stderr.strip()}")


# ---- judging the guest's output ------------------------------------------------------------------------------------
def _header(text: str) -> Dict[str, str]:
    return dict(kv.split("=", 1) for kv in text.splitlines()[0].split() if "=" in kv) if text else {}


def _report(text: Optional[str]) -> Optional[dict]:
    if not text or "{" not in text:
        return None
    try:
        return json.loads(text[text.index("{"):])
    except ValueError:
        return None


def _mac(report: Optional[dict]) -> dict:
    return next((f for f in (report or {}).get("findings", []) if f["cause"] == "mac-mismatch"), {})


def judge(s: Dict[str, str], has_counter: Optional[bool]) -> Dict:
    """The three windows' results and whether each holds exactly: {'ok', 'runs': [...], 'errors': [...]}."""
    if "e1000e_setup" not in s:
        return {"ok": False, "errors": ["the guest did not run the e1000e scenario"]}
    setup = _header(s["e1000e_setup"])
    errors: List[str] = [] if setup.get("driver") == "e1000e" else [f"the NIC's driver is {setup.get('driver')}"]
    runs = []
    for r in (1, 2, 3):
        h, rep = _header(s.get(f"e1000e_{r}", "")), _report(s.get(f"e1000e_{r}"))
        f = _mac(rep)
        rows = [d for d in (rep or {}).get("drops", []) if d.get("reason") == "OTHERHOST"]
        other = sum(d["count"] for d in rows)
        stage = next((p for p in (rep or {}).get("path", []) if p.get("drop")), {})
        runs.append({"run": r, "rc": h.get("rc"), "count": f.get("count", 0), "otherhost_drops": other,
                     "counter_delta": f.get("counter_delta"), "location": f.get("location"),
                     "pkt_type": "/".join(sorted({d.get("pkt_type", "?") for d in rows})) or None,
                     "classified": f.get("classified"), "reached_ip": f.get("reached_ip"),
                     "promiscuous_by": f.get("promiscuous_by"), "raw_prerouting": h.get("raw"),
                     "promiscuity": f"{h.get('promiscuity_before')}/{h.get('during')}/{h.get('after')}",
                     "drop_stage": stage.get("stage"), "hooks": [x["name"] for x in (rep or {}).get("hooks", [])
                                                                 if x.get("attached")]})
        if rep is None:
            errors.append(f"window {r}: no JSON report (rc {h.get('rc')}): {s.get(f'e1000e_stderr_{r}', '')[-300:]}")
        if "done" not in h.get("done", ""):
            errors.append(f"window {r}: the end-of-run datagram did not arrive ({h.get('done')})")
    r1, r2, r3 = runs
    rep1 = _report(s.get("e1000e_1")) or {}
    if r1["count"] or r1["otherhost_drops"]:
        errors.append(f"window 1: {r1['otherhost_drops']} OTHERHOST drops although nothing was promiscuous")
    if not any(n["topic"] == "mac-filter" and "--promisc" in n.get("hint", "") for n in rep1.get("notes", [])):
        errors.append("window 1: the verdict does not say the NIC filtered the frames and point at --promisc")
    td = _header(s.get("e1000e_tcpdump", ""))
    for r in (r2, r3):
        if r["count"] != N or r["otherhost_drops"] != N:
            errors.append(f"window {r['run']}: {r['count']} dropped as OTHERHOST, sent {N}")
        if has_counter and r.get("counter_delta") != N:
            errors.append(f"window {r['run']}: counter delta {r['counter_delta']}, sent {N}")
        if not has_counter and not ((r["location"] or "").startswith("ip_rcv") and r["pkt_type"] == "OTHERHOST"):
            errors.append(f"window {r['run']}: location {r['location']}, pkt_type {r['pkt_type']}: not an OTHERHOST "
                          "drop in ip_rcv/ip_rcv_core")
        if r["raw_prerouting"] != "0":
            errors.append(f"window {r['run']}: raw PREROUTING counted {r['raw_prerouting']}")
        if r["drop_stage"] != "ip_rcv_core":
            errors.append(f"window {r['run']}: the path marks {r['drop_stage']} as the drop point")
        if r["classified"] is not None and not r["classified"] == r["reached_ip"] == N:
            errors.append(f"window {r['run']}: hooks classified {r['classified']}, reached {r['reached_ip']}")
    f2 = _mac(_report(s.get("e1000e_2")))
    if f"tcpdump (pid {td.get('pid')})" not in (f2.get("promiscuous_by") or []):
        errors.append(f"window 2: holder {f2.get('promiscuous_by')}, tcpdump was pid {td.get('pid')}")
    if td.get("captured") != str(N):
        errors.append(f"tcpdump captured {td.get('captured')}, sent {N}")
    if not any("counted 0 packets" in e for e in f2.get("evidence", [])):
        errors.append("window 2: the verdict does not quote the raw PREROUTING counter")
    if "netdrop --promisc" not in (_mac(_report(s.get("e1000e_3"))).get("promiscuous_by") or []):
        errors.append("window 3: netdrop --promisc not named as the holder")
    if r3["promiscuity"] != "0/1/0":
        errors.append(f"window 3: promiscuity before/during/after {r3['promiscuity']}, expected 0/1/0")
    kill = _header(s.get("e1000e_kill", ""))
    if (kill.get("during"), kill.get("after")) != ("1", "0"):
        errors.append(f"SIGKILL: promiscuity during/after {kill.get('during')}/{kill.get('after')}, expected 1/0")
    return {"ok": not errors, "driver": setup.get("driver"), "dev": setup.get("dev"), "runs": runs,
            "tcpdump": td, "kill": kill, "errors": errors}
