"""not-local: packets for an address the namespace neither has nor routes (or, delivered to the wrong
interface's MAC, an address another interface of this host has)."""
from __future__ import annotations

from ...model import Finding
from ..rule import Rule, finding
from ..sender import sender_and_fix
from ..text import addr_add_command, forwarding_key, plural, shown


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
    return finding("not-local", g, title, explanation, fix,
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
    return finding("not-local", g, title, explanation, fix, evidence, ip_forward=fwd, reason=g.reason,
                    owner={"netns": owner.netns, "interface": owner.name, "mac": owner.mac})


RULE = Rule("not-local", ("IP_INADDRERRORS", "IP_INNOROUTES", "IP_INVALID_SOURCE"), False, explain_not_local)
