"""The watch runtime every long-running command shares (diagnose, --follow, top, watch, export).

One place for what each of them used to write on its own:
- scope: --netns and --iface resolved once, with one set of errors and hints, into kernel-side filters;
- collectors: the kfree_skb collector, the promiscuous holds and the classification hooks are entered in one
  ExitStack, in that order, and left in reverse on every exit path (an exception half-way closes what was opened);
- start: facts and names are read after attaching (the window covers them), the signal handlers go in before the
  ready file is written (a signal sent as soon as it appears ends the run cleanly instead of killing it);
- ticks: the loop between start and stop, polling the collector and naming namespaces born meanwhile.
"""
from __future__ import annotations

import time
from contextlib import ExitStack, contextmanager, nullcontext
from dataclasses import dataclass, field
from typing import Any, Callable, Dict, Iterator, List, Optional, Sequence, Tuple

from .aggregate import Snapshot
from .bpf.offsets import Filters, ProbeConfig
from .diagnose.text import ip_cmd
from .enrich import Enricher
from .errors import NotFound, UsageError
from .net.links import HostFacts, InterfaceFacts
from .net.namespaces import NsLabel, Registry
from .net.promisc import TemporaryPromisc
from .signals import stop_on_signals

POLL_SECONDS = 0.1  # how often a tick loop wakes to drain events and look at the clock
DISCOVER_SECONDS = 0.5  # how often drops from namespaces not known yet are looked up


@dataclass(frozen=True)
class Scope:
    """What --netns and --iface select, resolved against the namespace registry and the host's facts."""

    netns: Optional[NsLabel] = None  # None: every namespace
    iface: Optional[str] = None
    interfaces: Tuple[InterfaceFacts, ...] = ()  # the interfaces --iface names (several without --netns)

    @property
    def netns_inode(self) -> int:
        return int(getattr(self.netns, "inode", 0) or 0)

    def kernel_filters(self, **more) -> Filters:
        """--netns (and a --iface that names one interface) filtered in the kernel, plus any other filters."""
        f: Dict[str, Any] = dict(more)
        if self.netns is not None:
            f["netns"] = self.netns_inode
        if len(self.interfaces) == 1:
            f["netns"], f["ifindex"] = self.interfaces[0].netns_inode, self.interfaces[0].ifindex
        return Filters(**f)

    def promisc_targets(self) -> List[Tuple[Optional[str], str]]:
        return [(i.netns, i.name) for i in self.interfaces]


def resolve_scope(names: Registry, facts: HostFacts, netns: Optional[str], iface: Optional[str],
                  one_interface: bool = True) -> Scope:
    """NotFound (exit 5) for an unknown namespace or interface, UsageError when --iface names interfaces in several
    namespaces and the command needs one (top, watch, export filter it in the kernel; diagnose looks at them all)."""
    ns = names.resolve(netns) if netns else None
    if not iface:
        return Scope(ns)
    hits = tuple(facts.find_name(iface, ns))
    if not hits:
        if ns is None:
            raise NotFound(f"no interface named {iface}",
                           "list them with `ip link` (add --netns NAME for another namespace)")
        raise NotFound(f"no interface named {iface} in netns {ns}", f"list them with `{ip_cmd(ns)} link`")
    if one_interface and len({h.netns_inode for h in hits}) > 1:
        raise UsageError(f"{iface} exists in several namespaces: " + ", ".join(str(h.netns or "host") for h in hits),
                         "add --netns NAME")
    return Scope(ns, iface, hits)


def reason_filter(kernel, reason: Optional[str]) -> Dict[str, Any]:
    """--reason as a kernel-side filter: the running kernel's number for the name (OTHERHOST inferred from pkt_type
    where the kernel has no drop reasons)."""
    if not reason:
        return {}
    num = kernel.reasons.number(reason)
    if num is not None:
        return {"reason": num}
    if reason.upper() == "OTHERHOST" and not kernel.has_reasons:
        return {"otherhost": True}
    some = ", ".join(sorted(kernel.reasons.names.values())[:8]) or "none: this kernel has no drop reasons"
    raise UsageError(f"this kernel has no drop reason {reason!r}", f"reasons include {some}, ...")


@dataclass
class Started:
    """What the runtime knows once its collectors are attached."""

    names: Registry
    base: Snapshot  # the counts right after attaching, before the facts are read
    before: HostFacts  # read after attaching: the window covers what they say
    enricher: Enricher
    known: Dict = field(default_factory=dict)  # the namespaces known at the start
    at: float = 0.0  # monotonic time the watching began (after the ready file)


class Runtime:
    """Attach, watch, detach. `with Runtime(...) as rt:` attaches; `with rt.running(on_ready) as stop:` installs the
    signal handlers, writes the ready file and starts the clock; leaving the first block detaches everything."""

    def __init__(self, kernel, collector_factory: Callable, probe: ProbeConfig, *, debug: bool = False,
                 names: Optional[Registry] = None, promisc: Sequence[Tuple[Optional[str], str]] = (),
                 classify: Optional[Callable] = None, ready_file: Optional[str] = None, compile_apart: bool = False):
        self.kernel = kernel
        self.names = names if names is not None else Registry()
        self._factory, self._probe, self._debug = collector_factory, probe, debug
        self._promisc = list(promisc)
        self._classify = classify  # a factory of the classification session, or None
        self.ready_file = ready_file
        self._apart = compile_apart  # compile in a child process (export: a long life without LLVM's memory)
        self._stack: Optional[ExitStack] = None
        self.collector: Any = None  # collect.Collector once attached
        self.classifier: Any = None  # bpf.session.ClassifySession once attached, None when off
        self.held: List[Tuple[Optional[str], str]] = []
        self.state: Optional[Started] = None

    def __enter__(self) -> "Runtime":
        with ExitStack() as stack:
            collector = self._factory(self.kernel, self._probe, self._debug)
            if self._apart:
                collector.compile_apart()
            self.collector = stack.enter_context(collector)
            self.held = list(stack.enter_context(TemporaryPromisc(self._promisc)).held)
            self.classifier = stack.enter_context(self._classify() if self._classify else nullcontext(None))
            base = self.snapshot()
            self.names.refresh()  # after attaching: a namespace not known now was born inside the window
            known = dict(self.names.spaces)
            before = HostFacts.collect(self.names)
            self.state = Started(self.names, base, before, Enricher(self.kernel, self.names, before), known)
            self._stack = stack.pop_all()
        return self

    def __exit__(self, *exc) -> None:
        if self._stack is not None:
            self._stack.close()
            self._stack = None

    def detach(self) -> None:
        """Stop counting now (what is counted stays readable until the runtime is left)."""
        self.collector.detach()

    @contextmanager
    def running(self, on_ready: Callable[[], None] = lambda: None) -> Iterator:
        """Signals first, then the ready file, then the clock: yields the stop flag (set by Ctrl-C or SIGTERM)."""
        with stop_on_signals() as stop:
            write_ready(self.ready_file)
            on_ready()
            self.started.at = time.monotonic()
            yield stop

    @property
    def started(self) -> Started:
        assert self.state is not None, "Runtime used outside its with-block"
        return self.state

    @property
    def enricher(self) -> Enricher:
        return self.started.enricher

    def snapshot(self, at: Optional[float] = None) -> Snapshot:
        return Snapshot.of(time.monotonic() if at is None else at, self.collector.counts(), self.collector.stats())

    def hooks(self) -> List[Dict[str, object]]:
        return self.collector.hooks() + (self.classifier.hooks if self.classifier is not None else [])

    def facts_now(self) -> HostFacts:
        """The facts the enricher has learned, merged with a fresh read of every namespace."""
        self.names.refresh()
        return self.enricher.facts.merge(HostFacts.collect(self.names))

    def born(self) -> frozenset:
        return self.names.born_since(self.started.known)

    def ticks(self, stop, duration: float, interval: float, poll: Callable[[], object] = lambda: None,
              until: Callable[[], bool] = lambda: False, poll_seconds: float = POLL_SECONDS,
              discover: bool = True) -> Iterator[float]:
        """Yields the monotonic time every `interval` seconds until `duration` is over, the stop flag is set or
        `until()` says so. poll() runs every poll_seconds in between (drain events; a true answer means "more is
        waiting": poll again without sleeping). With `discover`, drops from namespaces not known yet are named
        meanwhile (at their first drop, while they still live; watch names them per event instead)."""
        start = self.started.at or time.monotonic()
        end = start + duration
        next_tick = start + interval
        next_look = start + DISCOVER_SECONDS
        busy = False
        while not stop.is_set() and not until():
            now = time.monotonic()
            if now >= end:
                return
            if not busy:
                stop.wait(max(0.0, min(poll_seconds, end - now, next_tick - now)))
            busy = bool(poll())
            now = time.monotonic()
            if discover and now >= next_look:
                next_look = now + DISCOVER_SECONDS
                self.enricher.ensure_all(self.collector.counts())
            if now >= next_tick and not stop.is_set():
                next_tick = now + interval
                yield now


def write_ready(path: Optional[str]) -> None:
    if path:
        with open(path, "w") as f:
            f.write("ready\n")
