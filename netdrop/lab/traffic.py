"""Traffic for the lab: a known number of datagrams of each kind, or a flood of wrong-MAC frames.
Everything goes from the lab's sender namespace to its receiver: never anywhere else."""
from __future__ import annotations

import socket
import struct
import time
from typing import Dict, Optional, Tuple

from ..errors import UsageError
from ..net import netns
from . import backlog as labbacklog
from . import topology as L

# kind -> (destination IP, port, source IP or None, payload size)
KINDS: Dict[str, Tuple[str, int, Optional[str], int]] = {
    "wrong-mac": (L.SECONDARY_IP, L.UDP_PORT, None, 16),
    "closed-port": (L.PRIMARY_IP, L.CLOSED_PORT, None, 16),
    "correct": (L.PRIMARY_IP, L.UDP_PORT, None, 16),
    "rp-filter": (L.PRIMARY_IP, 7000, L.SPOOF_SRC, 16),
    "not-local": (L.NOT_LOCAL_IP, 7000, None, 16),
    "no-route": (L.NO_ROUTE_IP, 7000, None, 16),
    "netfilter": (L.PRIMARY_IP, L.NF_PORT, None, 16),
    "rcvbuf": (L.PRIMARY_IP, L.SINK_PORT, None, 512),
    "vlan": (L.VLAN_SECONDARY_IP, L.UDP_PORT, None, 16),
    "wrong-mac6": (L.SECONDARY_IP6, L.UDP_PORT, None, 16),
    "closed-port6": (L.PRIMARY_IP6, L.CLOSED_PORT, None, 16),
    "wrong-mac-vxlan": (f"{L.VXLAN_NET}.2", L.UDP_PORT, None, 16),  # over lab.build_vxlan()'s tunnel
}
TRAFFIC_KINDS = tuple(KINDS) + ("backlog",)
SCENARIO_OF = {"no-route": "forwarding", "wrong-mac6": "ipv6", "closed-port6": "ipv6"}  # kinds named otherwise


def send(count: int, kind: str = "wrong-mac", interval: float = 0.0, sender: Optional[str] = None) -> int:
    """Send `count` UDP datagrams from the sender namespace (the lab's, or `sender`, one lab.build_pair() made).
    Returns how many the socket accepted."""
    if sender is None:
        L.require_lab()
    if kind == "backlog":
        return _send_backlog(count)
    if kind not in KINDS:
        raise UsageError(f"unknown traffic kind {kind!r}", "kinds: " + ", ".join(TRAFFIC_KINDS))
    dst, port, src, size = KINDS[kind]
    family = socket.AF_INET6 if ":" in dst else socket.AF_INET
    with netns.entered(sender or L.TX_NS):
        sock = socket.socket(family, socket.SOCK_DGRAM)
    sent = 0
    with sock:
        if src:
            try:
                sock.bind((src, 0))
            except OSError:
                raise UsageError(f"traffic kind {kind} needs the lab scenario that configures {src}",
                                 f"run `netdrop lab up --scenario {kind}` (or multi)") from None
        for i in range(count):
            payload = (b"netdrop-lab %d " % i).ljust(size, b".")
            try:
                sent += sock.sendto(payload, (dst, port)) > 0
            except OSError as exc:  # e.g. no-route without the forwarding scenario's route: ENETUNREACH
                raise UsageError(f"traffic kind {kind} could not be sent to {dst}: {exc.strerror}",
                                 f"it needs its lab scenario: `netdrop lab up --scenario {SCENARIO_OF.get(kind, kind)}`"
                                 ) from None
            if interval:
                time.sleep(interval)
    return sent


def _send_backlog(count: int) -> int:
    if count > labbacklog.MAX_FRAMES:
        raise UsageError(f"traffic kind backlog sends at most {labbacklog.MAX_FRAMES:,} frames",
                         "the host-wide netdev_max_backlog stays lowered for the whole send; use a smaller --count")
    try:
        with netns.entered(L.RX_NS):
            socket.if_nametoindex(labbacklog.BACKLOG_BRIDGE)
    except OSError:
        raise UsageError("traffic kind backlog needs its lab scenario",
                         "run `netdrop lab up --scenario backlog`") from None
    return labbacklog.send(count)


def wrong_mac_frame() -> bytes:
    """A minimal Ethernet/IPv4/UDP frame from the sender to the secondary address, at the wrong MAC."""
    return udp_frame(L.WRONG_MAC, L.SECONDARY_IP, L.UDP_PORT)


def udp_frame(dst_mac: str, dst_ip: str, dport: int) -> bytes:
    """A minimal Ethernet/IPv4/UDP frame from the sender (UDP checksum 0: none)."""
    from ..decode import mac_bytes
    payload = b"netdrop-flood"
    udp = struct.pack("!HHHH", 40000, dport, 8 + len(payload), 0) + payload
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(udp), 0, 0x4000, 64, 17, 0,
                     socket.inet_aton(L.SENDER_IP), socket.inet_aton(dst_ip))
    csum = _checksum(ip)
    ip = ip[:10] + struct.pack("!H", csum) + ip[12:]
    return mac_bytes(dst_mac) + mac_bytes(L.TX_MAC) + b"\x08\x00" + ip + udp


def _checksum(data: bytes) -> int:
    s = sum(struct.unpack(f"!{len(data) // 2}H", data))
    s = (s >> 16) + (s & 0xFFFF)
    s += s >> 16
    return ~s & 0xFFFF


def flood(seconds: float) -> int:
    """Send prebuilt wrong-MAC frames on a raw socket as fast as Python can, for `seconds`. Returns frames sent."""
    L.require_lab()
    if seconds <= 0 or seconds > 600:
        raise UsageError("flood duration must be in (0, 600] seconds", "e.g. --seconds 3")
    with netns.entered(L.TX_NS):
        sock = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
        sock.bind((L.TX_IF, 0))
    frame = wrong_mac_frame()
    sent = 0
    with sock:
        send_ = sock.send
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            for _ in range(256):
                send_(frame)
            sent += 256
    return sent
