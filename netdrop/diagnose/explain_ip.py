"""Explanations of IP- and socket-level drops: each turns a group of drops and the host's facts into a Finding."""
from __future__ import annotations

from ..model import Finding
from .text import exec_prefix, hostport, ip_cmd, plural, shown


# ---- no-socket ------------------------------------------------------------------------------------------------------
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


def _finding(cause: str, g, title: str, explanation: str, fix: str, evidence, **extra) -> Finding:
    return Finding(cause=cause, title=title, explanation=explanation, fix=fix, interface=g.interface, netns=g.netns,
                   ip=g.top("dst_ip"), count=g.count, sender_ip=g.top("src_ip"), sender_mac=g.top("src_mac"),
                   evidence=tuple(evidence) + (f"dropped at {g.location}",), extra=extra)


# ---- rp-filter ------------------------------------------------------------------------------------------------------
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
    return _finding("rp-filter", g, title, explanation, fix,
                    [f"rp_filter on {g.interface} (max of conf.all and conf.{g.interface}): {shown(value)}",
                     f"route back to {shown(src, 'the source')}: {back if back else 'none'}"],
                    rp_filter=value, source=src, route_back=back or None)


# ---- netfilter-drop -------------------------------------------------------------------------------------------------
def explain_netfilter(ctx, g) -> Finding:
    rules = ctx.host.drop_rules(g.netns)
    dport, proto = g.top("dport"), g.top("proto_name")
    hit = [r for r in rules if dport is not None and f"dport {dport}" in r] or rules
    title = (f"{plural(g.count, 'packet', 'packets')} to {hostport(g.top('dst_ip'), dport)} ({proto or '?'}) were "
             "dropped by a netfilter rule")
    explanation = (f"A rule's DROP verdict ended them at {g.location} in netns {g.netns}"
                   + (f"; the matching rule is most likely: {hit[0]}" if hit else
                      "; no nft rule with a drop verdict was found (iptables-legacy? run `iptables-save -c`)") + ".")
    fix = ("change or remove the rule if this traffic is wanted: "
           + (f"`{exec_prefix(g.netns)}nft -a list ruleset` shows it with its handle" if hit else
              f"`{exec_prefix(g.netns)}iptables-save -c` / `nft list ruleset` lists the rules and their counters") + ".")
    return _finding("netfilter-drop", g, title, explanation, fix,
                    ["drop rules: " + ("; ".join(rules) if rules else "none found with nft")],
                    rules=rules, rule=hit[0] if hit else None, port=dport, protocol=proto)


# ---- not-local ------------------------------------------------------------------------------------------------------
def explain_not_local(ctx, g) -> Finding:
    dst = g.top("dst_ip")
    fwd = ctx.host.sysctl_path(g.netns, "net/ipv4/ip_forward")
    owners = [o for o in ctx.after.find_ip(dst)] if dst else []
    where = ", ".join(f"{o.name} in netns {o.netns}" for o in owners) or "no interface netdrop can see"
    title = (f"{plural(g.count, 'packet', 'packets')} for {dst or '?'} reached {g.interface} (netns {g.netns}), "
             f"which neither owns nor routes that address ({g.reason})")
    explanation = (f"The frames carried {g.interface}'s MAC, but {dst} is not local in netns {g.netns} "
                   f"(it is on {where}) and forwarding is "
                   f"{'off' if fwd == '0' else 'on (no route)' if fwd else 'unknown'}"
                   f" (net.ipv4.ip_forward={shown(fwd)}), so the kernel dropped them at {g.location}.")
    fix = (f"configure {shown(dst, 'the address')} where it is expected (`{ip_cmd(g.netns)} addr add "
           f"{dst}/<prefix> dev {g.interface}`), or correct the sender's route/neighbour entry that sends it here.")
    return _finding("not-local", g, title, explanation, fix,
                    [f"{dst} is configured on: {where}", f"net.ipv4.ip_forward={shown(fwd)}"],
                    ip_forward=fwd, reason=g.reason)


# ---- rcvbuf-full ----------------------------------------------------------------------------------------------------
def explain_rcvbuf(ctx, g) -> Finding:
    dport, proto = g.top("dport"), g.top("proto_name") or "udp"
    owner = ctx.host.socket_owner(g.netns, proto, dport) if dport else None
    who = f"{owner[1]} (pid {owner[0]})" if owner else "the receiving process (already gone)"
    rmax = ctx.host.sysctl_path(g.netns, "net/core/rmem_max")
    rdef = ctx.host.sysctl_path(g.netns, "net/core/rmem_default")
    title = (f"{plural(g.count, 'datagram', 'datagrams')} to {hostport(g.top('dst_ip'), dport)} were dropped: "
             f"the socket's receive buffer was full")
    explanation = (f"{who} owns the {proto} socket on port {dport} but does not read fast enough; when its "
                   f"receive buffer is full the kernel drops what arrives ({g.location}).")
    fix = (f"make {who} read faster, or give the socket a larger buffer (SO_RCVBUF; capped by "
           f"net.core.rmem_max={shown(rmax)}, default net.core.rmem_default={shown(rdef)}).")
    return _finding("rcvbuf-full", g, title, explanation, fix,
                    [f"socket owner: {who}", f"net.core.rmem_max={shown(rmax)}, rmem_default={shown(rdef)}"],
                    port=dport, protocol=proto, process=owner[1] if owner else None,
                    pid=owner[0] if owner else None, rmem_max=rmax, rmem_default=rdef)


# ---- backlog-full ---------------------------------------------------------------------------------------------------
def explain_backlog(ctx, g) -> Finding:
    # host-wide: a namespace other than the first has no net.core.netdev_max_backlog of its own
    backlog = ctx.host.sysctl_path(None, "net/core/netdev_max_backlog")
    title = f"{plural(g.count, 'packet', 'packets')} on {g.interface} were dropped: the per-CPU input backlog was full"
    explanation = (f"Packets queued for the stack (netif_rx, RPS) faster than softirq processing drained them; "
                   f"beyond net.core.netdev_max_backlog={shown(backlog)} the kernel drops them at {g.location}.")
    fix = ("raise net.core.netdev_max_backlog, spread the receive load over more CPUs (RSS/RPS), or find what "
           "keeps the CPU from running softirqs.")
    return _finding("backlog-full", g, title, explanation, fix, [f"net.core.netdev_max_backlog={shown(backlog)}"],
                    netdev_max_backlog=backlog)
