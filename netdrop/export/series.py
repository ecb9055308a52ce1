"""Bounded, monotonic series for the exporter. Pure: no kernel, no prometheus_client.

A counter that Prometheus sees go down is a reset: `increase()` then counts its whole value again, a false alert.
So two rules keep every exported counter monotonic while the kernel's counts are:
- a kernel key keeps the labels it was first exported with (an interface renamed, a namespace named later: the
  old series stops growing, it never shrinks);
- the cap admits label sets by count while there is room, and an admitted set stays. Sets that find no room are
  summed into one series whose labels all say `other`; as nothing leaves that sum, it only grows.
"""
from __future__ import annotations

from typing import Any, Callable, Dict, Hashable, Iterable, List, Tuple

from .metrics import OTHER

Labels = Tuple[str, ...]


class Folder:
    """One metric's series: kernel keys -> sticky labels -> at most `cap` label sets, plus `other`."""

    def __init__(self, cap: int, width: int):
        self.cap = cap
        self.width = width  # number of labels
        self.labels_of: Dict[Hashable, Labels] = {}
        self.admitted: Dict[Labels, None] = {}  # insertion-ordered set

    def fold(self, counts: Iterable[Tuple[Hashable, int]], label: Callable[[Any], Labels]
             ) -> Tuple[List[Tuple[Labels, int]], int]:
        """([(labels, value)], how many label sets are folded into `other`). `label(key)` is asked once per key."""
        sums: Dict[Labels, int] = {}
        for key, n in counts:
            labels = self.labels_of.get(key)
            if labels is None:
                labels = self.labels_of[key] = tuple(label(key))
            sums[labels] = sums.get(labels, 0) + n
        for labels, _ in sorted(((lb, n) for lb, n in sums.items() if lb not in self.admitted),
                                key=lambda item: (-item[1], item[0])):
            if len(self.admitted) >= self.cap:
                break
            self.admitted[labels] = None
        out = [(lb, n) for lb, n in sums.items() if lb in self.admitted]
        rest = [n for lb, n in sums.items() if lb not in self.admitted]
        if rest:
            out.append(((OTHER,) * self.width, sum(rest)))
        return out, len(rest)


class Findings:
    """netdrop_finding: 1 for each cause active now, 0 for one seen before that is over; at most `cap` sets (the
    ones beyond are counted as folded, not exported: a gauge summed into `other` would say nothing)."""

    def __init__(self, cap: int):
        self.cap = cap
        self.seen: Dict[Labels, None] = {}
        self.folded: Dict[Labels, None] = {}

    def update(self, active: Iterable[Labels]) -> List[Tuple[Labels, int]]:
        now = set(active)
        for labels in sorted(now):
            if labels not in self.seen:
                if len(self.seen) < self.cap:
                    self.seen[labels] = None
                else:
                    self.folded[labels] = None
        return [(lb, 1 if lb in now else 0) for lb in self.seen]
