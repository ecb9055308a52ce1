"""Namespaces `ip netns` does not list, as containers hold them: held only by a process, only by a bind mount outside
/run/netns, or born in the middle of the window. The wrong-MAC finding must be as good as in a named namespace:
real interface name, expected MAC, address role, count == N == counter delta, the holder named, and a fix that runs
(the test runs it and shows the drops stop)."""
import json
import os
import re
import shlex
import subprocess

from netdrop import lab as L
from netdrop.net.links import HostFacts
from netdrop.net.namespaces import Registry

from ..conftest import HAS_COUNTER, counter, diagnose_report


OWN = "%02x:%02x:%02x" % tuple(os.getpid().to_bytes(4, "big")[1:])  # MACs no parallel run shares
OWN_WRONG_MAC = "02:de:ad:" + OWN


def _pair(rx, tx, wrong_mac=L.WRONG_MAC):
    """The lab's wrong-MAC pair between two test namespaces; the sender's MAC is this pair's own (a lab on the same
    host has the same addresses, and the sender is recognised by its MAC)."""
    L.build_pair(rx, tx, tx_mac="02:4e:44:" + OWN, wrong_mac=wrong_mac)


def _facts(path, inode):
    return [i for i in HostFacts.collect(Registry(), only=[inode]).interfaces if i.name == L.RX_IF][0]


def _mac_finding(report, inode):
    found = [f for f in report["findings"] if f["cause"] == "mac-mismatch" and f["netns_id"] == inode]
    assert len(found) == 1, report["findings"]
    return found[0]


def _check_finding(f, n, label):
    assert f["netns"] == label
    assert (f["interface"], f["expected_mac"], f["seen_dst_mac"]) == (L.RX_IF, L.RX_MAC, L.WRONG_MAC)
    assert f["address_role"] == "secondary" and f["ip"] == L.SECONDARY_IP
    assert f["count"] == n and f.get("counter_delta") == counter(n)
    assert "None" not in json.dumps(f) and "null" not in json.dumps(f)


def _run_fix(f):
    """The fix's command (the sender's static entry replaced), run as the user would paste it."""
    cmds = [c for c in re.findall(r"`([^`]+)`", f["fix"]) if "neigh replace" in c]
    assert len(cmds) == 1, f["fix"]
    subprocess.run(shlex.split(cmds[0]), check=True, capture_output=True)
    return cmds[0]


def _fix_stops_drops(f, rx_path, rx_inode, sender):
    cmd = _run_fix(f)
    before = _facts(rx_path, rx_inode)
    assert L.send(4, "wrong-mac", sender=sender) == 4
    after = _facts(rx_path, rx_inode)
    assert after.rx_packets - before.rx_packets == 4  # the frames arrive...
    if HAS_COUNTER:
        assert after.rx_otherhost_dropped == before.rx_otherhost_dropped  # ...and none is dropped as OTHERHOST
    return cmd


def test_namespace_held_only_by_a_process(spaces, background):
    rx, tx = spaces.held(), spaces.held()
    _pair(rx.pid, tx.pid)
    report = diagnose_report(background, lambda: L.send(5, "wrong-mac", sender=tx.path),
                             "--netns", f"pid:{rx.pid}", duration="2")
    f = _mac_finding(report, rx.inode)
    _check_finding(f, 5, f"pid {rx.pid} (sleep)")
    assert f["netns_kind"] == "process" and f["netns_holder"] == {"pid": rx.pid, "comm": "sleep"}
    assert any(f"held by pid {rx.pid} (sleep)" in e for e in f["evidence"])
    cmd = _fix_stops_drops(f, rx.path, rx.inode, tx.path)
    assert cmd.startswith(f"nsenter -t {tx.pid} -n ip neigh replace {L.SECONDARY_IP} lladdr {L.RX_MAC}")


def test_namespace_bind_mounted_outside_run_netns(spaces, background):
    rx, tx = spaces.mounted("rx"), spaces.mounted("tx")
    _pair(rx.path, tx.path)
    report = diagnose_report(background, lambda: L.send(6, "wrong-mac", sender=tx.path),
                             "--netns", str(rx.inode), duration="2")
    f = _mac_finding(report, rx.inode)
    _check_finding(f, 6, rx.path)
    assert f["netns_kind"] == "mount"
    cmd = _fix_stops_drops(f, rx.path, rx.inode, tx.path)
    assert cmd.startswith(f"nsenter --net={tx.path} ip neigh replace {L.SECONDARY_IP} lladdr {L.RX_MAC}")


def test_namespace_born_in_the_middle_of_the_window(spaces, background):
    made = {}

    def create_and_send():
        made["rx"], made["tx"] = spaces.held(), spaces.held()
        _pair(made["rx"].pid, made["tx"].pid)
        L.send(3, "wrong-mac", sender=made["tx"].path)

    report = diagnose_report(background, create_and_send, duration="4")
    rx, tx = made["rx"], made["tx"]
    f = _mac_finding(report, rx.inode)
    _check_finding(f, 3, f"pid {rx.pid} (sleep)")
    assert any("appeared during the window" in e for e in f["evidence"])
    _fix_stops_drops(f, rx.path, rx.inode, tx.path)


def test_watch_names_a_namespace_born_while_it_runs(spaces, background):
    bg = background("watch", "--json", "--count", "3", "--mac", OWN_WRONG_MAC)  # only this test's frames
    bg.wait_ready()
    rx, tx = spaces.held(), spaces.held()
    _pair(rx.pid, tx.pid, wrong_mac=OWN_WRONG_MAC)
    L.send(3, "wrong-mac", sender=tx.path)
    rc, out, err = bg.finish()
    assert rc == 0, err
    drops = [json.loads(line) for line in out.splitlines() if '"drop"' in line]
    drops = [d for d in drops if d["netns_id"] == rx.inode]
    assert len(drops) == 3
    assert {(d["netns"], d["interface"], d["iface_mac"]) for d in drops} == {(f"pid {rx.pid} (sleep)", L.RX_IF,
                                                                                L.RX_MAC)}


def test_netns_option_errors_list_candidates(spaces):
    from ..conftest import netdrop
    rx = spaces.held()
    r = netdrop("watch", "--netns", "nd-no-such-namespace", "--duration", "1")
    assert r.returncode == 5 and r.stderr.startswith("error: no network namespace nd-no-such-namespace")
    assert f"pid {rx.pid} (sleep) [{rx.inode}]" in r.stderr and "Traceback" not in r.stderr
    r = netdrop("watch", "--netns", "pid:999999999", "--duration", "1")
    assert r.returncode == 5 and "hint:" in r.stderr


def test_macvlan_owner_read_in_a_process_held_namespace(spaces, background):
    """The lab's macvlan case (the wrong MAC is a down macvlan child's) with the receiver held only by a process."""
    rx, tx = spaces.held(), spaces.held()
    _pair(rx.pid, tx.pid)
    L._build_macvlan(rx.pid)
    report = diagnose_report(background, lambda: L.send(3, "wrong-mac", sender=tx.path),
                             "--netns", f"pid:{rx.pid}", duration="2")
    f = _mac_finding(report, rx.inode)
    _check_finding(f, 3, f"pid {rx.pid} (sleep)")
    assert f["mac_cause"] == "local-other-interface"
    assert f["seen_mac_owner"] == {"netns": f"pid {rx.pid} (sleep)", "interface": "mv0", "kind": "macvlan",
                                   "up": False}


def test_vxlan_in_a_process_held_namespace(spaces, background):
    """Frames through a VXLAN tunnel whose inner destination MAC is wrong: dropped on vx0 inside the namespace."""
    rx, tx = spaces.held(), spaces.held()
    _pair(rx.pid, tx.pid)
    L.build_vxlan(rx.pid, tx.pid)
    report = diagnose_report(background, lambda: L.send(4, "wrong-mac-vxlan", sender=tx.path),
                             "--netns", f"pid:{rx.pid}", duration="2")
    f = _mac_finding(report, rx.inode)
    vx = [i for i in HostFacts.collect(Registry(), only=[rx.inode]).interfaces if i.name == L.VXLAN_IF][0]
    assert (f["interface"], f["expected_mac"], f["ip"]) == (L.VXLAN_IF, vx.mac, f"{L.VXLAN_NET}.2")
    assert f["count"] == 4 and f.get("counter_delta") == counter(4) and f["address_role"] == "primary"
    assert f["netns"] == f"pid {rx.pid} (sleep)" and "None" not in json.dumps(f)


def test_top_names_a_namespace_born_while_it_runs(spaces, background):
    bg = background("top", "--json", "--count", "4", "--interval", "1")
    bg.wait_ready()
    rx, tx = spaces.held(), spaces.held()
    _pair(rx.pid, tx.pid, wrong_mac=OWN_WRONG_MAC)
    L.send(4, "wrong-mac", sender=tx.path)
    rc, out, err = bg.finish()
    assert rc == 0, err
    last = json.loads(out.splitlines()[-1])
    rows = [d for d in last["drops"] if d["netns_id"] == rx.inode and d["reason"] == "OTHERHOST"]
    assert [(d["netns"], d["interface"], d["count"], d["expected_mac"], d["netns_holder"]["comm"]) for d in rows] == \
        [(f"pid {rx.pid} (sleep)", L.RX_IF, 4, L.RX_MAC, "sleep")]
