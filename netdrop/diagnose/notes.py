"""What the user should know beyond the findings: silence explained, the observer effect, missing evidence."""
from __future__ import annotations

from typing import List

from ..model import Finding, Note

# Devices that filter frames by destination MAC before the kernel's IP layer unless they are promiscuous.
FILTERING_KINDS = ("device", "bridge", "macvlan", "macvtap", "bond", "team", "vlan", "ipvlan")


def notes_for(ctx, findings: List[Finding]) -> List[Note]:
    notes: List[Note] = []
    if not ctx.counts:
        notes.append(Note("no-drops", f"No packet was dropped with a reason in {ctx.duration:.3g} s "
                                      "(skb:kfree_skb stayed silent)."))
    if ctx.focus.ip and not any(f.ip == ctx.focus.ip for f in findings):
        notes.extend(_silence_for_ip(ctx))
    for ns, ifname in ctx.promisc_held:
        notes.append(Note("promisc", f"netdrop held {ifname} (netns {ns}) promiscuous for this run through a "
                                     "packet-socket membership; the kernel released it when netdrop exited."))
    seen = set()
    for f in findings:
        if f.cause != "mac-mismatch" or (f.netns, f.interface) in seen:
            continue
        seen.add((f.netns, f.interface))
        iface = next((i for i in ctx.after.find_name(f.interface, f.netns)), None)
        if iface and iface.promiscuous and iface.kind in FILTERING_KINDS:
            notes.append(Note("observer-effect", _observer_text(ctx, iface)))
    return notes


def who_holds(ctx, iface) -> List[str]:
    """Who keeps `iface` promiscuous: netdrop itself, processes with packet sockets on it, the sticky flag."""
    out = []
    if (iface.netns, iface.name) in ctx.promisc_held:
        out.append("netdrop --promisc")
    holders = ctx.host.holders(iface.netns)
    out.extend(h.describe() for h in holders if h.ifindex == iface.ifindex)
    if iface.promisc_flag:
        out.append("the sticky IFF_PROMISC flag (`ip link set promisc on`)")
    if not out:
        out.extend(h.describe() + " (packet socket on all interfaces)" for h in holders if h.ifindex == 0)
    return out


def _observer_text(ctx, iface) -> str:
    who = who_holds(ctx, iface)
    held = " and ".join(who) if who else "something (promiscuity count " + str(iface.promiscuity) + ")"
    verb = "hold" if len(who) > 1 else "holds"
    return (f"Frames with a foreign MAC reach the IP layer on {iface.name} only because {held} {verb} it "
            f"promiscuous (promiscuity {iface.promiscuity}). Without that, the "
            f"{'bridge' if iface.kind == 'bridge' else 'NIC'} would discard them before the kernel's IP layer and "
            "no counter or drop trace would show them: stop the capture and the evidence disappears, not the fault.")


def _silence_for_ip(ctx) -> List[Note]:
    ip = ctx.focus.ip
    owners = ctx.after.find_ip(ip)
    if not owners:
        return [Note("address", f"{ip} is not configured on any interface netdrop can see.",
                     "check `ip addr` on the host that should own it")]
    out = []
    for o in owners:
        if o.kind == "veth":
            out.append(Note("no-evidence", f"No drop of traffic for {ip} on {o.name} (netns {o.netns}) in "
                                           f"{ctx.duration:.3g} s. {o.name} is a veth, which has no MAC filter: "
                                           "frames with a wrong destination MAC would have been seen, so none "
                                           "arrived (or they were not dropped)."))
        elif not o.promiscuous and o.kind in FILTERING_KINDS:
            elsewhere = _foreign_mac_elsewhere(ctx, ip, o)
            out.extend(elsewhere)
            # the words depend on what was seen: after a note that cites the frames, "no trace" would be false
            tail = ("so those frames went no further than that drop." if elsewhere else
                    "so a wrong-MAC fault leaves no trace in its IP layer.")
            device = "bridge" if o.kind == "bridge" else "macvlan" if o.kind == "macvlan" else "NIC"
            out.append(Note("mac-filter", f"No drop of traffic for {ip} in {o.name}'s IP layer (netns {o.netns}). "
                                          f"{o.name} is not promiscuous: its {device} filter discards frames with a "
                                          f"destination MAC other than {o.mac} before the IP layer sees them, "
                                          + tail,
                            "check the sender's neighbour entry for this address, or rerun with --promisc "
                            "to let foreign-MAC frames reach the kernel for the duration of the run"))
        else:
            out.append(Note("no-evidence", f"No drop of traffic for {ip} on {o.name} (netns {o.netns}) in "
                                           f"{ctx.duration:.3g} s."))
    return out


def _foreign_mac_elsewhere(ctx, ip: str, owner) -> List[Note]:
    """Frames for `ip` with a foreign MAC that died before the IP layer (e.g. a bridge with no port to flood to)."""
    en = ctx.enrich
    hits = [c for c in ctx.counts if c.key.daddr == ip and c.key.dst_mac]
    if not hits:
        return []
    n = sum(c.count for c in hits)
    c = max(hits, key=lambda c: c.count)
    where = en.interface(c.key.netns, c.key.ifindex)
    port = ctx.iface(c.key.netns, c.key.ifindex)
    if port is not None and port.master == owner.ifindex and port.netns_inode == owner.netns_inode:
        where += f" (a port of {owner.name})"
    reason = en.reason(c.key.reason, c.key.pkt_type, c.key.location)
    return [Note("foreign-mac-filtered",
                 f"{n} frame{'s' if n != 1 else ''} for {ip} arrived on {where} with destination MAC {c.key.dst_mac} "
                 f"(not {owner.name}'s {owner.mac}) and were dropped at {en.kernel.location(c.key.location)} "
                 f"({reason}) before reaching {owner.name}'s IP stack.",
                 f"the sender uses a wrong MAC for {ip}; rerun with --promisc to see the full mac-mismatch finding")]
