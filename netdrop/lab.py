"""The built-in reproduction lab: the wrong-MAC situation (and its relatives) in network namespaces netdrop creates.

Everything lives in namespaces named ndlab-*; `down` removes every one of them, whatever state a crash left.
Traffic only ever goes between these namespaces.
"""
from __future__ import annotations

import os
import socket
import struct
import subprocess
import time
from dataclasses import dataclass
from typing import Dict, List

from .errors import NetdropError, NotFound, PermissionDenied, UsageError
from .net import netns

# NETDROP_LAB_PREFIX lets parallel test runs keep separate labs; everything netdrop creates starts with it.
PREFIX = os.environ.get("NETDROP_LAB_PREFIX", "ndlab-")
RX_NS, TX_NS = PREFIX + "rx", PREFIX + "tx"
RX_IF, TX_IF = "vB", "vA"
RX_MAC, TX_MAC = "02:25:ad:fa:a8:be", "02:4e:44:00:00:01"
WRONG_MAC = "02:de:ad:be:ef:01"
SENDER_IP, PRIMARY_IP, SECONDARY_IP = "10.200.0.1", "10.200.0.2", "10.200.0.3"
PREFIXLEN = 24
UDP_PORT = 9999  # wrong-MAC traffic goes here
CLOSED_PORT = 9  # nothing listens: NO_SOCKET drops

BRIDGE = "br0"
PORT_MAC = "02:25:ad:fa:a8:bf"  # the bridge port's own MAC in the bridge scenario (br0 carries RX_MAC)

SCENARIOS = {
    "wrong-mac": "the sender's neighbour entry for the receiver's secondary address points at a wrong MAC (veth: "
                 "no MAC filter, every frame reaches the IP layer)",
    "bridge": "the same fault, but the receiver's addresses sit on a Linux bridge, which passes foreign-MAC frames "
              "up to its own IP stack only while it is promiscuous: the NIC filter of the original report",
}
TRAFFIC_KINDS = ("wrong-mac", "closed-port", "correct")


@dataclass(frozen=True)
class Traffic:
    """Where each kind of lab traffic goes: (destination IP, port)."""

    kind: str

    @property
    def target(self):
        return {"wrong-mac": (SECONDARY_IP, UDP_PORT), "closed-port": (PRIMARY_IP, CLOSED_PORT),
                "correct": (PRIMARY_IP, UDP_PORT)}[self.kind]


def _ip(*args: str, check: bool = True) -> subprocess.CompletedProcess:
    r = subprocess.run(["ip", *args], capture_output=True, text=True)
    if check and r.returncode != 0:
        raise NetdropError(f"`ip {' '.join(args)}` failed: {r.stderr.strip()}", "run `netdrop lab down` and retry")
    return r


def namespaces() -> List[str]:
    return [n for n in netns.named() if n.startswith(PREFIX)]


def _require_root() -> None:
    if os.geteuid() != 0:
        raise PermissionDenied("the lab creates network namespaces, which needs root", "run it with sudo")


def down() -> List[str]:
    _require_root()
    removed = []
    for name in namespaces():
        _ip("netns", "del", name, check=False)
        removed.append(name)
    return removed


def up(scenario: str = "wrong-mac") -> Dict[str, str]:
    _require_root()
    if scenario not in SCENARIOS:
        raise UsageError(f"unknown lab scenario {scenario!r}", "scenarios: " + ", ".join(SCENARIOS))
    down()
    try:
        _build_base(bridge=scenario == "bridge")
    except BaseException:
        down()
        raise
    return status()


def _sysctl(ns: str, key: str, value: str) -> None:
    _ip("netns", "exec", ns, "sysctl", "-qw", f"{key}={value}")


def _build_base(bridge: bool = False) -> None:
    for ns in (RX_NS, TX_NS):
        _ip("netns", "add", ns)
        _ip("-n", ns, "link", "set", "lo", "up")
        # no IPv6 autoconfiguration chatter (router/neighbour solicitations) in the lab's drop counts
        _sysctl(ns, "net.ipv6.conf.all.disable_ipv6", "1")
        _sysctl(ns, "net.ipv6.conf.default.disable_ipv6", "1")
    _ip("-n", TX_NS, "link", "add", "name", TX_IF, "address", TX_MAC, "type", "veth", "peer", "name", RX_IF,
        "address", PORT_MAC if bridge else RX_MAC, "netns", RX_NS)
    owner = RX_IF
    if bridge:
        owner = BRIDGE
        _ip("-n", RX_NS, "link", "add", "name", BRIDGE, "address", RX_MAC, "type", "bridge")
        _ip("-n", RX_NS, "link", "set", RX_IF, "master", BRIDGE)
        _ip("-n", RX_NS, "link", "set", BRIDGE, "up")
    _ip("-n", RX_NS, "addr", "add", f"{PRIMARY_IP}/{PREFIXLEN}", "dev", owner)
    _ip("-n", RX_NS, "addr", "add", f"{SECONDARY_IP}/{PREFIXLEN}", "dev", owner)
    _ip("-n", TX_NS, "addr", "add", f"{SENDER_IP}/{PREFIXLEN}", "dev", TX_IF)
    _ip("-n", RX_NS, "link", "set", RX_IF, "up")
    _ip("-n", TX_NS, "link", "set", TX_IF, "up")
    # The fault: the sender believes the secondary address lives at a MAC nobody has.
    _ip("-n", TX_NS, "neigh", "replace", SECONDARY_IP, "lladdr", WRONG_MAC, "dev", TX_IF, "nud", "permanent")
    # Deterministic counts: no ARP resolution (and its queue) in front of the primary address either.
    _ip("-n", TX_NS, "neigh", "replace", PRIMARY_IP, "lladdr", RX_MAC, "dev", TX_IF, "nud", "permanent")
    _ip("-n", RX_NS, "neigh", "replace", SENDER_IP, "lladdr", TX_MAC, "dev", owner, "nud", "permanent")


def status() -> Dict[str, str]:
    spaces = namespaces()
    out = {"namespaces": " ".join(spaces) or "none"}
    if TX_NS in spaces:
        r = _ip("-n", TX_NS, "neigh", "show", SECONDARY_IP, check=False)
        out["sender neighbour entry"] = r.stdout.strip() or "none"
    if RX_NS in spaces:
        r = _ip("-n", RX_NS, "-br", "addr", "show", "up", check=False)
        out["receiver"] = " | ".join(line.strip() for line in r.stdout.splitlines() if not line.startswith("lo"))
        r = _ip("-n", RX_NS, "-br", "link", "show", "up", check=False)
        out["receiver links"] = " | ".join(line.strip() for line in r.stdout.splitlines() if not line.startswith("lo"))
    return out


def _require_lab() -> None:
    if TX_NS not in namespaces() or RX_NS not in namespaces():
        raise NotFound("the lab is not up", "run `netdrop lab up` first")


def send(count: int, kind: str = "wrong-mac", interval: float = 0.0) -> int:
    """Send `count` UDP datagrams from the sender namespace. Returns how many the socket accepted."""
    _require_lab()
    if kind not in TRAFFIC_KINDS:
        raise UsageError(f"unknown traffic kind {kind!r}", "kinds: " + ", ".join(TRAFFIC_KINDS))
    with netns.entered(TX_NS):
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sent = 0
    with sock:
        target = Traffic(kind).target
        for i in range(count):
            sent += sock.sendto(b"netdrop-lab %d" % i, target) > 0
            if interval:
                time.sleep(interval)
    return sent


def wrong_mac_frame() -> bytes:
    """A minimal Ethernet/IPv4/UDP frame from the sender to the secondary address, at the wrong MAC."""
    from .decode import mac_bytes
    payload = b"netdrop-flood"
    udp = struct.pack("!HHHH", 40000, UDP_PORT, 8 + len(payload), 0) + payload
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(udp), 0, 0x4000, 64, 17, 0,
                     socket.inet_aton(SENDER_IP), socket.inet_aton(SECONDARY_IP))
    csum = _checksum(ip)
    ip = ip[:10] + struct.pack("!H", csum) + ip[12:]
    return mac_bytes(WRONG_MAC) + mac_bytes(TX_MAC) + b"\x08\x00" + ip + udp


def _checksum(data: bytes) -> int:
    s = sum(struct.unpack(f"!{len(data) // 2}H", data))
    s = (s >> 16) + (s & 0xFFFF)
    s += s >> 16
    return ~s & 0xFFFF


def flood(seconds: float, kind: str = "wrong-mac") -> int:
    """Send prebuilt wrong-MAC frames on a raw socket as fast as Python can, for `seconds`. Returns frames sent."""
    _require_lab()
    if seconds <= 0 or seconds > 600:
        raise UsageError("flood duration must be in (0, 600] seconds", "e.g. --seconds 3")
    with netns.entered(TX_NS):
        sock = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
    frame = wrong_mac_frame()
    sent = 0
    with sock:
        with netns.entered(TX_NS):
            sock.bind((TX_IF, 0))
        send_ = sock.send
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            for _ in range(256):
                send_(frame)
            sent += 256
    return sent
