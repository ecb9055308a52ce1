"""`netdrop diagnose`: attach, read the host's facts around a watching window, detach, explain."""
from __future__ import annotations

import ipaddress
import time
from contextlib import nullcontext
from dataclasses import dataclass, field, replace
from typing import Callable, Dict, List, Optional, Tuple

from ..aggregate import Snapshot, since
from ..bpf.offsets import Filters, ProbeConfig
from ..classify import decode_classes, ip_rcv_core_symbol
from ..enrich import Enricher
from ..errors import NotFound, UsageError
from ..model import DropCount, DropEvent, Report
from ..net.links import HostFacts
from ..net.namespaces import Registry
from ..net.netns import HOST
from ..net.inspect import LiveHost
from ..runtime import Runtime, resolve_scope
from . import path
from .engine import Context, Focus, run
from .rules import RULES
from .text import ip_cmd

@dataclass(frozen=True)
class DiagnoseConfig:
    iface: Optional[str] = None
    ip: Optional[str] = None
    netns: Optional[str] = None
    duration: float = 10.0
    ready_file: Optional[str] = None
    event_budget: int = 2000
    promisc: bool = False
    classify: str = "auto"  # hooks on eth_type_trans/ip_rcv_core: auto (fentry, else kprobe), fentry, kprobe, none
    debug: bool = False


def validate(cfg: DiagnoseConfig, names: Registry, facts: HostFacts) -> DiagnoseConfig:
    if not (0 < cfg.duration <= 86400 or cfg.duration == float("inf")):  # inf: --follow, never typed
        raise UsageError(f"--duration {cfg.duration} is out of range",
                         "give seconds above 0 and at most 86400, e.g. 10; --follow watches without end")
    scope = resolve_scope(names, facts, cfg.netns, None)
    cfg = replace(cfg, netns=scope.netns)
    if cfg.ip:
        cfg = _with_address(cfg, facts)
    if cfg.iface:  # diagnose looks at an interface of that name in every namespace unless --netns says which
        resolve_scope(names, facts, cfg.netns, cfg.iface, one_interface=False)
    if cfg.promisc and not (cfg.iface or cfg.ip):
        raise UsageError("--promisc needs --iface or --ip", "say which interface may be made promiscuous")
    if cfg.promisc and cfg.ip and not cfg.iface and not facts.find_ip(cfg.ip):
        raise NotFound(f"{cfg.ip} is not configured on any interface", "--promisc needs an interface to hold")
    return cfg


def _with_address(cfg: DiagnoseConfig, facts: HostFacts) -> DiagnoseConfig:
    """--ip in canonical form; a zone (fe80::1%eth0) must name an interface, which becomes the --iface."""
    text, _, zone = (cfg.ip or "").partition("%")
    try:
        ip = ipaddress.ip_address(text)
    except ValueError:
        raise UsageError(f"{cfg.ip!r} is not an IP address", "give an IPv4 or IPv6 address, e.g. 10.0.0.3") from None
    iface = cfg.iface
    if zone:
        if ip.version != 6 or not ip.is_link_local:
            raise UsageError(f"{cfg.ip!r}: only an IPv6 link-local address takes a %zone",
                             "give the address alone, and --iface for the interface")
        if not facts.find_name(zone, cfg.netns):
            raise NotFound(f"no interface named {zone!r} (the zone of --ip)",
                           f"list them with `{ip_cmd(cfg.netns) if cfg.netns else 'ip'} link`")
        if iface and iface != zone:
            raise UsageError(f"--ip's zone {zone!r} and --iface {iface!r} disagree", "give one interface")
        iface = zone
    return replace(cfg, ip=str(ip), iface=iface)


def promisc_targets(cfg: DiagnoseConfig, facts: HostFacts) -> List[Tuple[Optional[str], str]]:
    """The interfaces --promisc holds: --iface, else the ones owning --ip."""
    if cfg.iface:
        return [(i.netns, i.name) for i in facts.find_name(cfg.iface, cfg.netns)]
    return [(i.netns, i.name) for i in facts.find_ip(cfg.ip or "") if not cfg.netns or i.netns == cfg.netns]


def diagnose(cfg: DiagnoseConfig, kernel, collector_factory: Callable,
             on_ready: Callable = lambda held: None) -> Report:
    names = Registry()
    # Facts come from every namespace even with --netns: the sender and the owner of a MAC may live elsewhere.
    facts0 = HostFacts.collect(names)
    cfg = validate(cfg, names, facts0)
    events: List[DropEvent] = []
    with runtime_for(cfg, kernel, collector_factory, names, facts0) as rt:
        # Ctrl-C / SIGTERM end the window early and the verdict still follows.
        with rt.running(lambda: on_ready(rt.held)) as stop:
            for _ in rt.ticks(stop, cfg.duration, float("inf"), poll=lambda: events.extend(rt.collector.events())):
                pass
        after = rt.facts_now()
        events.extend(rt.collector.events())
        end = rt.snapshot()
        classes = decode_classes(rt.classifier.read()) if rt.classifier is not None else {}
        hooks = rt.hooks()
        base, start, before, born, held = rt.started.base, rt.started.at, rt.started.before, rt.born(), tuple(rt.held)
    return analyse(kernel, names, cfg, Window(base, end, events, before, after, time.monotonic() - start, classes,
                                              born), hooks, held)


def runtime_for(cfg: DiagnoseConfig, kernel, collector_factory: Callable, names: Registry, facts: HostFacts,
                classify: bool = True) -> Runtime:
    """diagnose's and --follow's runtime: the kfree_skb collector, --promisc's holds, the classification hooks."""
    targets = promisc_targets(cfg, facts) if cfg.promisc else []
    return Runtime(kernel, collector_factory, probe_for(cfg), debug=cfg.debug, names=names, promisc=targets,
                   classify=(lambda: classify_session(kernel, cfg)) if classify else None, ready_file=cfg.ready_file)


def probe_for(cfg: DiagnoseConfig) -> ProbeConfig:
    """--netns filters in the kernel: another namespace's flood cannot spend the event budget (facts, e.g. the
    sender's, are still read in every namespace)."""
    return ProbeConfig(event_budget=cfg.event_budget,
                       filters=Filters(netns=getattr(cfg.netns, "inode")) if cfg.netns else Filters())


def classify_session(kernel, cfg: DiagnoseConfig):
    """The per-packet classification hooks for the window, or a stand-in when they are off."""
    if cfg.classify == "none":
        return nullcontext(None)
    from ..bpf.session import ClassifySession
    from ..kernel.features import kprobes_available
    from ..kernel.trampoline import probe_fentry
    # kallsyms (0.2 s to parse) is read here only when a kprobe may attach to the symbol; names come after the window
    sym = ip_rcv_core_symbol(kernel.ksyms) if kprobes_available() else None
    return ClassifySession(kernel.macros, sym, kernel.btf.has_func("ip_rcv_core"),
                           prefer=cfg.classify, debug=cfg.debug, trampoline=probe_fentry(kernel.btf))


@dataclass
class Window:
    """What one watching window collected."""

    base: Snapshot
    end: Snapshot
    events: List[DropEvent]
    before: HostFacts
    after: HostFacts
    duration: float
    classes: Dict = field(default_factory=dict)  # classify.decode_classes(): per (netns, ifindex, dst MAC)
    born: frozenset = frozenset()  # namespaces that appeared during the window


def analyse(kernel, names: Registry, cfg: DiagnoseConfig, w: Window, hooks, held=()) -> Report:
    counts = [DropCount(k, n) for k, n in since(w.base, w.end).items()]
    stats = {k: w.end.stats[k] - w.base.stats.get(k, 0) for k in w.end.stats}
    enricher = Enricher(kernel, names, w.after)
    counts = [c for c in counts if _in_scope(c, cfg, names, enricher)]
    ctx = Context(counts, w.events, w.before, w.after, enricher, Focus(cfg.ip, cfg.iface, cfg.netns), w.duration,
                  host=LiveHost(), promisc_held=tuple(held), classes=w.classes, born=w.born)
    findings, notes = run(ctx, RULES)
    rows = sorted((enricher.row(c) for c in counts), key=lambda r: (-r.count, r.reason))
    paths = [path.build(f, hooks) for f in findings]
    top = paths[0] if paths else _silence_path(cfg, w, hooks)
    return Report(findings, rows, notes, stats.get("lost", 0), stats.get("sampled", 0), hooks, w.duration,
                  kernel.release, paths, top)


def _silence_path(cfg: DiagnoseConfig, w: Window, hooks) -> list:
    """No finding: for --ip, where its frames would have died on the interface that owns it."""
    owners = w.after.find_ip(cfg.ip) if cfg.ip else []
    if not owners:
        return []
    o = owners[0]
    attached = any(h.get("attached") and h.get("name", "").startswith("eth_type_trans") for h in hooks)
    classified = sum(v["classified"] for (ns, ifindex, _mac), v in w.classes.items()
                     if ns == o.netns_inode and ifindex == o.ifindex) if attached else None
    return path.silence(o, hooks, cfg.ip or "", classified)


def _in_scope(c: DropCount, cfg: DiagnoseConfig, names: Registry, enricher) -> bool:
    if cfg.netns and c.key.netns != getattr(cfg.netns, "inode", names.inode(cfg.netns)):
        return False
    if cfg.iface and enricher.interface(c.key.netns, c.key.ifindex) != cfg.iface:
        return False
    return True


__all__ = ["DiagnoseConfig", "diagnose", "HOST"]
