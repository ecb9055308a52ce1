"""The engine and rules on recorded facts: no kernel needed."""
import os

from rich.console import Console

from netdrop.diagnose.engine import Context, Focus, run
from netdrop.diagnose.rules import RULES
from netdrop.enrich import Enricher
from netdrop.kernel.ksyms import Ksyms
from netdrop.kernel.reasons import ReasonTable, parse_format_reasons
from netdrop.model import (Address, DropCount, DropEvent, DropKey, InterfaceFacts, Neighbour, Packet, Report)
from netdrop.net.links import HostFacts
from netdrop.net.namespaces import Registry
from netdrop.render.report import render_report

DATA = os.path.join(os.path.dirname(os.path.dirname(__file__)), "data")
IP_RCV_CORE = 0xFFFFFFFF81FF7F90
RX, TX = 4026532001, 4026532002


class Kernel:
    """The parts of KernelInfo the engine reads, built from recorded kernel files."""

    def __init__(self, with_reasons=True):
        with open(os.path.join(DATA, "kallsyms_excerpt.txt")) as f:
            self.ksyms = Ksyms.parse(f.read())
        with open(os.path.join(DATA, "kfree_skb_format_6.18.txt")) as f:
            self.reasons = ReasonTable(parse_format_reasons(f.read()) if with_reasons else {}, "test")
        self.has_reasons = with_reasons
        self.release = "test"

    def location(self, addr):
        return self.ksyms.format(addr)

    def in_ip_rcv(self, addr):
        hit = self.ksyms.lookup(addr)
        return bool(hit) and hit[0] in ("ip_rcv_core", "ip_rcv")


def facts(rx_name="vB", otherhost=10, neigh_state="PERMANENT", promiscuity=0, kind="veth"):
    rx = InterfaceFacts("ndlab-rx", RX, 2, rx_name, "02:25:ad:fa:a8:be", kind, 0x1003, promiscuity, "UP",
                        addresses=(Address("10.200.0.2", 24, 4), Address("10.200.0.3", 24, 4, True)),
                        rx_otherhost_dropped=otherhost)
    tx = InterfaceFacts("ndlab-tx", TX, 2, "vA", "02:4e:44:00:00:01", "veth", 0x1003, 0, "UP",
                        addresses=(Address("10.200.0.1", 24, 4),),
                        neighbours=(Neighbour("10.200.0.3", "02:de:ad:be:ef:01", neigh_state, 2),))
    return HostFacts([rx, tx], Registry.from_names({"ndlab-rx": RX, "ndlab-tx": TX}, own=1))


def event(reason=13, pkt_type=3, dst_mac="02:de:ad:be:ef:01", dst_ip="10.200.0.3", dport=9999):
    p = Packet(src_mac="02:4e:44:00:00:01", dst_mac=dst_mac, ethertype=0x0800, family=4, src_ip="10.200.0.1",
               dst_ip=dst_ip, l4proto=17, sport=40000, dport=dport)
    return DropEvent(1, IP_RCV_CORE + 0x22C, RX, 2, reason, pkt_type, 0x0800, 60, 60, True, 14, -1, 0, b"", p)


def otherhost_count(n, reason=13):
    return DropCount(DropKey(RX, 2, reason, 3, IP_RCV_CORE + 0x22C, "02:de:ad:be:ef:01", "10.200.0.3"), n)


def context(counts, events, before, after, kernel=None, focus=Focus()):
    kernel = kernel or Kernel()
    return Context(counts, events, before, after, Enricher(kernel, after.names, after), focus, 2.0)


def test_mac_mismatch_finding_fields():
    ctx = context([otherhost_count(3)], [event()] * 3, facts(otherhost=10), facts(otherhost=13))
    findings, notes = run(ctx, RULES)
    assert len(findings) == 1
    f = findings[0].to_dict()
    assert f["cause"] == "mac-mismatch" and f["count"] == 3 and f.get("counter_delta") == 3
    assert (f["interface"], f["netns"], f["ip"]) == ("vB", "ndlab-rx", "10.200.0.3")
    assert (f["seen_dst_mac"], f["expected_mac"]) == ("02:de:ad:be:ef:01", "02:25:ad:fa:a8:be")
    assert (f["sender_ip"], f["sender_mac"]) == ("10.200.0.1", "02:4e:44:00:00:01")
    assert f["address_role"] == "secondary" and f["location"] == "ip_rcv_core+0x22c"
    assert "rx_otherhost_dropped: +3, matches" in f["explanation"]
    assert "ip -n ndlab-tx neigh replace 10.200.0.3 lladdr 02:25:ad:fa:a8:be dev vA nud permanent" in f["fix"]
    assert notes == []


def test_stale_entry_gets_flush_fix_and_arping():
    ctx = context([otherhost_count(2)], [event()], facts(), facts(otherhost=12, neigh_state="STALE"))
    f = run(ctx, RULES)[0][0]
    assert "ip -n ndlab-tx neigh del 10.200.0.3 dev vA" in f.fix
    assert "ip netns exec ndlab-rx arping -U -c 3 -I vB 10.200.0.3" in f.fix


def test_counter_mismatch_is_reported_not_hidden():
    ctx = context([otherhost_count(3)], [event()], facts(otherhost=0), facts(otherhost=5))
    f = run(ctx, RULES)[0][0]
    assert f.counter_delta == 5 and "matches" not in f.explanation


def test_kernel_without_reasons_infers_otherhost_from_location():
    ctx = context([otherhost_count(4, reason=0)], [event(reason=0)], facts(), facts(otherhost=14),
                  kernel=Kernel(with_reasons=False))
    findings, _ = run(ctx, RULES)
    assert [f.cause for f in findings] == ["mac-mismatch"] and findings[0].count == 4


def test_no_socket_and_focus():
    ns = DropCount(DropKey(RX, 2, 3, 0, 0xFFFFFFFF82048C10 + 0x4BC), 2)
    evs = [event(reason=3, pkt_type=0, dst_mac="02:25:ad:fa:a8:be", dst_ip="10.200.0.2", dport=9)] * 2
    ctx = context([otherhost_count(3), ns], [event()] + evs, facts(), facts(otherhost=13))
    findings, _ = run(ctx, RULES)
    assert sorted(f.cause for f in findings) == ["mac-mismatch", "no-socket"]
    sock = next(f for f in findings if f.cause == "no-socket")
    assert sock.to_dict()["port"] == 9 and sock.ip == "10.200.0.2" and sock.count == 2
    ctx = context([otherhost_count(3), ns], evs, facts(), facts(), focus=Focus(ip="10.200.0.2"))
    assert [f.cause for f in run(ctx, RULES)[0]] == ["no-socket"]


def test_silence_on_promiscuous_less_nic_suggests_promisc():
    f = facts(kind="device")
    ctx = context([], [], f, f, focus=Focus(ip="10.200.0.3"))
    findings, notes = run(ctx, RULES)
    assert findings == []
    topics = [n.topic for n in notes]
    assert "no-drops" in topics and "mac-filter" in topics
    assert "--promisc" in next(n for n in notes if n.topic == "mac-filter").hint


def test_observer_effect_note_when_nic_is_promiscuous():
    ctx = context([otherhost_count(1)], [event()], facts(kind="device", promiscuity=1),
                  facts(kind="device", promiscuity=1, otherhost=11))
    _, notes = run(ctx, RULES)
    assert [n.topic for n in notes] == ["observer-effect"]


def _render(report, width=100):
    console = Console(width=width, no_color=True, record=True, markup=False, highlight=False)
    console.print(render_report(report))
    return console.export_text()


def test_render_is_plain_and_literal():
    hostile = "[bold red]x[/]"
    ctx = context([otherhost_count(3)], [event()], facts(rx_name=hostile), facts(rx_name=hostile, otherhost=13))
    findings, notes = run(ctx, RULES)
    rows = [ctx.enrich.row(otherhost_count(3))]
    text = _render(Report(findings, rows, notes, 0, 0, [{"name": "skb:kfree_skb", "attached": True}], 2.0, "t"))
    assert "[bold red]x[/]" in text  # interface names are never markup
    assert "Finding 1: mac-mismatch" in text
    assert "02:de:ad:be:ef:01" in text and "ip_rcv_core+0x22c" in text
    assert max(len(line) for line in text.splitlines()) <= 100


def test_render_wrapped_evidence_and_fix_hang_under_their_text():
    ctx = context([otherhost_count(3)], [event()], facts(), facts(otherhost=13))
    findings, notes = run(ctx, RULES)
    text = _render(Report(findings, [], notes, 0, 0, [], 2.0, "t"), width=60)
    lines = text.splitlines()
    bullet = next(i for i, line in enumerate(lines) if line.startswith("│   - sender:"))
    assert lines[bullet + 1].startswith("│     ") and lines[bullet + 1][6] != " ", text
    fix = next(i for i, line in enumerate(lines) if line.startswith("│ Fix: "))
    assert lines[fix + 1].startswith("│      ") and lines[fix + 1][7] != " ", text


def _unreadable_receiver():
    """The receiver's namespace could not be entered: only the sender's facts, and why the receiver's are missing."""
    full = facts()
    tx = [i for i in full.interfaces if i.name == "vA"]
    return HostFacts(tx, full.names, {RX: "could not enter the namespace of pid 1234: EPERM"})


def test_unreadable_namespace_says_why_never_none():
    ctx = context([otherhost_count(3)], [event()] * 3, _unreadable_receiver(), _unreadable_receiver())
    findings, _ = run(ctx, RULES)
    f = findings[0]
    d = f.to_dict()
    text = " ".join([f.title, f.explanation, f.fix, *f.evidence])
    assert "None" not in text and "None" not in str(d) and None not in d.values()
    assert "could not enter the namespace of pid 1234: EPERM" in f.title
    assert d["facts_missing"] == "could not enter the namespace of pid 1234: EPERM"
    assert "counter_delta" not in d and d["counter_missing"].startswith("rx_otherhost_dropped could not be read here")
    assert "expected_mac" not in d and "lladdr" not in f.fix and "neigh del 10.200.0.3 dev vA" in f.fix


def test_kernel_without_the_counter_says_so():
    ctx = context([otherhost_count(3)], [event()] * 3, facts(otherhost=None), facts(otherhost=None))
    d = run(ctx, RULES)[0][0].to_dict()
    assert d["counter_missing"] == "this kernel has no rx_otherhost_dropped counter (added in Linux 5.19)"
    assert "this kernel has no rx_otherhost_dropped counter" in d["explanation"]


def test_the_wrong_mac_in_a_copy_of_the_setup_is_not_the_cause():
    """Two labs on one host: the other copy's macvlan child has the wrong MAC; this path's cause is the static entry."""
    base = facts()
    copy_rx = InterfaceFacts("other-rx", 4026532009, 2, "vB", "02:25:ad:fa:a8:be", "veth", 0x1003, 0, "UP")
    mv = InterfaceFacts("other-rx", 4026532009, 3, "mv0", "02:de:ad:be:ef:01", "macvlan", 0x1002, 0, "DOWN",
                        admin_up=False)
    both = HostFacts(base.interfaces + [copy_rx, mv], base.names)
    ctx = context([otherhost_count(3)], [event()] * 3, both, both)
    f = run(ctx, RULES)[0][0].to_dict()
    assert f["mac_cause"] == "static-neighbour" and "seen_mac_owner" not in f
    assert any("also the MAC of mv0 in netns other-rx" in e for e in f["evidence"])
    mv_elsewhere = HostFacts(base.interfaces + [mv], base.names)  # no copy: a macvlan moved to another namespace
    f = run(context([otherhost_count(3)], [event()] * 3, mv_elsewhere, mv_elsewhere), RULES)[0][0].to_dict()
    assert f["mac_cause"] == "local-other-interface" and f["seen_mac_owner"]["interface"] == "mv0"


def _with_link(f, name, kind, link):
    from dataclasses import replace
    return HostFacts([replace(i, kind=kind, link=link) if i.name == name else i for i in f.interfaces], f.names)


def test_hook_counts_of_a_vlan_add_its_lower_device_only():
    """eth_type_trans counts a VLAN's frames on the lower device: added for a VLAN. A veth's IFLA_LINK is its peer
    in another namespace, which may have the same ifindex: never added (it doubled the counts)."""
    classes = {(RX, 2, "02:de:ad:be:ef:01"): {"classified": 5, "reached_ip": 0},
               (RX, 3, "02:de:ad:be:ef:01"): {"classified": 0, "reached_ip": 5}}
    vlan = _with_link(facts(), "vB", "vlan", 3)
    veth = _with_link(facts(), "vB", "veth", 2)
    for f, want in ((vlan, (5, 5)), (veth, (5, 0))):
        ctx = context([otherhost_count(5)], [event()], f, f)
        ctx.classes = classes
        d = run(ctx, RULES)[0][0].to_dict()
        assert (d["classified"], d["reached_ip"]) == want
