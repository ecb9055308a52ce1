"""unresolved-neighbour: packets that waited for ARP/ND on the way out, and nobody answered."""
from __future__ import annotations

from ...model import Finding
from ..rule import Rule, finding
from ..text import addr_add_command, forwarding_key, plural, shown


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
    return finding("unresolved-neighbour", g, title, explanation, fix, evidence,
                    forwarded=forwarded, neighbour_state=entry.state if entry else "gone", ip_forward=fwd,
                    reason=g.reason)


RULE = Rule("unresolved-neighbour", ("NEIGH_FAILED", "NEIGH_QUEUEFULL"), False, explain_unresolved_neighbour)
