"""The collector every command uses: one loaded drops.c, its counts and events as model objects."""
from __future__ import annotations

import os
from typing import Dict, List, Tuple

from .bpf.offsets import ProbeConfig
from .bpf.session import RAW_TP, TP_BTF, DropSession
from .decode import decode_event, decode_key
from .model import DropCount, DropEvent


def choose_hook(kernel) -> Tuple[str, str]:
    """(TP_BTF or RAW_TP, why not tp_btf). tp_btf where the kernel lets a program attach there (asked with a
    two-instruction program, no compile); $NETDROP_KFREE_HOOK=raw_tracepoint forces the fallback (to compare the
    two, as bench/run.py does)."""
    if os.environ.get("NETDROP_KFREE_HOOK") == RAW_TP:
        return RAW_TP, "raw_tracepoint asked for ($NETDROP_KFREE_HOOK)"
    from .kernel.tpbtf import probe
    ok, detail = probe(kernel.btf)
    return (TP_BTF, "") if ok else (RAW_TP, detail)


class Collector:
    def __init__(self, kernel, config: ProbeConfig, debug: bool = False):
        self.kernel = kernel
        self.config = config
        hook, self.why_not_tp_btf = choose_hook(kernel)
        self.session = DropSession(config, kernel.macros, debug=debug, hook=hook, btf=kernel.btf)

    def compile_apart(self) -> None:
        """For a command that runs for days (export): a cold start compiles in a child process, which fills the
        compile cache and exits, so that LLVM's memory never enters this process (measured here: 189 MiB RSS after
        an in-process compile, 67 MiB from the cache). Any failure there is left for the real attach to report."""
        if self.session.warm():
            return
        pid = os.fork()
        if pid == 0:  # the child: compile, load, attach (which stores the program), detach, go
            code = 1
            try:
                with DropSession(self.config, self.kernel.macros, hook=TP_BTF, btf=self.kernel.btf):
                    code = 0
            finally:
                os._exit(code)
        os.waitpid(pid, 0)

    def __enter__(self) -> "Collector":
        self.session.__enter__()
        return self

    def __exit__(self, *exc) -> bool:
        self.session.close()
        return False

    def counts(self) -> List[DropCount]:
        return [decode_key(raw, n) for raw, n in self.session.read_counts()]

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

    @property
    def hook(self) -> str:
        """How the kfree_skb program is attached: tp_btf (direct loads) or raw_tracepoint (probe reads)."""
        return self.session.hook

    def hooks(self) -> List[Dict[str, object]]:
        row: Dict[str, object] = {
            "name": "skb:kfree_skb", "type": self.session.hook, "attached": True,
            "evidence": "drop reason, location, interface, pkt_type, frame" if self.kernel.has_reasons
            else "location, interface, pkt_type, frame (no reason field on this kernel)"}
        why = self.session.fallback_why or self.why_not_tp_btf
        if self.session.hook == RAW_TP and why:
            row["why"] = "not tp_btf: " + why
        return [row]
