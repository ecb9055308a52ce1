"""The lab's backlog-full scenario: CPU_BACKLOG drops, exactly one per frame sent.

A bridge in the receiver namespace (BACKLOG_BRIDGE) has the sender's second veth as one port and FAN_OUT veth pairs
as the others. A broadcast frame from the sender is flooded by the bridge to those FAN_OUT ports in one softirq;
each veth hands its copy to the CPU's input backlog (`enqueue_to_backlog`), which accepts at most
netdev_max_backlog + 1 queued frames. With the limit at LOW_BACKLOG for the send, FAN_OUT - (LOW_BACKLOG + 1) = 1
copy per frame is dropped with reason CPU_BACKLOG, on the last port.

net.core.netdev_max_backlog is host-wide (there is no per-namespace value), so it is lowered only around the send
itself, a few milliseconds, and restored at once. The previous value is written to STATE_FILE first: if the
process dies in between, `netdrop lab down` (and the next `lab up`) puts it back.
"""
from __future__ import annotations

import os
import socket
from contextlib import contextmanager
from typing import Iterator

from ..decode import mac_bytes
from ..net import netns
from . import topology as L

SYSCTL = "/proc/sys/net/core/netdev_max_backlog"
STATE_FILE = "/run/netdrop-lab-netdev_max_backlog"
LOW_BACKLOG = 2
MAX_FRAMES = 10_000  # a send of well under a second: the lowered sysctl affects the whole host meanwhile
FAN_OUT = LOW_BACKLOG + 2  # one copy per frame more than the backlog takes
TX_FAN_IF, RX_FAN_IF = "vF", "fF"
BACKLOG_BRIDGE = "bl0"
ETH_P_LOCAL_EXP = 0x88B5  # IEEE "local experimental" EtherType: no protocol handler claims it


def leaf(i: int) -> str:
    return f"lf{i}"


def build() -> None:
    L.ip("-n", L.TX_NS, "link", "add", "name", TX_FAN_IF, "type", "veth", "peer", "name", RX_FAN_IF, "netns",
         L.RX_NS)
    L.ip("-n", L.RX_NS, "link", "add", "name", BACKLOG_BRIDGE, "type", "bridge")
    L.ip("-n", L.RX_NS, "link", "set", RX_FAN_IF, "master", BACKLOG_BRIDGE)
    for i in range(FAN_OUT):
        L.ip("-n", L.RX_NS, "link", "add", "name", f"bp{i}", "type", "veth", "peer", "name", leaf(i))
        L.ip("-n", L.RX_NS, "link", "set", f"bp{i}", "master", BACKLOG_BRIDGE)
    for dev in [BACKLOG_BRIDGE, RX_FAN_IF] + [f"bp{i}" for i in range(FAN_OUT)] + [leaf(i) for i in range(FAN_OUT)]:
        L.ip("-n", L.RX_NS, "link", "set", dev, "up")
    L.ip("-n", L.TX_NS, "link", "set", TX_FAN_IF, "up")


def restore() -> None:
    """Put back a netdev_max_backlog a killed `lab traffic --kind backlog` left lowered."""
    try:
        with open(STATE_FILE) as f:
            value = f.read().strip()
    except FileNotFoundError:
        return
    if value.isdigit():
        with open(SYSCTL, "w") as f:
            f.write(value)
    os.unlink(STATE_FILE)


@contextmanager
def low_backlog() -> Iterator[None]:
    restore()
    with open(SYSCTL) as f:
        before = f.read().strip()
    with open(STATE_FILE, "w") as f:
        f.write(before + "\n")
    try:
        with open(SYSCTL, "w") as f:
            f.write(str(LOW_BACKLOG))
        yield
    finally:
        with open(SYSCTL, "w") as f:
            f.write(before)
        os.unlink(STATE_FILE)


def send(count: int) -> int:
    """`count` broadcast frames into the fan-out bridge: `count` CPU_BACKLOG drops."""
    with netns.entered(L.TX_NS):
        sock = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
        sock.bind((TX_FAN_IF, 0))
    with sock:
        frame = b"\xff" * 6 + mac_bytes(L.TX_MAC) + ETH_P_LOCAL_EXP.to_bytes(2, "big") + b"netdrop-backlog".ljust(46)
        sent = 0
        with low_backlog():
            for _ in range(count):
                sent += sock.send(frame) > 0
    return sent
