"""What the user should know beyond the findings: silence explained, the observer effect, missing evidence."""
from __future__ import annotations

from typing import List

from ..model import Finding, Note

# Devices that filter frames by destination MAC before the kernel's IP layer unless they are promiscuous.
FILTERING_KINDS = ("device", "bridge", "macvlan", "macvtap", "bond", "team", "vlan", "ipvlan")


def notes_for(ctx, findings: List[Finding]) -> List[Note]:
    notes: List[Note] = []
    if not ctx.counts:
        notes.append(Note("no-drops", f"No packet was dropped with a reason in {ctx.duration:.0f} s "
                                      "(skb:kfree_skb stayed silent)."))
    if ctx.focus.ip and not any(f.ip == ctx.focus.ip for f in findings):
        notes.extend(_silence_for_ip(ctx))
    seen = set()
    for f in findings:
        if f.cause != "mac-mismatch" or (f.netns, f.interface) in seen:
            continue
        seen.add((f.netns, f.interface))
        iface = next((i for i in ctx.after.find_name(f.interface, f.netns)), None)
        if iface and iface.promiscuous and iface.kind in FILTERING_KINDS:
            notes.append(Note("observer-effect",
                              f"{iface.name} is promiscuous (promiscuity {iface.promiscuity}"
                              f"{', IFF_PROMISC set' if iface.promisc_flag else ''}): frames with a foreign MAC "
                              "reach the IP layer here only because of that. Without it the NIC would discard "
                              "them silently and no kernel counter or trace would show them."))
    return notes


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
                                           f"{ctx.duration:.0f} s. {o.name} is a veth, which has no MAC filter: "
                                           "frames with a wrong destination MAC would have been seen, so none "
                                           "arrived (or they were not dropped)."))
        elif not o.promiscuous and o.kind in FILTERING_KINDS:
            out.append(Note("mac-filter", f"No drop of traffic for {ip} on {o.name} (netns {o.netns}). {o.name} "
                                          "is not promiscuous: a NIC, bridge or macvlan filter discards frames "
                                          "with a foreign destination MAC before the kernel sees them, so a "
                                          "wrong-MAC fault leaves no trace here.",
                            "check the sender's neighbour entry for this address, or rerun with --promisc "
                            "to let foreign-MAC frames reach the kernel for the duration of the run"))
        else:
            out.append(Note("no-evidence", f"No drop of traffic for {ip} on {o.name} (netns {o.netns}) in "
                                           f"{ctx.duration:.0f} s."))
    return out
