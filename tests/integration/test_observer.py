"""The observer effect: a bridge hides foreign-MAC frames unless promiscuous; --promisc reveals them and always
gives the promiscuity back, however netdrop ends."""
import json
import signal
import subprocess
import time

import pytest

from netdrop import lab as L
from netdrop.net.links import HostFacts

from ..conftest import counter, diagnose_report, kfree_progs, netdrop


def br0():
    return HostFacts.collect(only=[L.RX_NS]).find_name(L.BRIDGE, L.RX_NS)[0]


def test_bridge_without_promisc_explains_the_filter(bridge_lab, background):
    r = diagnose_report(background, lambda: bridge_lab.send(4, "wrong-mac"), "--ip", L.SECONDARY_IP,
                        "--netns", L.RX_NS)
    assert [f for f in r["findings"] if f["cause"] == "mac-mismatch"] == []
    notes = {n["topic"]: n for n in r["notes"]}
    assert "br0 is not promiscuous" in notes["mac-filter"]["text"]
    assert "--promisc" in notes["mac-filter"]["hint"]
    assert br0().promiscuity == 0


def test_bridge_with_promisc_finds_the_wrong_mac_and_names_tcpdump(bridge_lab, background):
    tcpdump = subprocess.Popen(["ip", "netns", "exec", L.RX_NS, "tcpdump", "-i", L.BRIDGE, "-w", "/dev/null"],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 10
        while br0().promiscuity == 0 and time.monotonic() < deadline:
            time.sleep(0.05)  # wait for tcpdump's membership: a kernel state, not a timing guess
        assert br0().promiscuity == 1
        bg = background("diagnose", "--json", "--duration", "1.5", "--ip", L.SECONDARY_IP, "--netns", L.RX_NS,
                        "--promisc")
        bg.wait_ready()
        assert br0().promiscuity == 2
        bridge_lab.send(5, "wrong-mac")
        rc, out, err = bg.finish()
        assert rc == 0, err
        assert "promiscuous mode ON for br0" in err
    finally:
        tcpdump.terminate()
        tcpdump.wait()
    r = json.loads(out)
    f = [f for f in r["findings"] if f["cause"] == "mac-mismatch"]
    assert len(f) == 1 and f[0]["count"] == 5 and f[0].get("counter_delta") == counter(5)
    assert f[0]["interface"] == L.BRIDGE and f[0]["seen_dst_mac"] == L.WRONG_MAC and f[0]["expected_mac"] == L.RX_MAC
    notes = {n["topic"]: n["text"] for n in r["notes"]}
    assert "promisc" in notes
    assert "tcpdump (pid" in notes["observer-effect"] and "netdrop --promisc" in notes["observer-effect"]
    assert br0().promiscuity == 0


@pytest.mark.parametrize("already", [False, True], ids=["not-promisc-before", "promisc-before"])
@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGTERM, signal.SIGINT], ids=["KILL", "TERM", "INT"])
def test_promisc_released_on_any_exit(bridge_lab, background, sig, already):
    if already:
        subprocess.run(["ip", "-n", L.RX_NS, "link", "set", L.BRIDGE, "promisc", "on"], check=True)
    before = br0()
    progs_before = kfree_progs()
    bg = background("diagnose", "--duration", "60", "--iface", L.BRIDGE, "--netns", L.RX_NS, "--promisc")
    bg.wait_ready()
    assert br0().promiscuity == before.promiscuity + 1
    ours = kfree_progs() - progs_before
    assert ours
    bg.proc.send_signal(sig)
    bg.finish(timeout=30)
    deadline = time.monotonic() + 10
    while (ours & kfree_progs() or br0().promiscuity != before.promiscuity) and time.monotonic() < deadline:
        time.sleep(0.05)  # a killed process's sockets and programs are released asynchronously
    after = br0()
    assert after.promiscuity == before.promiscuity
    assert after.promisc_flag == before.promisc_flag == already
    assert not (ours & kfree_progs())


def test_top_promisc_reveals_and_gives_back(bridge_lab, background):
    before = br0()
    bg = background("top", "--json", "--count", "3", "--interval", "1", "--iface", L.BRIDGE, "--netns", L.RX_NS,
                    "--promisc")
    bg.wait_ready()
    assert br0().promiscuity == before.promiscuity + 1
    bridge_lab.send(5, "wrong-mac")
    rc, out, err = bg.finish()
    assert rc == 0, err
    assert "promiscuous mode ON for br0" in err
    last = json.loads(out.splitlines()[-1])
    assert last["promisc"] == [f"{L.BRIDGE} (netns {L.RX_NS})"]
    rows = [d for d in last["drops"] if d["interface"] == L.BRIDGE and d["seen_dst_mac"] == L.WRONG_MAC]
    assert len(rows) == 1 and rows[0]["count"] == 5
    assert br0().promiscuity == before.promiscuity


def test_top_promisc_released_on_sigkill(bridge_lab, background):
    before = br0()
    progs_before = kfree_progs()
    bg = background("top", "--json", "--iface", L.BRIDGE, "--netns", L.RX_NS, "--promisc")
    bg.wait_ready()
    assert br0().promiscuity == before.promiscuity + 1
    ours = kfree_progs() - progs_before
    bg.proc.kill()
    bg.finish(timeout=30)
    deadline = time.monotonic() + 10
    while (ours & kfree_progs() or br0().promiscuity != before.promiscuity) and time.monotonic() < deadline:
        time.sleep(0.05)  # released asynchronously by the kernel once the process is gone
    assert br0().promiscuity == before.promiscuity and not br0().promisc_flag
    assert ours and not (ours & kfree_progs())


def test_top_promisc_needs_an_interface():
    r = netdrop("top", "--once", "--promisc")
    assert r.returncode == 2 and r.stderr.startswith("error: --promisc needs --iface")
    assert "hint:" in r.stderr
