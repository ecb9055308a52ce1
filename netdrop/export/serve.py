"""The exporter's HTTP side: /metrics (prometheus_client's exposition of the latest Sample), /healthz, and the
node_exporter textfile, written atomically. Runs in its own threads; the readings are handed over by `Latest`."""
from __future__ import annotations

import errno
import os
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Optional, Tuple

from prometheus_client import CollectorRegistry, ProcessCollector, generate_latest
from prometheus_client.exposition import choose_encoder

from ..errors import HostError, PermissionDenied, UsageError
from .families import SampleCollector
from .read import Sample


class Latest:
    """The last Sample, swapped whole by the reader and read whole by the server (a reference assignment is atomic
    in CPython; no lock is held while a scrape formats it)."""

    def __init__(self, stale_after: float):
        self.sample: Optional[Sample] = None
        self.read_at = 0.0  # monotonic
        self.stale_after = stale_after
        self.stopping = False

    def publish(self, s: Sample) -> None:
        self.sample, self.read_at = s, time.monotonic()

    def health(self) -> Tuple[int, str]:
        if self.sample is None:
            return 503, "starting: the probes are not attached yet\n"
        age = time.monotonic() - self.read_at
        if self.stopping:
            return 503, "stopping: the probes are detached; the last counts are still served\n"
        if age > self.stale_after:
            return 503, f"stale: the kernel's counts were last read {age:.0f} s ago\n"
        return 200, "ok\n"


def registries(latest: Latest) -> Tuple[CollectorRegistry, CollectorRegistry]:
    """(what /metrics serves: netdrop's metrics and the process's own, what the textfile holds: netdrop's only;
    node_exporter has process_* metrics of its own and would refuse a second set)."""
    http, text = CollectorRegistry(auto_describe=False), CollectorRegistry(auto_describe=False)
    for r in (http, text):
        r.register(SampleCollector(lambda: latest.sample))  # type: ignore[arg-type]
    ProcessCollector(registry=http)
    return http, text


def parse_listen(text: str) -> Tuple[str, int]:
    """ADDR:PORT, [v6]:PORT or :PORT (every address)."""
    host, sep, port = text.rpartition(":")
    if not sep or not port.isdigit() or not 0 < int(port) < 65536:
        raise UsageError(f"--listen {text!r} is not ADDR:PORT", "e.g. --listen 0.0.0.0:9932 or --listen [::1]:9932")
    host = host[1:-1] if host.startswith("[") and host.endswith("]") else host
    return host or "0.0.0.0", int(port)


class _Server(ThreadingHTTPServer):
    daemon_threads = False  # shutdown waits for a scrape in flight: the last one is served whole
    block_on_close = True

    def __init__(self, addr: Tuple[str, int], latest: Latest, registry: CollectorRegistry):
        self.address_family = socket.AF_INET6 if ":" in addr[0] else socket.AF_INET
        self.latest, self.registry = latest, registry
        super().__init__(addr, _Handler)


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.0"

    def do_GET(self) -> None:  # noqa: N802 (http.server's name)
        path = self.path.split("?", 1)[0]
        if path == "/metrics":
            encoder, ctype = choose_encoder(self.headers.get("Accept", ""))
            self._send(200, encoder(self.server.registry), ctype)
        elif path in ("/healthz", "/-/healthy"):
            code, text = self.server.latest.health()
            self._send(code, text.encode(), "text/plain; charset=utf-8")
        elif path == "/":
            self._send(200, b"netdrop export: /metrics, /healthz\n", "text/plain; charset=utf-8")
        else:
            self._send(404, b"not found: try /metrics\n", "text/plain; charset=utf-8")

    def _send(self, code: int, body: bytes, ctype: str) -> None:
        self.send_response(code)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        try:
            self.wfile.write(body)
        except (BrokenPipeError, ConnectionResetError):  # the scraper gave up; nothing to tell it
            pass

    def log_message(self, format, *args) -> None:  # noqa: A002 (http.server's signature)
        pass  # a scrape every few seconds is not news


class HttpEndpoint:
    """Bound at construction (before any probe is attached: a taken port changes nothing), served in a thread."""

    def __init__(self, listen: str, latest: Latest, registry: CollectorRegistry):
        addr = parse_listen(listen)
        try:
            self.server = _Server(addr, latest, registry)
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                raise HostError(f"cannot listen on {listen}: the port is taken",
                                f"another process listens there (`ss -ltnp 'sport = :{addr[1]}'`); "
                                "choose another with --listen") from None
            if exc.errno == errno.EACCES:
                raise PermissionDenied(f"cannot listen on {listen}: permission denied",
                                       "ports below 1024 need CAP_NET_BIND_SERVICE; choose another with --listen") \
                    from None
            raise HostError(f"cannot listen on {listen}: {exc.strerror}",
                            "give an address this host has, e.g. --listen 127.0.0.1:9932") from None
        self.thread = threading.Thread(target=self.server.serve_forever, name="netdrop-http", daemon=True)

    @property
    def address(self) -> Tuple[str, int]:
        host, port = self.server.server_address[:2]
        return str(host), int(port)

    def __enter__(self) -> "HttpEndpoint":
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.server.shutdown()  # stops accepting; a scrape being answered finishes first
        self.server.server_close()


def check_textfile(path: str) -> str:
    """The directory the textfile goes to; UsageError when node_exporter would not read it or it cannot be written."""
    folder = os.path.dirname(os.path.abspath(path))
    if not path.endswith(".prom") or os.path.isdir(path):
        raise UsageError(f"--textfile {path}: node_exporter reads only files ending in .prom",
                         "e.g. --textfile /var/lib/prometheus/node-exporter/netdrop.prom")
    if not os.path.isdir(folder) or not os.access(folder, os.W_OK):
        why = "does not exist" if not os.path.isdir(folder) else "is not writable"
        raise UsageError(f"--textfile: the directory {folder} {why}",
                         "give a file in node_exporter's --collector.textfile.directory")
    return folder


class Textfile:
    """node_exporter's textfile collector format, replaced atomically (a temporary file beside it, then rename) and
    removed when netdrop stops: stale counts left behind would keep firing alerts for a netdrop that is gone."""

    def __init__(self, path: str, registry: CollectorRegistry):
        self.path, self.registry = path, registry
        folder = check_textfile(path)
        self.tmp = os.path.join(folder, f".{os.path.basename(path)}.{os.getpid()}.tmp")
        self.written = False

    def write(self) -> None:
        data = generate_latest(self.registry)
        with open(self.tmp, "wb") as f:
            f.write(data)
            os.fchmod(f.fileno(), 0o644)
        os.rename(self.tmp, self.path)
        self.written = True

    def remove(self) -> None:
        for p in (self.tmp, self.path if self.written else None):
            if p:
                try:
                    os.unlink(p)
                except FileNotFoundError:
                    pass

