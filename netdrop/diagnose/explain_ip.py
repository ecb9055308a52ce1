"""Explanations of IP- and socket-level drops: each turns a group of drops and the host's facts into a Finding."""
from __future__ import annotations

from ..model import Finding
from .explain_mac import sender_and_fix
from .text import addr_add_command, exec_prefix, forwarding_key, hostport, ip_cmd, plural, shown


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
    key = forwarding_key(dst)
    fwd = ctx.host.sysctl_path(g.netns, key)
    owners = [o for o in ctx.after.find_ip(dst)] if dst else []
    where = ", ".join(f"{o.name} in netns {o.netns}" for o in owners) or "no interface netdrop can see"
    title = (f"{plural(g.count, 'packet', 'packets')} for {dst or '?'} reached {g.interface} (netns {g.netns}), "
             f"which neither owns nor routes that address ({g.reason})")
    sysctl_text = f"{key.replace('/', '.')}={shown(fwd)}"
    if g.reason == "IP_INNOROUTES":
        why = (f"netns {g.netns} forwards ({sysctl_text}) but has no route to {dst}, so ip_route_input() made it "
               "unreachable (the sender got an ICMP unreachable)")
    elif fwd == "0":
        why = f"forwarding is off ({sysctl_text}), so it is neither delivered nor forwarded"
    else:
        why = f"the route lookup rejected it ({sysctl_text})"
    explanation = (f"The frames carried {g.interface}'s MAC, but {dst} is not local in netns {g.netns} "
                   f"(it is on {where}) and {why}; the kernel dropped them at {g.location}.")
    iface = ctx.iface(g.netns_inode, g.ifindex)
    owner = _owner(ctx, iface, [o for o in owners if o.netns_inode != g.netns_inode or o.ifindex != g.ifindex])
    if owner is not None and iface is not None:
        return _misdelivered(ctx, g, dst, iface, owner, where, sysctl_text, fwd)
    own = f"`{addr_add_command(g.netns, iface, g.interface, dst)}`" if dst else "configure it"
    fix = (f"if {dst} belongs to this host, configure it here: {own}; otherwise correct the sender's route or "
           f"neighbour entry that sends {dst} here" + (", or give this host a route to it if it should forward it"
                                                        if g.reason == "IP_INNOROUTES" else "") + ".")
    return _finding("not-local", g, title, explanation, fix,
                    [f"{dst} is configured on: {where}", sysctl_text],
                    ip_forward=fwd, reason=g.reason)


def _owner(ctx, iface, owners):
    """The address's owner; among copies of one setup, the receiving interface's lower device (a macvlan's parent,
    in the namespace its IFLA_LINK_NETNSID names)."""
    if len(owners) > 1 and iface is not None and iface.link:
        lower = [o for o in owners if o.ifindex == iface.link and (
            iface.link_netnsid is None and o.netns_inode == iface.netns_inode
            or iface.link_netnsid is not None and ctx.host.nsid_in(iface.netns, o.netns) == iface.link_netnsid)]
        owners = lower or owners
    return owners[0] if owners else None


def _misdelivered(ctx, g, dst, iface, owner, where, sysctl_text, fwd) -> Finding:
    """The address lives on another interface of this host (a macvlan's parent, another container): the sender
    used the receiving interface's MAC for it, so the frames went to the wrong place. Configuring the address here
    would duplicate it: the fix is the sender's neighbour entry."""
    seen = g.top("dst_mac") or iface.mac
    sender_note, fix = sender_and_fix(ctx, dst, seen, owner.mac, g.top("src_ip"), g.top("src_mac"), owner,
                                      owner.netns)
    title = (f"{plural(g.count, 'packet', 'packets')} for {dst} were delivered to {g.interface} (netns {g.netns}), "
             f"which does not have that address: it belongs to {owner.name} (netns {owner.netns})")
    explanation = (f"The frames carried {g.interface}'s MAC {seen} instead of {owner.name}'s {owner.mac}, so they "
                   f"reached netns {g.netns}, where {dst} is not local ({sysctl_text}); the kernel dropped them at "
                   f"{g.location} ({g.reason}). The sender resolves {dst} to the wrong interface's MAC.")
    evidence = [f"{dst} is configured on: {where}", f"seen destination MAC {seen} ({g.interface}), expected "
                f"{owner.mac} ({owner.name})", sysctl_text]
    if sender_note:
        evidence.append(sender_note)
    return _finding("not-local", g, title, explanation, fix, evidence, ip_forward=fwd, reason=g.reason,
                    owner={"netns": owner.netns, "interface": owner.name, "mac": owner.mac})


# ---- unresolved-neighbour -------------------------------------------------------------------------------------------
def explain_unresolved_neighbour(ctx, g) -> Finding:
    """NEIGH_FAILED/NEIGH_QUEUEFULL: packets waited for ARP/ND on the way out and nobody answered."""
    dst, src = g.top("dst_ip"), g.top("src_ip")
    v6 = bool(dst and ":" in dst)
    asked = "neighbour solicitation (IPv6 ND)" if v6 else "ARP"
    iface = ctx.iface(g.netns_inode, g.ifindex)
    entry = next((n for n in iface.neighbours if n.ip == dst), None) if iface and dst else None
    state = f"{entry.state}" if entry else "gone (the kernel already removed the failed entry)"
    local_src = bool(src) and any(o.netns_inode == g.netns_inode for o in ctx.after.find_ip(src))
    forwarded = bool(src) and not local_src
    key = forwarding_key(dst)
    fwd = ctx.host.sysctl_path(g.netns, key)
    sysctl_text = f"{key.replace('/', '.')}={shown(fwd)}"
    title = (f"{plural(g.count, 'packet', 'packets')} to {dst or '?'} were dropped on {g.interface} (netns {g.netns}): "
             f"no host answered {asked} for {dst or 'the next hop'}")
    if forwarded:
        how = (f"netns {g.netns} forwards ({sysctl_text}) and {dst} is not local there, so packets from {src} were "
               f"routed out of {g.interface}, where {dst} is on-link")
    else:
        how = f"this namespace sent packets to {dst} out of {g.interface}, where it is on-link"
    explanation = (f"{how}; the kernel queued them while it asked by {asked} who has {dst}, nobody answered, the "
                   f"neighbour entry became FAILED and the queued packets were dropped at {g.location} "
                   f"({g.reason}).")
    own = f"`{addr_add_command(g.netns, iface, g.interface, dst)}`" if dst else "configure it"
    fix = (f"bring up the host that owns {dst} on {g.interface}'s link"
           + (f", or, if {dst} belongs to this host, configure it here: {own}" if forwarded else "")
           + (f"; if it should not come here at all, correct the route or neighbour entry of the sender {src}"
              if forwarded else "") + ".")
    evidence = [f"neighbour entry for {dst} on {g.interface}: {state}", sysctl_text]
    if forwarded:
        evidence.append(f"sent by {src}" + (f" ({g.top('src_mac')})" if g.top("src_mac") else "")
                        + f", an address netns {g.netns} does not have: the packets were forwarded")
    return _finding("unresolved-neighbour", g, title, explanation, fix, evidence,
                    forwarded=forwarded, neighbour_state=entry.state if entry else "gone", ip_forward=fwd,
                    reason=g.reason)


# ---- rcvbuf-full ----------------------------------------------------------------------------------------------------
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


# ---- any cause whose frames were not sampled ----------------------------------------------------------------------
def explain_unsampled(ctx, g, cause: str) -> Finding:
    """The exact count is there but no frame was sampled (the ring buffer was full): say what is known, and no more."""
    title = (f"{plural(g.count, 'packet', 'packets')} on {g.interface} (netns {g.netns}) were dropped at "
             f"{g.location} ({g.reason})")
    explanation = ("netdrop counted them exactly but sampled none of their frames (the event ring buffer was full "
                   "or the events were sampled away), so it cannot name their addresses or ports.")
    fix = (f"rerun focused on them to see the frames: `netdrop diagnose --netns {g.netns} --iface {g.interface}`"
           if g.netns != "-" and g.interface != "-" else "rerun `netdrop diagnose` focused with --netns/--iface.")
    return Finding(cause=cause, title=title, explanation=explanation, fix=fix, interface=g.interface, netns=g.netns,
                   count=g.count, evidence=(f"dropped at {g.location}", "frames sampled: 0"),
                   extra={"reason": g.reason, "sampled": False})
