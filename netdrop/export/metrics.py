"""What `netdrop export` exposes: every metric's name, type, help and labels, written once. The exporter builds its
families from this table; docs/export.md, the alert rules, the dashboard and their tests are checked against it."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Tuple


@dataclass(frozen=True)
class Metric:
    name: str  # without the _total a counter gets in the exposition
    kind: str  # counter | gauge | info
    help: str
    labels: Tuple[str, ...] = ()

    @property
    def exposed(self) -> str:
        """The sample name a query uses."""
        return self.name + "_total" if self.kind == "counter" else self.name


OTHER = "other"  # the label value of series folded by the cardinality cap

DROPS = Metric("netdrop_drops", "counter",
               "Packets the kernel freed as dropped (skb:kfree_skb), counted exactly in the kernel.",
               ("netns", "interface", "reason", "location"))
OTHERHOST = Metric("netdrop_otherhost_drops", "counter",
                   "Frames dropped because their destination MAC is not the interface's (PACKET_OTHERHOST), "
                   "by destination IP and MAC.",
                   ("netns", "interface", "ip", "seen_mac", "expected_mac"))
FINDING = Metric("netdrop_finding", "gauge",
                 "1 while a cause diagnose would report is active in the last --window seconds, else 0.",
                 ("cause", "netns", "interface", "ip"))
EVENTS_LOST = Metric("netdrop_events_lost", "counter",
                     "Sampled drop events the ring buffer had no room for (the counts stay exact).")
MAP_FULL = Metric("netdrop_map_full", "counter",
                  "Drops that found the in-kernel counts map full: these are not in netdrop_drops_total.")
FOLDED = Metric("netdrop_series_folded", "gauge",
                "Distinct label sets folded into the 'other' series by the --max-series cap, per metric.",
                ("metric",))
HOOKS = Metric("netdrop_hooks", "gauge", "1 for each kernel hook attached, 0 for one that could not attach.",
               ("hook", "type"))
BUILD = Metric("netdrop_build", "info", "netdrop's version, the running kernel and how kfree_skb is hooked.",
               ("version", "kernel", "kfree_skb_hook"))
UP = Metric("netdrop_last_update_timestamp_seconds", "gauge",
            "When the exporter last read the kernel's counts (Unix time).")

METRICS = (DROPS, OTHERHOST, FINDING, EVENTS_LOST, MAP_FULL, FOLDED, HOOKS, BUILD, UP)


def exposed_names() -> Tuple[str, ...]:
    """Every sample name the exporter serves (info metrics get _info)."""
    return tuple(m.name + "_info" if m.kind == "info" else m.exposed for m in METRICS)
