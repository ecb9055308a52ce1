import os

from netdrop.kernel.ksyms import Ksyms
from netdrop.kernel.reasons import ReasonTable, parse_format_reasons
from netdrop.kernel.tracefs import event_fields

DATA = os.path.join(os.path.dirname(os.path.dirname(__file__)), "data")


def read(name):
    with open(os.path.join(DATA, name)) as f:
        return f.read()


def test_reasons_from_6_18_format():
    names = parse_format_reasons(read("kfree_skb_format_6.18.txt"))
    assert names[13] == "OTHERHOST"
    assert names[3] == "NO_SOCKET"
    assert names[16] == "IP_RPFILTER"
    assert len(names) > 100
    t = ReasonTable(names, "test")
    assert t.number("otherhost") == 13 and t.number("SKB_DROP_REASON_OTHERHOST") == 13
    assert t.name(9999) == "REASON_9999"


def test_5_10_format_has_no_reasons():
    text = read("kfree_skb_format_5.10.txt")
    assert parse_format_reasons(text) == {}
    assert event_fields(text) == ["skbaddr", "location", "protocol"]
    t = ReasonTable({}, "none")
    assert not t.available and t.name(13) == "-"


def test_kallsyms_unsorted_lookup_and_modules():
    ks = Ksyms.parse(read("kallsyms_excerpt.txt"))
    assert ks.format(0xFFFFFFFF81FF7F90 + 0x22C) == "ip_rcv_core+0x22c"
    assert ks.format(0xFFFFFFFF81FF8C00) == "ip_rcv+0x0"
    assert ks.format(0xFFFFFFFFC0A01010) == "vxlan_rcv+0x10 [vxlan]"
    assert ks.format(0) == "-"
    assert ks.lookup(0x10) is None
    assert ks.has("eth_type_trans") and not ks.has("some_data_symbol")  # data symbols are left out


def test_proc_net_packet():
    from netdrop.net.promisc import parse_proc_net_packet
    text = ("sk               RefCnt Type Proto  Iface R Rmem   User   Inode\n"
            "ffff8881012c6800 3      3    0003   4     1 0      0      53214\n"
            "ffff8881012c7000 3      3    0003   0     1 0      0      53999\n")
    assert parse_proc_net_packet(text) == [(4, 53214), (0, 53999)]


def test_compiler_clones_are_found():
    ks = Ksyms.parse("ffffffff81000000 t ip_rcv_core.isra.0\nffffffff81000100 T ip_rcv\n")
    assert ks.find("ip_rcv_core") == "ip_rcv_core.isra.0" and ks.find("ip_rcv") == "ip_rcv"
    assert ks.find("eth_type_trans") is None
