"""Every rule against its lab scenario: exactly N drops provoked, the finding's cause, evidence and count."""
import os

import pytest

from netdrop import lab as L
from netdrop.net import sysctl

from ..conftest import HAS_REASONS, diagnose_report, needs_reasons


@pytest.fixture
def scenario():
    built = []

    def up(name):
        L.up(name)
        built.append(name)
        return L

    yield up
    L.down()
    assert not L.namespaces()


def diagnose(background, send, *extra):
    return diagnose_report(background, send, "--netns", L.RX_NS, *extra)


def only(report, cause):
    found = [f for f in report["findings"] if f["cause"] == cause]
    assert len(found) == 1, report["findings"]
    return found[0]


@needs_reasons  # without drop reasons (5.10) only OTHERHOST drops are attributed, by location
def test_rp_filter(scenario, background):
    scenario("rp-filter")
    f = only(diagnose(background, lambda: L.send(6, "rp-filter")), "rp-filter")
    assert f["count"] == 6 and f["sender_ip"] == L.SPOOF_SRC and f["ip"] == L.PRIMARY_IP
    assert f["rp_filter"] == 1 and "route_back" not in f and "route back to 10.99.0.1: none" in f["evidence"]
    assert "rp_filter=2" in f["fix"]


@needs_reasons  # without drop reasons (5.10) only OTHERHOST drops are attributed, by location
def test_not_local(scenario, background):
    scenario("not-local")
    f = only(diagnose(background, lambda: L.send(4, "not-local")), "not-local")
    assert f["count"] == 4 and f["ip"] == L.NOT_LOCAL_IP and f["ip_forward"] == "0"
    assert f["reason"] == "IP_INADDRERRORS"


@needs_reasons  # without drop reasons (5.10) only OTHERHOST drops are attributed, by location
def test_netfilter_drop_points_at_the_rule(scenario, background):
    scenario("netfilter")
    f = only(diagnose(background, lambda: L.send(5, "netfilter")), "netfilter-drop")
    assert f["count"] == 5 and f["port"] == L.NF_PORT
    assert f["rule"].startswith(f"table inet {L.PREFIX.replace('-', '_')}filter chain input:")
    assert "dport 7001" in f["rule"]
    assert "counter packets 5 " in f["rule"]


def _softnet_dropped():
    with open("/proc/net/softnet_stat") as f:  # column 2: frames enqueue_to_backlog dropped, per CPU
        return sum(int(line.split()[1], 16) for line in f)


@needs_reasons  # without drop reasons (5.10) only OTHERHOST drops are attributed, by location
def test_backlog_full(scenario, background):
    from netdrop.lab import backlog as labbacklog
    scenario("backlog")
    with open(labbacklog.SYSCTL) as f:
        before = f.read().strip()
    d0 = _softnet_dropped()
    f = only(diagnose(background, lambda: L.send(6, "backlog")), "backlog-full")
    assert f["count"] == 6 == _softnet_dropped() - d0
    assert f["interface"].startswith("lf") and any("enqueue_to_backlog" in e for e in f["evidence"])
    assert f["netdev_max_backlog"] == before  # the host-wide value, read after the window
    with open(labbacklog.SYSCTL) as fh:
        assert fh.read().strip() == before  # lowered for the send only, and given back
    assert not os.path.exists(labbacklog.STATE_FILE)


def test_backlog_value_left_by_a_killed_sender_is_restored_by_lab_down(scenario):
    from netdrop.lab import backlog as labbacklog
    scenario("backlog")
    with open(labbacklog.SYSCTL) as f:
        before = f.read().strip()
    with open(labbacklog.STATE_FILE, "w") as f:  # what a sender killed inside low_backlog() leaves
        f.write(before + "\n")
    with open(labbacklog.SYSCTL, "w") as f:
        f.write(str(labbacklog.LOW_BACKLOG))
    try:
        L.down()
    finally:
        with open(labbacklog.SYSCTL) as f:
            now = f.read().strip()
        if now != before:  # never leave the host changed, even if the assertion below fails
            with open(labbacklog.SYSCTL, "w") as f:
                f.write(before)
    assert now == before and not os.path.exists(labbacklog.STATE_FILE)


def _rcvbuf_errors():
    text = sysctl.read(L.RX_NS, "../net/snmp")  # /proc/sys/../net/snmp = /proc/net/snmp of the namespace
    lines = [line.split() for line in text.splitlines() if line.startswith("Udp:")]
    return int(lines[1][lines[0].index("RcvbufErrors")])


@needs_reasons  # without drop reasons (5.10) only OTHERHOST drops are attributed, by location
def test_rcvbuf_full_names_the_process(scenario, background):
    scenario("rcvbuf")
    before = _rcvbuf_errors()
    f = only(diagnose(background, lambda: L.send(40, "rcvbuf")), "rcvbuf-full")
    assert f["count"] == _rcvbuf_errors() - before > 0
    assert f["process"] == L.SINK_NAME and f["pid"] > 0 and f["port"] == L.SINK_PORT


@needs_reasons  # without drop reasons (5.10) only OTHERHOST drops are attributed, by location
def test_two_causes_at_once(scenario, background):
    scenario("multi")

    def send():
        L.send(3, "wrong-mac")
        L.send(2, "rp-filter")

    report = diagnose(background, send)
    causes = {f["cause"]: f["count"] for f in report["findings"]}
    assert causes == {"mac-mismatch": 3, "rp-filter": 2}


@pytest.mark.parametrize("name,cause,owner", [
    ("wrong-mac", "static-neighbour", None),
    ("changed-mac", "stale-neighbour", None),
    ("macvlan", "local-other-interface", {"netns": "ndlab-rx", "interface": "mv0", "kind": "macvlan", "up": False}),
])
def test_why_the_mac_was_wrong(scenario, background, name, cause, owner):
    scenario(name)
    f = only(diagnose(background, lambda: L.send(3, "wrong-mac")), "mac-mismatch")
    assert f["count"] == 3 and f["mac_cause"] == cause
    assert f.get("seen_mac_owner") == (dict(owner, netns=L.RX_NS) if owner else None)
    if name == "changed-mac":
        assert f["seen_dst_mac"] == L.OLD_RX_MAC and f["sender_neighbour"]["state"] == "REACHABLE"
    else:
        assert f["seen_dst_mac"] == L.WRONG_MAC and f["sender_neighbour"]["state"] == "PERMANENT"
    assert any(e.startswith(f"{L.RX_IF}: arp_ignore=") for e in f["evidence"])


def test_ipv6_wrong_mac_and_no_socket(scenario, background):
    scenario("ipv6")

    def send():
        L.send(4, "wrong-mac6")
        L.send(2, "closed-port6")

    report = diagnose(background, send)
    mac = only(report, "mac-mismatch")
    assert (mac["count"], mac["ip"], mac["sender_ip"]) == (4, L.SECONDARY_IP6, L.SENDER_IP6)
    assert mac["seen_dst_mac"] == L.WRONG_MAC and mac["location"].startswith("ip6_rcv_core+")
    assert mac["mac_cause"] == "static-neighbour"
    if not HAS_REASONS:  # 5.10: the wrong-MAC part stands on location + pkt_type; no-socket needs a reason
        return
    sock = only(report, "no-socket")
    assert (sock["count"], sock["ip"], sock["port"]) == (2, L.PRIMARY_IP6, L.CLOSED_PORT)
    assert f"[{L.PRIMARY_IP6}]:{L.CLOSED_PORT}" in sock["title"]


def test_vlan_wrong_mac_names_the_vlan_interface(scenario, background):
    """802.1Q: the frames pass vB, are untagged to vB.100 and die there; the finding must name vB.100, its MAC, and
    the path must end at ip_rcv_core. The development host's kernel has no 802.1Q: the VM guests run this."""
    from netdrop.errors import NetdropError
    try:
        scenario("vlan")
    except NetdropError as exc:
        if "802.1Q" in exc.hint:
            pytest.skip(f"this kernel has no 802.1Q: {exc}")
        raise
    mac = only(diagnose(background, lambda: L.send(5, "vlan")), "mac-mismatch")
    assert (mac["interface"], mac["ip"], mac["count"]) == (L.VLAN_RX_IF, L.VLAN_SECONDARY_IP, 5)
    assert mac.get("counter_delta") in (5, None) and mac["interface_kind"] == "vlan"
    assert (mac["seen_dst_mac"], mac["expected_mac"]) == (L.WRONG_MAC, L.RX_MAC)
    assert mac["sender_ip"] == L.VLAN_SENDER_IP and mac["mac_cause"] == "static-neighbour"
    if mac.get("classified") is not None:  # eth_type_trans runs on vB, ip_rcv_core on vB.100: both are counted
        assert mac["classified"] == mac["reached_ip"] == 5
    assert [s["stage"] for s in mac["path"] if s["drop"]] == ["ip_rcv_core"]
