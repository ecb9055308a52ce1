"""The collector every command uses: one loaded drops.c, its counts and events as model objects."""
from __future__ import annotations

import time
from typing import Dict, List

from .bpf.offsets import ProbeConfig
from .bpf.session import DropSession
from .decode import decode_event, decode_key
from .model import DropCount, DropEvent


class Collector:
    def __init__(self, kernel, config: ProbeConfig, debug: bool = False):
        self.kernel = kernel
        self.config = config
        self.session = DropSession(config, kernel.macros, debug=debug)
        self.started = 0.0

    def __enter__(self) -> "Collector":
        self.session.__enter__()
        self.started = time.monotonic()
        return self

    def __exit__(self, *exc) -> bool:
        self.session.close()
        return False

    @property
    def attach_seconds(self) -> float:
        return self.session.attach_seconds

    def counts(self) -> List[DropCount]:
        return [decode_key(raw, n, last) for raw, n, last in self.session.read_counts()]

    def stats(self) -> Dict[str, int]:
        return self.session.read_stats()

    def events(self, max_events: int = 0) -> List[DropEvent]:
        return [decode_event(raw) for raw in self.session.drain(max_events)]

    def raw_events(self, max_events: int = 0) -> List[bytes]:
        return self.session.drain(max_events)

    def detach(self) -> None:
        self.session.detach()

    def stack(self, stack_id: int) -> List[str]:
        return [self.kernel.location(a) for a in self.session.stack(stack_id)]

    def hooks(self) -> List[Dict[str, object]]:
        return [{"name": "skb:kfree_skb", "type": "raw_tracepoint", "attached": True,
                 "evidence": "drop reason, location, interface, pkt_type, frame" if self.kernel.has_reasons
                 else "location, interface, pkt_type, frame (no reason field on this kernel)"}]
