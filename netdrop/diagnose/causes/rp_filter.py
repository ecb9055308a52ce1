"""rp-filter: packets the reverse-path filter rejected (no route back to the source by that interface)."""
from __future__ import annotations

from ...model import Finding
from ..rule import Rule, finding
from ..text import exec_prefix, ip_cmd, plural, shown


def explain_rp_filter(ctx, g) -> Finding:
    src, dst = g.top("src_ip"), g.top("dst_ip")
    value = ctx.host.sysctl(g.netns, g.interface, "rp_filter")
    back = ctx.host.route_get(g.netns, src) if src else None
    route = ("no route back to it" if back == "" else f"the route back to it leaves by {back}" if back
             else "the route back to it is unknown")
    title = (f"{plural(g.count, 'packet', 'packets')} from {src or '?'} to {dst or '?'} on {g.interface} failed the "
             f"reverse-path filter")
    explanation = (f"With rp_filter={shown(value)} (1 = strict) the kernel accepts a packet only if the route back "
                   f"to its source leaves by the interface it came in on; for {shown(src, 'the source')} {route}, so "
                   "ip_rcv_finish() dropped it before netfilter's INPUT chain and before any socket.")
    fix = (f"add a route back to {src} via {g.interface} (`{ip_cmd(g.netns)} "
           f"route add {src} dev {g.interface}`), or use loose mode: "
           f"`{exec_prefix(g.netns)}sysctl net.ipv4.conf.{g.interface}.rp_filter=2`"
           " (and conf.all, which the kernel combines by maximum).")
    return finding("rp-filter", g, title, explanation, fix,
                    [f"rp_filter on {g.interface} (max of conf.all and conf.{g.interface}): {shown(value)}",
                     f"route back to {shown(src, 'the source')}: {back if back else 'none'}"],
                    rp_filter=value, source=src, route_back=back or None)


RULE = Rule("rp-filter", ("IP_RPFILTER",), False, explain_rp_filter, unicast_only=False)
