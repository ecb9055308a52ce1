"""diagnose against the real kernel: real BPF, real namespaces (the lab fixture creates and removes them)."""
import os

from netdrop import lab as L
from netdrop.net.links import HostFacts

from ..conftest import HAS_COUNTER, counter, diagnose_report, needs_reasons


def _otherhost(ns=L.RX_NS, ifname=L.RX_IF):
    facts = HostFacts.collect(only=[ns])
    return facts.find_name(ifname, ns)[0].rx_otherhost_dropped


def test_wrong_mac_finding_has_exact_fields(lab, background):
    before = _otherhost()
    sent = []
    report = diagnose_report(background, lambda: sent.append(lab.send(7, "wrong-mac")), "--netns", L.RX_NS,
                             duration="2")
    assert sent == [7]
    # only this lab's namespace: on a shared host other people's labs drop wrong-MAC frames too
    f = [f for f in report["findings"] if f["cause"] == "mac-mismatch" and f["netns"] == L.RX_NS]
    assert len(f) == 1
    f = f[0]
    assert f["interface"] == L.RX_IF
    assert f["ip"] == L.SECONDARY_IP
    assert f["seen_dst_mac"] == L.WRONG_MAC
    assert f["expected_mac"] == L.RX_MAC
    assert f["sender_mac"] == L.TX_MAC and f["sender_ip"] == L.SENDER_IP
    assert f["count"] == 7
    assert f.get("counter_delta") == counter(7)
    if HAS_COUNTER:
        assert _otherhost() - before == 7
    assert f["address_role"] == "secondary"
    assert f["sender_neighbour"] == {"netns": L.TX_NS, "interface": L.TX_IF, "lladdr": L.WRONG_MAC,
                                     "state": "PERMANENT"}
    assert "neigh replace 10.200.0.3 lladdr 02:25:ad:fa:a8:be" in f["fix"]
    assert report["lost_events"] == 0
    assert report["hooks"][0]["name"] == "skb:kfree_skb" and report["hooks"][0]["attached"]
    drops = [d for d in report["drops"] if d["reason"] == "OTHERHOST"]
    inode = os.stat(f"/run/netns/{L.RX_NS}").st_ino
    assert f["netns_id"] == inode and f["netns_kind"] == "named" and f["netns_name"] == L.RX_NS
    assert drops == [{"reason": "OTHERHOST", "location": drops[0]["location"], "interface": L.RX_IF,
                      "netns": L.RX_NS, "netns_id": inode, "netns_kind": "named", "netns_name": L.RX_NS,
                      "count": 7, "pkt_type": "OTHERHOST", "seen_dst_mac": L.WRONG_MAC, "expected_mac": L.RX_MAC,
                      "ip": L.SECONDARY_IP}]
    assert drops[0]["location"].startswith("ip_rcv_core+0x") or drops[0]["location"].startswith("ip_rcv+0x")


def test_correct_mac_gives_no_finding(lab, background):
    # right MAC (to UDP_PORT on the primary, where nothing listens: NO_SOCKET)
    report = diagnose_report(background, lambda: lab.send(5, "correct"), "--ip", L.PRIMARY_IP, "--netns", L.RX_NS)
    assert [f for f in report["findings"] if f["cause"] == "mac-mismatch"] == []
    assert not [d for d in report["drops"] if d["reason"] == "OTHERHOST"]


@needs_reasons
def test_closed_port_listed_with_its_reason(lab, background):
    report = diagnose_report(background, lambda: lab.send(4, "closed-port"), "--netns", L.RX_NS)
    rows = [d for d in report["drops"] if d["reason"] == "NO_SOCKET"]
    assert len(rows) == 1 and rows[0]["count"] == 4 and rows[0]["interface"] == L.RX_IF
    f = [f for f in report["findings"] if f["cause"] == "no-socket"]
    assert f and f[0]["count"] == 4 and f[0]["port"] == L.CLOSED_PORT and f[0]["ip"] == L.PRIMARY_IP


def test_focus_on_silent_address_explains_silence(lab, background):
    report = diagnose_report(background, lambda: None, "--ip", L.PRIMARY_IP, duration="1")
    assert report["findings"] == []
    topics = {n["topic"] for n in report["notes"]}
    assert "no-evidence" in topics
    assert any("veth" in n["text"] for n in report["notes"])


def test_human_verdict_names_everything(lab, background):
    bg = background("--width", "200", "diagnose", "--duration", "1.5", "--netns", L.RX_NS)
    bg.wait_ready()
    lab.send(3, "wrong-mac")
    rc, out, err = bg.finish()
    assert rc == 0, err
    assert "3 frames for 10.200.0.3 (secondary address of vB) arrived with destination MAC 02:de:ad:be:ef:01, " \
           "but vB's MAC is 02:25:ad:fa:a8:be" in out
    assert ("rx_otherhost_dropped: +3, matches" in out) == HAS_COUNTER
    assert "\x1b[" not in out  # NO_COLOR is honoured


def test_signal_as_soon_as_ready_ends_the_window_with_a_verdict(lab, background):
    """The ready file promises that a signal now ends the window: SIGTERM (or a SIGINT a shell's background job would
    otherwise ignore) the moment it appears still gives exit 0 and the report, with the path view."""
    import json
    import signal
    bg = background("diagnose", "--json", "--duration", "300", "--ip", L.SECONDARY_IP, "--netns", L.RX_NS)
    bg.wait_ready()
    lab.send(2, "wrong-mac")
    bg.proc.send_signal(signal.SIGTERM)
    rc, out, err = bg.finish(timeout=60)
    assert rc == 0, err
    report = json.loads(out)
    assert report["duration"] < 300
    mac = next(f for f in report["findings"] if f["cause"] == "mac-mismatch")
    assert mac["count"] == 2 and mac.get("counter_delta") == counter(2)
    assert report["path"] == mac["path"] and [s["stage"] for s in mac["path"] if s["drop"]] == ["ip_rcv_core"]
    assert "promiscuous_by" not in mac and "raw_prerouting" not in mac  # veth: no holder; no rule here
