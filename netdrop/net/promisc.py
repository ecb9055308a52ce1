"""Promiscuous mode: who holds an interface promiscuous, and a temporary hold of our own.

tcpdump (libpcap) makes an interface promiscuous by joining PACKET_MR_PROMISC on its packet socket: the kernel
counts that in dev->promiscuity and drops the membership when the socket closes, even on SIGKILL. netdrop's
--promisc does the same, so the host returns to its previous state however netdrop ends. It never sets the sticky
IFF_PROMISC flag (`ip link set promisc on`).
"""
from __future__ import annotations

import os
import socket
import struct
from contextlib import ExitStack
from dataclasses import dataclass
from typing import Dict, List, Optional, Tuple

from ..errors import HostError
from .netns import entered

SOL_PACKET = 263
PACKET_ADD_MEMBERSHIP = 1
PACKET_MR_PROMISC = 1


@dataclass(frozen=True)
class Holder:
    pid: int
    comm: str
    ifindex: int

    def describe(self) -> str:
        return f"{self.comm} (pid {self.pid})"


def parse_proc_net_packet(text: str) -> List[Tuple[int, int]]:
    """[(ifindex, socket inode)] from /proc/net/packet (ifindex 0: not bound to one interface)."""
    out = []
    for line in text.splitlines()[1:]:
        parts = line.split()
        if len(parts) >= 9:
            out.append((int(parts[4]), int(parts[8])))
    return out


def _socket_owners(inodes: set) -> Dict[int, Tuple[int, str]]:
    """socket inode -> (pid, comm), by walking /proc/*/fd."""
    owners: Dict[int, Tuple[int, str]] = {}
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        fd_dir = f"/proc/{pid}/fd"
        try:
            fds = os.listdir(fd_dir)
        except OSError:
            continue
        for fd in fds:
            try:
                target = os.readlink(f"{fd_dir}/{fd}")
            except OSError:
                continue
            if target.startswith("socket:["):
                ino = int(target[8:-1])
                if ino in inodes and ino not in owners:
                    owners[ino] = (int(pid), _comm(pid))
    return owners


def _comm(pid: str) -> str:
    try:
        with open(f"/proc/{pid}/comm") as f:
            return f.read().strip()
    except OSError:
        return "?"


def packet_holders(netns: Optional[str]) -> List[Holder]:
    """Processes with packet sockets in `netns`, with the interface each is bound to (0 = all)."""
    with entered(netns):
        try:
            with open("/proc/thread-self/net/packet") as f:
                text = f.read()
        except OSError:
            return []
    socks = parse_proc_net_packet(text)
    owners = _socket_owners({ino for _, ino in socks})
    me = os.getpid()
    return [Holder(owners[ino][0], owners[ino][1], ifindex) for ifindex, ino in socks
            if ino in owners and owners[ino][0] != me]


class TemporaryPromisc:
    """Hold interfaces promiscuous through packet-socket memberships for the life of this object."""

    def __init__(self, targets: List[Tuple[Optional[str], str]]):
        self.targets = targets  # [(netns name, interface name)]
        self._stack = ExitStack()
        self.held: List[Tuple[Optional[str], str]] = []

    def __enter__(self) -> "TemporaryPromisc":
        try:
            for netns, ifname in self.targets:
                with entered(netns):
                    # protocol 0: the socket receives nothing; it exists only to hold the membership
                    sock = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, 0)
                self._stack.enter_context(sock)
                ifindex = _ifindex_in(netns, ifname)
                mreq = struct.pack("iHH8s", ifindex, PACKET_MR_PROMISC, 0, b"")
                sock.setsockopt(SOL_PACKET, PACKET_ADD_MEMBERSHIP, mreq)
                self.held.append((netns, ifname))
        except OSError as exc:
            self._stack.close()
            raise HostError(f"could not make {ifname} promiscuous: {exc.strerror}",
                               "check the interface exists and that netdrop runs as root") from None
        return self

    def __exit__(self, *exc) -> bool:
        self._stack.close()
        return False


def _ifindex_in(netns: Optional[str], ifname: str) -> int:
    with entered(netns):
        return socket.if_nametoindex(ifname)
