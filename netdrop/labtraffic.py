"""Traffic for the lab: a known number of datagrams of each kind, or a flood of wrong-MAC frames.
Everything goes from the lab's sender namespace to its receiver: never anywhere else."""
from __future__ import annotations

import socket
import struct
import time
from typing import Dict, Optional, Tuple

from . import lab as L
from .errors import UsageError
from .net import netns

# kind -> (destination IP, port, source IP or None, payload size)
KINDS: Dict[str, Tuple[str, int, Optional[str], int]] = {
    "wrong-mac": (L.SECONDARY_IP, L.UDP_PORT, None, 16),
    "closed-port": (L.PRIMARY_IP, L.CLOSED_PORT, None, 16),
    "correct": (L.PRIMARY_IP, L.UDP_PORT, None, 16),
    "rp-filter": (L.PRIMARY_IP, 7000, L.SPOOF_SRC, 16),
    "not-local": (L.NOT_LOCAL_IP, 7000, None, 16),
    "netfilter": (L.PRIMARY_IP, L.NF_PORT, None, 16),
    "rcvbuf": (L.PRIMARY_IP, L.SINK_PORT, None, 512),
    "vlan": (L.VLAN_SECONDARY_IP, L.UDP_PORT, None, 16),
    "wrong-mac6": (L.SECONDARY_IP6, L.UDP_PORT, None, 16),
    "closed-port6": (L.PRIMARY_IP6, L.CLOSED_PORT, None, 16),
}
TRAFFIC_KINDS = tuple(KINDS) + ("backlog",)


def send(count: int, kind: str = "wrong-mac", interval: float = 0.0) -> int:
    """Send `count` UDP datagrams from the sender namespace. Returns how many the socket accepted."""
    L.require_lab()
    if kind == "backlog":
        return _send_backlog(count)
    if kind not in KINDS:
        raise UsageError(f"unknown traffic kind {kind!r}", "kinds: " + ", ".join(TRAFFIC_KINDS))
    dst, port, src, size = KINDS[kind]
    family = socket.AF_INET6 if ":" in dst else socket.AF_INET
    with netns.entered(L.TX_NS):
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
            sent += sock.sendto(payload, (dst, port)) > 0
            if interval:
                time.sleep(interval)
    return sent


def _send_backlog(count: int) -> int:
    from . import labbacklog
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
    from .decode import mac_bytes
    payload = b"netdrop-flood"
    udp = struct.pack("!HHHH", 40000, L.UDP_PORT, 8 + len(payload), 0) + payload
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(udp), 0, 0x4000, 64, 17, 0,
                     socket.inet_aton(L.SENDER_IP), socket.inet_aton(L.SECONDARY_IP))
    csum = _checksum(ip)
    ip = ip[:10] + struct.pack("!H", csum) + ip[12:]
    return mac_bytes(L.WRONG_MAC) + mac_bytes(L.TX_MAC) + b"\x08\x00" + ip + udp


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
