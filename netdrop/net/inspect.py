"""Read-only questions the rules ask the host, one object so the engine stays pure (tests pass NullHost)."""
from __future__ import annotations

import re
import shutil
import subprocess
from typing import List, Optional, Tuple

from . import sysctl as _sysctl
from .links import iproute_in
from .netns import entered, handle_of
from .promisc import Holder, _socket_owners, packet_holders
from .rawcounter import RawRule, raw_prerouting


class NullHost:
    """Knows nothing: what the engine gets in unit tests and when a question cannot be answered."""

    def sysctl(self, netns: str, ifname: str, key: str) -> Optional[int]:
        return None

    def sysctl_path(self, netns: str, path: str) -> Optional[str]:
        return None

    def holders(self, netns: str) -> List[Holder]:
        return []

    def route_get(self, netns: str, dst: str) -> Optional[str]:
        return None

    def drop_rules(self, netns: str) -> List[str]:
        return []

    def socket_owner(self, netns: str, proto: str, port: int) -> Optional[Tuple[int, str]]:
        return None

    def nsid_in(self, where: str, other: str) -> Optional[int]:
        """The nsid namespace `other` has inside namespace `where` (to follow a veth to its peer's namespace)."""
        return None

    def raw_prerouting(self, netns: str, ip: str) -> List[RawRule]:
        return []


class LiveHost(NullHost):
    """The answers read from the running host. A namespace that cannot be entered (gone, no handle) answers like
    NullHost: unknown, which the explanations say in words."""

    def sysctl(self, netns, ifname, key):
        return _sysctl.effective_max(_sysctl.conf(netns, ifname, key))

    def sysctl_path(self, netns, path):
        return _sysctl.read(netns, path)

    def holders(self, netns):
        try:
            return packet_holders(netns)
        except OSError:
            return []

    def route_get(self, netns, dst):
        """Name of the interface the route to `dst` leaves by, "" when there is no route."""
        from pyroute2.netlink.exceptions import NetlinkError
        try:
            ipr = iproute_in(netns)
        except OSError:
            return None
        with ipr:
            try:
                routes = ipr.route("get", dst=dst)
            except NetlinkError:
                return ""
            if not routes:
                return ""
            oif = routes[0].get_attr("RTA_OIF")
            links = ipr.get_links(oif) if oif else []
            return links[0].get_attr("IFLA_IFNAME") if links else ""

    def nsid_in(self, where, other):
        from .nsid import nsid_in
        return nsid_in(where, other)

    def drop_rules(self, netns):
        """Rules whose verdict is drop, from nft (with their table and chain), in the namespace."""
        if not shutil.which("nft"):
            return []
        cmd = ["nft", "-a", "list", "ruleset"]
        try:
            handle = handle_of(netns)
        except OSError:
            return []
        if handle:
            cmd = ["nsenter", f"--net={handle}"] + cmd
        r = subprocess.run(cmd, capture_output=True, text=True)
        return parse_nft_drops(r.stdout) if r.returncode == 0 else []

    def raw_prerouting(self, netns, ip):
        return raw_prerouting(netns, ip)

    def socket_owner(self, netns, proto, port):
        try:
            with entered(netns):
                with open(f"/proc/thread-self/net/{proto}") as f:
                    text = f.read()
        except OSError:
            return None
        inodes = {ino for p, ino in parse_proc_net_sockets(text) if p == port}
        owners = _socket_owners(inodes)
        return next(iter(owners.values()), None)


def parse_nft_drops(text: str) -> List[str]:
    """["table inet nd chain in: udp dport 7001 counter packets 5 bytes 145 drop # handle 3", ...]"""
    out, table, chain = [], "", ""
    for line in text.splitlines():
        s = line.strip()
        m = re.match(r"table (\S+) (\S+)", s)
        if m:
            table, chain = f"{m.group(1)} {m.group(2)}", ""
            continue
        m = re.match(r"chain (\S+)", s)
        if m:
            chain = m.group(1)
            continue
        if re.search(r"\bdrop\b", s) and not s.startswith("type ") and chain:
            out.append(f"table {table} chain {chain}: {s}")
    return out


def parse_proc_net_sockets(text: str) -> List[Tuple[int, int]]:
    """[(local port, inode)] from /proc/net/udp or /proc/net/tcp."""
    out = []
    for line in text.splitlines()[1:]:
        parts = line.split()
        if len(parts) > 9 and ":" in parts[1]:
            out.append((int(parts[1].rsplit(":", 1)[1], 16), int(parts[9])))
    return out
