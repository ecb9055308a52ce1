"""ipv6-disabled: IPv6 packets that arrived on an interface where IPv6 is disabled (disable_ipv6=1); ipv6_rcv()
drops them before netfilter and before any socket. Kernels without drop reasons: by the dropping function, proven
by the interface's disable_ipv6."""
from __future__ import annotations

from typing import Optional

from ...model import Finding
from ..rule import Rule, finding
from ..text import exec_prefix, plural, shown


def explain_ipv6_disabled(ctx, g) -> Optional[Finding]:
    key = f"net/ipv6/conf/{g.interface}/disable_ipv6"
    value = ctx.host.sysctl_path(g.netns, key)
    if g.reason == "-" and value != "1":  # no reason to go by: only the sysctl proves it
        return None
    dst, src = g.top("dst_ip"), g.top("src_ip")
    sysctl = key.replace("/", ".")
    title = (f"{plural(g.count, 'IPv6 packet', 'IPv6 packets')} to {shown(dst, 'this host')} arrived on {g.interface} "
             f"(netns {g.netns}), where IPv6 is disabled")
    explanation = (f"With {sysctl}={shown(value)} the kernel drops every IPv6 packet that arrives on {g.interface} "
                   f"({g.location}), before netfilter and before any socket: neighbour discovery, link-local and "
                   "global traffic alike.")
    fix = (f"enable IPv6 on {g.interface} if it should speak IPv6: `{exec_prefix(g.netns)}sysctl -w {sysctl}=0` "
           "(and persist it where the host keeps its sysctls); otherwise stop the sender"
           + (f" {src}" if src else "") + " from sending IPv6 here.")
    return finding("ipv6-disabled", g, title, explanation, fix, [f"{sysctl}={shown(value)}"], disable_ipv6=value)


RULE = Rule("ipv6-disabled", ("IPV6DISABLED",), False, explain_ipv6_disabled, functions=("ipv6_rcv", "ip6_rcv_core"))
