"""Which namespace is a veth's other end in? The kernel says it as an nsid local to the receiver's namespace
(IFLA_LINK_NETNSID); RTM_GETNSID with a candidate namespace's fd, asked inside the receiver's, gives that candidate's
nsid there. Raw rtnetlink (pyroute2 0.9.7's synchronous API does not offer RTM_GETNSID). Read-only: a namespace
without an nsid is not given one (RTM_GETNSID never allocates)."""
from __future__ import annotations

import os
import socket
import struct
from typing import Optional

from .netns import entered, handle_of

RTM_NEWNSID, RTM_GETNSID = 88, 90
NLM_F_REQUEST = 1
NETNSA_NSID, NETNSA_FD = 1, 3
NLMSG_ERROR = 2


def _request(fd: int) -> bytes:
    attr = struct.pack("=HHI", 8, NETNSA_FD, fd)
    body = struct.pack("=B3x", socket.AF_UNSPEC) + attr
    return struct.pack("=IHHII", 16 + len(body), RTM_GETNSID, NLM_F_REQUEST, 1, 0) + body


def parse_nsid_reply(data: bytes) -> Optional[int]:
    """The NETNSA_NSID of an RTM_NEWNSID reply; None for an error or "no nsid" (-1)."""
    if len(data) < 20:
        return None
    _, mtype, _, _, _ = struct.unpack_from("=IHHII", data)
    if mtype != RTM_NEWNSID:
        return None
    off = 20
    while off + 4 <= len(data):
        alen, atype = struct.unpack_from("=HH", data, off)
        if alen < 4:
            break
        if atype == NETNSA_NSID and alen >= 8:
            nsid = struct.unpack_from("=i", data, off + 4)[0]
            return nsid if nsid >= 0 else None
        off += (alen + 3) & ~3
    return None


def nsid_in(where: str, other: str) -> Optional[int]:
    """The nsid namespace `other` has inside namespace `where` (labels or handles), or None."""
    try:
        path = handle_of(other) or "/proc/self/ns/net"
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return None
    try:
        with entered(where):
            sock = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, socket.NETLINK_ROUTE)
        with sock:
            sock.settimeout(1.0)
            sock.send(_request(fd))
            return parse_nsid_reply(sock.recv(4096))
    except OSError:
        return None
    finally:
        os.close(fd)
