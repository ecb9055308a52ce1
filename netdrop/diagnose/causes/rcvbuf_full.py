"""rcvbuf-full: datagrams dropped because their socket's receive buffer was full (names the process)."""
from __future__ import annotations

from ...model import Finding
from ..rule import Rule, finding
from ..text import hostport, plural, shown


def explain_rcvbuf(ctx, g) -> Finding:
    dport, proto = g.top("dport"), g.top("proto_name") or "udp"
    owner = ctx.host.socket_owner(g.netns, proto, dport) if dport else None
    who = f"{owner[1]} (pid {owner[0]})" if owner else "the receiving process (already gone)"
    rmax = shown(ctx.host.sysctl_path(g.netns, "net/core/rmem_max"))
    rdef = shown(ctx.host.sysctl_path(g.netns, "net/core/rmem_default"))
    title = (f"{plural(g.count, 'datagram', 'datagrams')} to {hostport(g.top('dst_ip'), dport)} were dropped: "
             f"the socket's receive buffer was full")
    explanation = (f"{who} owns the {proto} socket on port {dport} but does not read fast enough; when its "
                   f"receive buffer is full the kernel drops what arrives ({g.location}).")
    fix = (f"make {who} read faster, or give the socket a larger buffer (SO_RCVBUF; capped by "
           f"net.core.rmem_max={shown(rmax)}, default net.core.rmem_default={shown(rdef)}).")
    return finding("rcvbuf-full", g, title, explanation, fix,
                    [f"socket owner: {who}", f"net.core.rmem_max={shown(rmax)}, rmem_default={shown(rdef)}"],
                    port=dport, protocol=proto, process=owner[1] if owner else None,
                    pid=owner[0] if owner else None, rmem_max=rmax, rmem_default=rdef)


RULE = Rule("rcvbuf-full", ("SOCKET_RCVBUFF",), False, explain_rcvbuf)
