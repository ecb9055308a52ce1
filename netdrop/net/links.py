"""Interface facts through rtnetlink (pyroute2), read-only and namespace-aware. Never creates a namespace."""
from __future__ import annotations

import errno
import socket
import struct
from typing import Dict, List, Optional

from ..errors import NotFound
from ..model import Address, InterfaceFacts, Neighbour
from .netns import describe_handle, entered

NUD_STATES = {0x01: "INCOMPLETE", 0x02: "REACHABLE", 0x04: "STALE", 0x08: "DELAY", 0x10: "PROBE", 0x20: "FAILED",
              0x40: "NOARP", 0x80: "PERMANENT", 0x00: "NONE"}
IFA_F_SECONDARY = 0x01
# struct rtnl_link_stats64: 24 u64 up to rx_nohandler, then rx_otherhost_dropped (Linux 5.19+)
STATS64_OTHERHOST_INDEX = 24


def iproute_in(netns: Optional[str]):
    """An IPRoute whose netlink socket lives in `netns`.

    Workaround (pyroute2 0.9.7): IPRoute(netns=NAME) forks a child process to open the socket, and that child
    inherits netdrop's signal handlers and exits through them. Entering the namespace in this thread for the
    socket's creation (setns on /var/run/netns/NAME, opened read-only) gives the same socket without a fork.
    """
    from pyroute2 import IPRoute
    with entered(netns):
        return IPRoute()


def decode_stats64(raw: bytes) -> Dict[str, Optional[int]]:
    """The counters pyroute2 (0.9.7) does not decode: rx_otherhost_dropped is the u64 after rx_nohandler."""
    n = len(raw) // 8
    vals = struct.unpack_from(f"<{n}Q", raw)
    return {
        "rx_packets": vals[0] if n > 0 else 0,
        "rx_dropped": vals[4] if n > 4 else 0,
        "rx_otherhost_dropped": vals[STATS64_OTHERHOST_INDEX] if n > STATS64_OTHERHOST_INDEX else None,
    }


def _raw_stats64(msg) -> bytes:
    for nla in msg["attrs"]:
        if nla.name == "IFLA_STATS64":
            v = nla.get_value()
            start = v.offset + 4
            return bytes(v.data[start:v.offset + v.length])
    return b""


def _kind(msg) -> str:
    info = msg.get_attr("IFLA_LINKINFO")
    if info is not None:
        kind = info.get_attr("IFLA_INFO_KIND")
        if kind:
            return kind
    return "loopback" if msg["flags"] & 0x8 else "device"


def read_netns(netns: str, inode: int) -> List[InterfaceFacts]:
    try:
        ipr = iproute_in(netns)
    except OSError as exc:
        why = errno.errorcode.get(exc.errno, "") or exc.strerror or str(exc)
        raise NotFound(f"could not enter {describe_handle(netns)}: {why}",
                       "run netdrop as root; `netdrop diagnose --netns X` accepts the names `ip netns`, containers "
                       "and pid:N") from None
    with ipr:
        links = ipr.get_links()
        addrs: Dict[int, List[Address]] = {}
        for a in ipr.get_addr():
            ip = a.get_attr("IFA_ADDRESS") if a["family"] == socket.AF_INET6 else (a.get_attr("IFA_LOCAL") or
                                                                                   a.get_attr("IFA_ADDRESS"))
            if not ip:
                continue
            flags = a.get_attr("IFA_FLAGS") or a["flags"]
            addrs.setdefault(a["index"], []).append(Address(ip, a["prefixlen"], 4 if a["family"] == socket.AF_INET
                                                            else 6, bool(flags & IFA_F_SECONDARY)))
        neigh: Dict[int, List[Neighbour]] = {}
        for n in ipr.get_neighbours():
            ip = n.get_attr("NDA_DST")
            if not ip:
                continue
            neigh.setdefault(n["ifindex"], []).append(
                Neighbour(ip, n.get_attr("NDA_LLADDR"), NUD_STATES.get(n["state"], hex(n["state"])), n["ifindex"]))
        out = []
        for m in links:
            stats = decode_stats64(_raw_stats64(m))
            out.append(InterfaceFacts(
                netns=netns, netns_inode=inode, ifindex=m["index"], name=m.get_attr("IFLA_IFNAME") or "?",
                mac=m.get_attr("IFLA_ADDRESS"), kind=_kind(m), flags=m["flags"],
                promiscuity=m.get_attr("IFLA_PROMISCUITY") or 0, operstate=m.get_attr("IFLA_OPERSTATE") or "?",
                master=m.get_attr("IFLA_MASTER"), link=m.get_attr("IFLA_LINK"),
                addresses=tuple(addrs.get(m["index"], ())), neighbours=tuple(neigh.get(m["index"], ())),
                rx_otherhost_dropped=stats["rx_otherhost_dropped"], rx_dropped=stats["rx_dropped"] or 0,
                rx_packets=stats["rx_packets"] or 0, perm_mac=m.get_attr("IFLA_PERM_ADDRESS"),
                admin_up=bool(m["flags"] & 0x1), link_netnsid=m.get_attr("IFLA_LINK_NETNSID")))
        return out


class HostFacts:
    """Interfaces of every namespace netdrop can see, indexed by (netns inode, ifindex); for a namespace that could
    not be read, why not (`errors`: inode -> "could not enter the namespace of pid 1234: EPERM")."""

    def __init__(self, interfaces: List[InterfaceFacts], names=None, errors: Optional[Dict[int, str]] = None):
        self.interfaces = interfaces
        self.names = names
        self.errors: Dict[int, str] = dict(errors or {})
        self.by_key = {(i.netns_inode, i.ifindex): i for i in interfaces}

    @classmethod
    def collect(cls, names=None, only: Optional[list] = None) -> "HostFacts":
        """Read every namespace of the registry `names` (namespaces.Registry), or only those in `only` (inodes, labels
        or `ip netns` names)."""
        if names is None:
            from .namespaces import Registry
            names = Registry()
        facts: List[InterfaceFacts] = []
        errors: Dict[int, str] = {}
        for label in names.all():
            if only is not None and not any(o in (label.inode, str(label), label.ip_name) for o in only):
                continue
            try:
                facts.extend(read_netns(label, label.inode))
            except NotFound as exc:
                errors[label.inode] = exc.message
        return cls(facts, names, errors)

    def merge(self, newer: "HostFacts") -> "HostFacts":
        """These facts updated by `newer` (namespaces only one of them could read are kept)."""
        keep = [i for i in self.interfaces if i.netns_inode not in {n.netns_inode for n in newer.interfaces}]
        errors = {k: v for k, v in {**self.errors, **newer.errors}.items()
                  if k not in {n.netns_inode for n in newer.interfaces}}
        return HostFacts(keep + newer.interfaces, newer.names, errors)

    def why_missing(self, netns_inode: int, ifindex: int) -> str:
        """Why (netns_inode, ifindex) has no facts: the namespace could not be entered, or the interface is gone."""
        if netns_inode in self.errors:
            return self.errors[netns_inode]
        if any(i.netns_inode == netns_inode for i in self.interfaces):
            return f"no interface with index {ifindex} in that namespace when its facts were read (deleted?)"
        return "the namespace was gone (or not yet found) when the facts were read"

    def get(self, netns_inode: int, ifindex: int) -> Optional[InterfaceFacts]:
        return self.by_key.get((netns_inode, ifindex))

    def find_ip(self, ip: str) -> List[InterfaceFacts]:
        return [i for i in self.interfaces if i.owns(ip)]

    def find_mac(self, mac: str) -> List[InterfaceFacts]:
        return [i for i in self.interfaces if i.mac and i.mac.lower() == mac.lower()]

    def find_name(self, name: str, netns: Optional[str] = None) -> List[InterfaceFacts]:
        return [i for i in self.interfaces if i.name == name and (netns is None or i.netns == netns)]
