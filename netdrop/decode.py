"""Raw BPF records -> model. Byte order and header parsing only; no names, no formatting."""
from __future__ import annotations

import ipaddress
import socket
import struct
from typing import Optional

from .bpf.layout import DROP_EVENT, DROP_KEY
from .model import PACKET_OTHERHOST, DropCount, DropEvent, DropKey, Packet
from .protocols import ETH_P_IP, ETH_P_IPV6, VLAN_TAGS, WITH_PORTS


def mac_str(b: bytes) -> str:
    return b.hex(":")


def mac_bytes(s: str) -> bytes:
    parts = s.replace("-", ":").split(":")
    if len(parts) != 6:
        raise ValueError(f"not a MAC address: {s}")
    return bytes(int(p, 16) for p in parts)


def decode_key(raw: bytes, count: int) -> DropCount:
    netns, ifindex, reason, pkt_type, family, dst_mac, location, daddr = DROP_KEY.unpack_from(raw)
    mac = ip = None
    if pkt_type == PACKET_OTHERHOST:
        mac = mac_str(dst_mac)
        if family == 4:
            ip = str(ipaddress.IPv4Address(daddr[:4]))
        elif family == 6:
            ip = str(ipaddress.IPv6Address(daddr))
    return DropCount(DropKey(netns, ifindex, reason, pkt_type, location, mac, ip), count)


def parse_l3(data: bytes, off: int, ethertype: Optional[int]) -> dict:
    out: dict = {}
    if ethertype == ETH_P_IP and len(data) >= off + 20:
        ihl = (data[off] & 0x0F) * 4
        out.update(family=4, l4proto=data[off + 9], src_ip=socket.inet_ntop(socket.AF_INET, data[off + 12:off + 16]),
                   dst_ip=socket.inet_ntop(socket.AF_INET, data[off + 16:off + 20]))
        l4 = off + ihl
        frag = struct.unpack_from("!H", data, off + 6)[0] & 0x1FFF
        if frag:
            return out
    elif ethertype == ETH_P_IPV6 and len(data) >= off + 40:
        out.update(family=6, l4proto=data[off + 6], src_ip=socket.inet_ntop(socket.AF_INET6, data[off + 8:off + 24]),
                   dst_ip=socket.inet_ntop(socket.AF_INET6, data[off + 24:off + 40]))
        l4 = off + 40
    else:
        return out
    if out["l4proto"] in WITH_PORTS and len(data) >= l4 + 4:
        out["sport"], out["dport"] = struct.unpack_from("!HH", data, l4)
    return out


def parse_frame(data: bytes, has_mac: bool, net_off: Optional[int], protocol: int) -> Packet:
    fields: dict = {}
    ethertype: Optional[int] = protocol or None
    if has_mac and len(data) >= 14:
        fields.update(dst_mac=mac_str(data[0:6]), src_mac=mac_str(data[6:12]))
        ethertype = struct.unpack_from("!H", data, 12)[0]
        off = 14
        while ethertype in VLAN_TAGS and len(data) >= off + 4:
            ethertype = struct.unpack_from("!H", data, off + 2)[0]
            off += 4
        if net_off is None:
            net_off = off
    if net_off is not None:
        fields.update(parse_l3(data, net_off, ethertype))
    return Packet(ethertype=ethertype, **fields)


def decode_event(raw: bytes) -> DropEvent:
    (ts, location, netns, ifindex, reason, frame_len, protocol, pkt_type, has_mac, caplen, net_off, stack_id,
     cpu) = DROP_EVENT.unpack_from(raw)
    data = raw[DROP_EVENT.size:DROP_EVENT.size + caplen]
    proto = int.from_bytes(struct.pack("<H", protocol), "big")  # skb->protocol is big-endian in memory
    noff = None if net_off == 0xFFFF else net_off
    packet = parse_frame(data, bool(has_mac), noff, proto)
    return DropEvent(ts, location, netns, ifindex, reason, pkt_type, proto, frame_len, caplen, bool(has_mac), noff,
                     stack_id, cpu, data, packet)
