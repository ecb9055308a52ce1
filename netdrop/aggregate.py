"""Counts over time: deltas since a baseline, rates between snapshots, ordering. Pure; the clock is passed in."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Dict, Iterable, List, Optional, Tuple

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


def rates(prev: Optional[Snapshot], now: Snapshot) -> Dict[DropKey, float]:
    if prev is None or now.at <= prev.at:
        return {}
    dt = now.at - prev.at
    return {k: n / dt for k, n in since(prev, now).items()}


def stats_since(base: Optional[Snapshot], now: Snapshot) -> Dict[str, int]:
    return {k: v - (base.stats.get(k, 0) if base else 0) for k, v in now.stats.items()}


def ordered(items: List[Tuple[DropKey, int]], rate: Dict[DropKey, float], sort: str, name) -> List[Tuple[DropKey, int]]:
    """Sort rows for display: by rate, count, reason or interface (name(key, field) gives the text)."""
    if sort == "rate":
        return sorted(items, key=lambda kv: (-rate.get(kv[0], 0.0), -kv[1]))
    if sort == "count":
        return sorted(items, key=lambda kv: -kv[1])
    return sorted(items, key=lambda kv: (name(kv[0], sort), -kv[1]))
