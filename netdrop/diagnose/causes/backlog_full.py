"""backlog-full: packets dropped because a CPU's input backlog was full."""
from __future__ import annotations

from ...model import Finding
from ..rule import Rule, finding
from ..text import plural, shown


def explain_backlog(ctx, g) -> Finding:
    # host-wide: a namespace other than the first has no net.core.netdev_max_backlog of its own
    backlog = ctx.host.sysctl_path(None, "net/core/netdev_max_backlog")
    title = f"{plural(g.count, 'packet', 'packets')} on {g.interface} were dropped: the per-CPU input backlog was full"
    explanation = (f"Packets queued for the stack (netif_rx, RPS) faster than softirq processing drained them; "
                   f"beyond net.core.netdev_max_backlog={shown(backlog)} the kernel drops them at {g.location}.")
    fix = ("raise net.core.netdev_max_backlog, spread the receive load over more CPUs (RSS/RPS), or find what "
           "keeps the CPU from running softirqs.")
    return finding("backlog-full", g, title, explanation, fix, [f"net.core.netdev_max_backlog={shown(backlog)}"],
                    netdev_max_backlog=backlog)


RULE = Rule("backlog-full", ("CPU_BACKLOG",), False, explain_backlog, unicast_only=False, needs_frames=False)
