"""Any cause whose drops were counted but none of whose frames was sampled: say what is known, and no more."""
from __future__ import annotations

from ..model import Finding
from .text import plural


def explain(ctx, g, cause: str) -> Finding:
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
