"""The receive-path picture (diagnose/path.py + render/path.py) for every cause, at 80 columns without colour."""
import re

import pytest
from rich.console import Console

from netdrop.diagnose import path
from netdrop.diagnose.rules import RULES
from netdrop.model import Address, Finding, InterfaceFacts, Report
from netdrop.render.path import path_block
from netdrop.render.report import render_report

FENTRY = [{"name": "skb:kfree_skb", "type": "raw_tracepoint", "attached": True},
          {"name": "eth_type_trans (return)", "type": "fexit", "attached": True},
          {"name": "ip_rcv_core (entry)", "type": "fentry", "attached": True}]
NO_HOOKS = [{"name": "skb:kfree_skb", "type": "raw_tracepoint", "attached": True},
            {"name": "eth_type_trans (return)", "type": "-", "attached": False,
             "why": "no kprobes and no BPF trampolines on this kernel"}]
RAW = [{"rule": "-A PREROUTING -d 10.77.0.3/32", "packets": 0, "bytes": 0}]


def mac(holders=("tcpdump (pid 812)",), classified=5, raw=RAW, delta=5, kind="device"):
    return Finding("mac-mismatch", "t", "e", "f", interface="eth0", netns="host", ip="10.77.0.3", count=5,
                   counter_delta=delta, seen_dst_mac="02:de:ad:be:ef:01", expected_mac="52:54:00:4e:44:02",
                   extra={"location": "ip_rcv_core+0x22b", "classified": classified,
                          "reached_ip": classified, "interface_kind": kind,
                          "promiscuous_by": list(holders) if holders is not None else None,
                          "raw_prerouting": raw})


EXTRA = {
    "no-socket": {"port": 9, "protocol": "udp"},
    "rp-filter": {"rp_filter": 1, "source": "10.99.0.1", "route_back": None},
    "netfilter-drop": {"rule": "table inet nd chain input: udp dport 7001 counter packets 5 bytes 145 drop",
                       "port": 7001, "protocol": "udp"},
    "not-local": {"ip_forward": "0", "reason": "IP_INADDRERRORS"},
    "rcvbuf-full": {"port": 7002, "protocol": "udp", "process": "ndlab-sink", "pid": 77},
    "backlog-full": {"netdev_max_backlog": None},  # an unknown value is "?", never None
    "ipv6-disabled": {"disable_ipv6": "1"},
    "unresolved-neighbour": {"reason": "NEIGH_FAILED", "forwarded": True, "neighbour_state": "FAILED"},
}
DROP_STAGE = {"no-socket": "socket", "rp-filter": "routing", "netfilter-drop": "netfilter INPUT",
              "not-local": "routing", "rcvbuf-full": "socket", "backlog-full": "CPU backlog",
              "ipv6-disabled": "ip_rcv_core", "unresolved-neighbour": "neighbour resolution"}


def other(cause):
    return Finding(cause, "t", "e", "f", interface="vB", netns="ndlab-rx", ip="10.200.0.2", count=4,
                   extra=EXTRA[cause])


def draw(stages, width=80):
    console = Console(width=width, no_color=True, record=True, markup=False, highlight=False)
    for part in path_block(stages):
        console.print(part)
    return console.export_text()


def check_text(text, width=80):
    assert max(len(line) for line in text.splitlines()) <= width, text
    assert "None" not in text and "\x1b" not in text, text


def test_every_cause_has_a_picture():
    assert {r.cause for r in RULES} == set(DROP_STAGE) | {"mac-mismatch"}


def test_mac_mismatch_with_tcpdump_at_80_columns():
    stages = path.build(mac(), FENTRY)
    assert [s.stage for s in stages] == ["NIC filter", "eth_type_trans", "ip_rcv_core", "netfilter PREROUTING",
                                         "socket"]
    assert [s.count for s in stages] == [None, 5, 5, 0, None]
    assert [s.stage for s in stages if s.drop] == ["ip_rcv_core"]
    text = draw(stages)
    check_text(text)
    assert "tcpdump (pid 812)" in text and "rx_otherhost_dropped +5" in text
    assert re.search(r"^X +ip_rcv_core +5 +DROPPED: OTHERHOST", text, re.M), text
    assert re.search(r"^-> netfilter PREROUTING +0 +never reached: raw PREROUTING rule", text, re.M), text
    assert re.search(r"^-> socket +- +never reached", text, re.M), text


def test_mac_mismatch_without_hooks_counter_or_rule_says_so():
    stages = path.build(mac(classified=None, raw=None, delta=None, holders=[]), NO_HOOKS)
    text = draw(stages)
    check_text(text)
    eth = stages[1]
    assert eth.count is None and "hook not attached" in eth.note and "trampolines" in eth.note
    assert "no rx_otherhost_dropped counter" in stages[2].note
    assert stages[3].count is None and "no raw PREROUTING rule" in stages[3].note
    assert "holder unknown" in stages[0].note


@pytest.mark.parametrize("cause", sorted(DROP_STAGE))
def test_other_causes_end_at_their_stage(cause):
    stages = path.build(other(cause), FENTRY)
    assert stages[-1].stage == DROP_STAGE[cause] and stages[-1].drop and stages[-1].count == 4
    assert sum(s.drop for s in stages) == 1
    assert all(s.count is None for s in stages[:-1])  # no evidence before the drop: shown as such, no number
    text = draw(stages)
    check_text(text)
    assert text.splitlines()[-1].startswith("X ") or "X " in text


def test_netfilter_drop_in_prerouting_ends_there():
    f = Finding("netfilter-drop", "t", "e", "f", count=2, extra={"rule": "table ip raw chain PREROUTING: drop"})
    assert path.build(f, FENTRY)[-1].stage == "netfilter PREROUTING"


def nic(promiscuity=0, kind="device"):
    return InterfaceFacts("host", 1, 2, "eth0", "52:54:00:4e:44:02", kind, 0x1003, promiscuity, "UP",
                          addresses=(Address("10.77.0.3", 24, 4, True),))


def test_silence_on_a_filtering_nic_marks_the_filter():
    stages = path.silence(nic(), FENTRY, "10.77.0.3", 0)
    assert stages[0].drop and "--promisc" in stages[0].note
    assert [s.count for s in stages] == [None, 0, 0]
    check_text(draw(stages))
    stages = path.silence(nic(), NO_HOOKS, "10.77.0.3", None)
    assert stages[1].count is None and "not attached" in stages[1].note
    assert not path.silence(nic(promiscuity=1), FENTRY, "10.77.0.3", 0)[0].drop


def test_report_json_and_text_carry_the_path():
    f = mac()
    stages = path.build(f, FENTRY)
    r = Report([f], [], [], 0, 0, FENTRY, 2.0, "t", [stages], stages)
    d = r.to_dict()
    assert d["path"] == d["findings"][0]["path"]
    assert d["path"][2] == {"stage": "ip_rcv_core", "count": 5, "note": stages[2].note, "drop": True}
    console = Console(width=80, no_color=True, record=True, markup=False, highlight=False)
    console.print(render_report(r))
    text = console.export_text()
    check_text(text)
    assert "Receive path" in text and "netfilter PREROUTING" in text
