"""Counts over time: deltas since a baseline, rates between snapshots, ordering. Pure; the clock is passed in."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Dict, Iterable, Optional

from .model import DropCount, DropKey


@dataclass(frozen=True)
class Snapshot:
    at: float  # seconds, monotonic
    counts: Dict[DropKey, DropCount]
    stats: Dict[str, int]

    @classmethod
    def of(cls, at: float, counts: Iterable[DropCount], stats: Dict[str, int]) -> "Snapshot":
        return cls(at, {c.key: c for c in counts}, dict(stats))


def since(base: Optional[Snapshot], now: Snapshot) -> Dict[DropKey, int]:
    """Counts accumulated after `base` (keys that did not move are left out)."""
    out = {}
    for key, c in now.counts.items():
        prev = base.counts[key].count if base and key in base.counts else 0
        if c.count > prev:
            out[key] = c.count - prev
    return out
