import socket
import struct

from netdrop.bpf.layout import DROP_EVENT, DROP_KEY
from netdrop.decode import decode_event, decode_key, mac_bytes
from netdrop.lab import wrong_mac_frame


def test_decode_otherhost_key():
    raw = DROP_KEY.pack(4026532000, 2, 13, 3, 4, mac_bytes("02:de:ad:be:ef:01"), 0xFFFFFFFF81FF81BC,
                        socket.inet_aton("10.200.0.3") + b"\0" * 12)
    c = decode_key(raw, 7)
    assert c.count == 7
    k = c.key
    assert (k.netns, k.ifindex, k.reason, k.pkt_type) == (4026532000, 2, 13, 3)
    assert k.dst_mac == "02:de:ad:be:ef:01" and k.daddr == "10.200.0.3"


def test_decode_other_key_has_no_l2_detail():
    raw = DROP_KEY.pack(1, 2, 3, 0, 0, b"\0" * 6, 5, b"\0" * 16)
    k = decode_key(raw, 1).key
    assert k.dst_mac is None and k.daddr is None


def test_decode_event_with_frame():
    frame = wrong_mac_frame()
    proto_le = struct.unpack("<H", struct.pack("!H", 0x0800))[0]  # skb->protocol as the BPF program copies it
    hdr = DROP_EVENT.pack(10, 0xFFFF, 99, 2, 13, len(frame), proto_le, 3, 1, len(frame), 14, -1, 0)
    e = decode_event(hdr + frame + b"\0" * (128 - len(frame)))
    assert e.protocol == 0x0800 and e.otherhost
    p = e.packet
    assert (p.dst_mac, p.src_mac) == ("02:de:ad:be:ef:01", "02:4e:44:00:00:01")
    assert (p.src_ip, p.dst_ip, p.l4proto, p.dport) == ("10.200.0.1", "10.200.0.3", 17, 9999)
    assert p.proto_name == "udp" and e.data == frame


def test_decode_event_without_mac_header():
    ip = wrong_mac_frame()[14:]
    proto_le = struct.unpack("<H", struct.pack("!H", 0x0800))[0]
    hdr = DROP_EVENT.pack(10, 0, 0, 0, 3, len(ip), proto_le, 0, 0, len(ip), 0, -1, 1)
    e = decode_event(hdr + ip)
    assert e.packet.dst_mac is None and e.packet.dst_ip == "10.200.0.3" and e.packet.sport == 40000


def test_decode_classification_counts():
    from netdrop.bpf.layout import CLASS_KEY
    from netdrop.classify import decode_classes
    dst, src = mac_bytes("02:de:ad:be:ef:01"), mac_bytes("02:4e:44:00:00:01")
    rows = [(CLASS_KEY.pack(7, 2, dst, src, 1), 5), (CLASS_KEY.pack(7, 2, dst, src, 2), 4),
            (CLASS_KEY.pack(7, 2, dst, mac_bytes("02:00:00:00:00:09"), 1), 1)]
    assert decode_classes(rows) == {(7, 2, "02:de:ad:be:ef:01"): {"classified": 6, "reached_ip": 4}}
