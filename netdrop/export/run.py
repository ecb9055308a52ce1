"""`netdrop export`: the watch runtime, read every --interval into metrics served over HTTP and/or written as a
node_exporter textfile, until SIGTERM or Ctrl-C (then: probes detached, a last reading published, a scrape in
flight answered, the textfile removed)."""
from __future__ import annotations

from contextlib import ExitStack
from dataclasses import dataclass
from typing import Callable, Optional

from ..bpf.offsets import ProbeConfig
from ..errors import UsageError
from ..net.links import HostFacts
from ..net.namespaces import Registry
from ..runtime import Runtime, reason_filter, resolve_scope
from .read import Reader
from .serve import HttpEndpoint, Latest, Textfile, check_textfile, parse_listen, registries


DEFAULT_LISTEN = ":9932"


@dataclass(frozen=True)
class ExportConfig:
    listen: Optional[str] = DEFAULT_LISTEN
    textfile: Optional[str] = None
    interval: float = 5.0
    window: float = 60.0  # a cause is active while its drops are in the last `window` seconds
    max_series: int = 500  # per metric; the rest are folded into `other`
    netns: Optional[str] = None
    iface: Optional[str] = None
    reason: Optional[str] = None
    event_budget: int = 1000  # sampled drops per second per CPU: the rules' evidence; counts are exact regardless
    duration: float = float("inf")
    ready_file: Optional[str] = None
    debug: bool = False


def check(cfg: ExportConfig) -> ExportConfig:
    """What can be said about the options without root or the kernel (the CLI asks before loading anything)."""
    if not (cfg.listen or cfg.textfile):
        raise UsageError("nothing to export to", "give --listen ADDR:PORT, --textfile PATH, or both")
    if cfg.window < cfg.interval:
        raise UsageError(f"--window {cfg.window:g} is shorter than --interval {cfg.interval:g}",
                         "a cause is judged over at least one interval; e.g. --window 60")
    if cfg.listen:
        parse_listen(cfg.listen)
    if cfg.textfile:
        check_textfile(cfg.textfile)
    return cfg


def export(cfg: ExportConfig, kernel, collector_factory: Callable, on_ready: Callable[[str], None]) -> None:
    check(cfg)
    names = Registry()
    scope = resolve_scope(names, HostFacts.collect(names), cfg.netns, cfg.iface)
    filters = scope.kernel_filters(**reason_filter(kernel, cfg.reason))
    probe = ProbeConfig(event_budget=cfg.event_budget, filters=filters)
    latest = Latest(stale_after=max(3 * cfg.interval, 10.0))
    http_registry, text_registry = registries(latest)
    textfile = Textfile(cfg.textfile, text_registry) if cfg.textfile else None
    # the port is bound first: a taken one leaves the host untouched. Its thread starts after attaching (a cold
    # start compiles in a forked child, best done while this process has one thread)
    endpoint = HttpEndpoint(cfg.listen, latest, http_registry) if cfg.listen else None
    with ExitStack() as stack:
        if endpoint is not None:
            stack.callback(endpoint.server.server_close)
        if textfile is not None:
            stack.callback(textfile.remove)
        rt = stack.enter_context(Runtime(kernel, collector_factory, probe, debug=cfg.debug, names=names,
                                         ready_file=cfg.ready_file, compile_apart=True))
        if endpoint is not None:
            stack.enter_context(endpoint)
        reader = Reader(kernel, rt, scope, cfg.window, cfg.max_series)

        def publish(now: Optional[float] = None) -> None:
            latest.publish(reader.read(now))
            if textfile is not None:
                textfile.write()

        publish()
        where = f"http://{_host(endpoint.address)}/metrics" if endpoint is not None else str(cfg.textfile)
        with rt.running(lambda: on_ready(where)) as stop:
            for now in rt.ticks(stop, cfg.duration, cfg.interval, poll=reader.poll):
                publish(now)
        rt.detach()  # SIGTERM: stop counting, publish what was counted, answer the scrape in flight, then go
        latest.stopping = True
        publish()


def _host(addr) -> str:
    host, port = addr[0], addr[1]
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
