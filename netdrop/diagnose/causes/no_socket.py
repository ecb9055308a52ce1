"""no-socket: packets that reached the host and found no socket listening on their port."""
from __future__ import annotations

from ...model import Finding
from ..rule import Rule
from ..text import exec_prefix, hostport, plural


def explain_no_socket(ctx, g) -> Finding:
    dport, dst, proto = g.top("dport"), g.top("dst_ip"), g.top("proto_name")
    ports = ", ".join(f"{p}" for p, _ in g.values("dport").most_common(5)) or "?"
    title = f"{plural(g.count, 'packet', 'packets')} to {hostport(dst, dport)} ({proto or '?'}) found no socket"
    explanation = ("The packets reached the host and were accepted by IP, but no process listens on that "
                   f"{proto or 'transport'} port in netns {g.netns}; the kernel dropped them at {g.location} "
                   "(UDP answers with ICMP port unreachable, TCP with a reset).")
    fix = (f"start the service on {proto or ''}/{dport} in netns {g.netns}, or point the client at the right port "
           f"(`{exec_prefix(g.netns)}ss -lnup` / `ss -lntp` lists the listeners).")
    return Finding(cause="no-socket", title=title, explanation=explanation, fix=fix, interface=g.interface,
                   netns=g.netns, ip=dst, count=g.count, sender_ip=g.top("src_ip"), sender_mac=g.top("src_mac"),
                   evidence=(f"destination ports seen: {ports}", f"dropped at {g.location}"),
                   extra={"port": dport, "protocol": proto})


RULE = Rule("no-socket", ("NO_SOCKET",), False, explain_no_socket)
