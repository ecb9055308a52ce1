"""Command line: parse options into config objects and call one function per command. No BPF, no netlink here."""
from __future__ import annotations

import os
import signal
import sys
import traceback
from typing import Optional

import click

from . import __version__
from .errors import EXIT_INTERNAL, EXIT_INTERRUPTED, EXIT_USAGE, KernelError, NetdropError, PermissionDenied
from .lab import SCENARIOS as LAB_SCENARIOS
from .lab.traffic import TRAFFIC_KINDS
from .render.text import console, plain


class App:
    def __init__(self, debug: bool, width: Optional[int]):
        self.debug = debug
        self.set_width(width)

    def set_width(self, width: Optional[int]) -> None:
        self.width = width
        self.out = console(width=width)
        self.err = console(stderr=True, width=width)

    def kernel(self):
        from .kernel.features import KernelInfo
        return KernelInfo.load()


_pass_app = click.make_pass_decorator(App)
WIDTH = click.IntRange(40, 1000)
DEBUG_HELP, WIDTH_HELP = "Show compiler output and tracebacks.", "Output width (default: the terminal's)."
NETNS_HELP = ("Only this network namespace: an `ip netns` name, a container name or id prefix, pid:N (the namespace "
              "of that process), or its inode.")


def _late_width(ctx: click.Context, param, value: Optional[int]) -> None:
    if value is not None:
        ctx.find_object(App).set_width(value)


def _late_debug(ctx: click.Context, param, value: bool) -> None:
    if value:
        ctx.find_object(App).debug = True


def pass_app(f):
    """Every command takes the global options after its name too (`netdrop diagnose --width 120`)."""
    f = click.option("--width", type=WIDTH, callback=_late_width, expose_value=False, help=WIDTH_HELP)(f)
    f = click.option("--debug", is_flag=True, callback=_late_debug, expose_value=False, help=DEBUG_HELP)(f)
    return _pass_app(f)


# Watching windows are finite and at most a day; "without end" is said by leaving --duration out (watch, top) or
# by --follow (diagnose), never by inf (which the float type would accept).
DURATION = click.FloatRange(0, 86400, min_open=True)


def _ready_file(ctx: click.Context, param, value: Optional[str]) -> Optional[str]:
    """Checked before anything is attached: a path that cannot be written fails as a usage error, not at the end."""
    if value is None:
        return value
    folder = os.path.dirname(os.path.abspath(value))
    if os.path.isdir(value):
        raise click.BadParameter(f"{value} is a directory", ctx, param)
    if not os.path.isdir(folder):
        raise click.BadParameter(f"the directory {folder} does not exist", ctx, param)
    if not os.access(folder, os.W_OK):
        raise click.BadParameter(f"the directory {folder} is not writable", ctx, param)
    return value


READY_FILE = click.option("--ready-file", metavar="FILE", callback=_ready_file,
                          help="Written once probes are attached (tests and scripts wait on it).")


class _ClosedPipe(Exception):
    """A BrokenPipeError carried past click."""


class _Interrupted(Exception):
    """A KeyboardInterrupt carried past click."""


class NetdropGroup(click.Group):
    """Workaround (click 8): Command.main() turns an EPIPE raised by a command into sys.exit(1) even with
    standalone_mode=False, so a closed pipe (`| head -n 1`) ended netdrop with exit 1; and it answers a
    KeyboardInterrupt by printing an empty line to stderr before our `error:` line. Both are re-raised here as
    exceptions click does not intercept, and main() handles them."""

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except BrokenPipeError:
            raise _ClosedPipe() from None
        except KeyboardInterrupt:
            raise _Interrupted() from None


@click.group(cls=NetdropGroup, invoke_without_command=True,
             context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.option("--debug", is_flag=True, help=DEBUG_HELP)
@click.option("--width", type=WIDTH, default=None, help=WIDTH_HELP)
@click.version_option(__version__, prog_name="netdrop")
@click.pass_context
def cli(ctx: click.Context, debug: bool, width: Optional[int]) -> None:
    """Find and explain packets the Linux receive path drops silently."""
    ctx.obj = App(debug, width)
    if ctx.invoked_subcommand is None:  # plain `netdrop`: the help, on stdout, as for --help
        click.echo(ctx.get_help())


@cli.command()
@click.option("--iface", "-i", metavar="IF", help="Focus on this interface.")
@click.option("--ip", metavar="ADDR", help="Focus on this address (the one that 'does not work').")
@click.option("--netns", "-n", metavar="NS", help=NETNS_HELP)
@click.option("--duration", "-d", type=DURATION, default=None,
              help="Seconds to watch, up to 86400 [default: 10; with --follow: without end, until Ctrl-C].")
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON (schema: docs/json.md).")
@READY_FILE
@click.option("--promisc", is_flag=True,
              help="Hold the interface promiscuous for the run (packet-socket membership; released on any exit).")
@click.option("--classify", type=click.Choice(["auto", "fentry", "kprobe", "none"]), default="auto", show_default=True,
              help="Per-packet hooks on eth_type_trans/ip_rcv_core for the window (auto: fentry, else kprobe).")
@click.option("--follow", "-f", is_flag=True, help="Keep watching; report causes as they appear and when they stop.")
@click.option("--wide", "-w", is_flag=True, help="Add each namespace's inode (NETNS-ID) to the drops table.")
@click.option("--resolved-after", type=click.FloatRange(0.5, 3600), default=5.0, show_default=True,
              help="--follow: a cause is over after this many seconds without its drops while traffic continues.")
@pass_app
def diagnose(app: App, iface, ip, netns, duration, as_json, ready_file, promisc, classify, follow, wide,
             resolved_after) -> None:
    """Watch for DURATION seconds and explain every drop: what, where, why, and the fix."""
    from .collect import Collector
    from .diagnose.run import DiagnoseConfig
    from .diagnose.run import diagnose as run_diagnose
    from .render.report import render_report, report_json
    if duration is None:
        duration = float("inf") if follow else 10.0
    cfg = DiagnoseConfig(iface=iface, ip=ip, netns=netns, duration=duration, ready_file=ready_file, promisc=promisc,
                         classify=classify, debug=app.debug)
    kernel = app.kernel()

    def on_ready(held) -> None:
        for ns, ifname in held:
            app.err.print(plain(f"promiscuous mode ON for {ifname} (netns {ns}) while netdrop runs; released on exit",
                                "bold yellow"))
        if not as_json:
            span = "until Ctrl-C" if duration == float("inf") else f"for {duration:g} s (Ctrl-C stops early)"
            app.err.print(plain(f"watching {span}...", "dim"))

    if follow:
        from .diagnose.follow import follow as run_follow
        from .render.follow import follow_printer
        run_follow(cfg, kernel, Collector, follow_printer(app.out, as_json), on_ready, resolved_after=resolved_after)
        return
    report = run_diagnose(cfg, kernel, Collector, on_ready)
    if as_json:
        click.echo(report_json(report))
    else:
        app.out.print(render_report(report, wide_table=wide))


@cli.command()
@click.option("--interval", type=click.FloatRange(0.1, 3600), default=1.0, show_default=True,
              help="Seconds per refresh.")
@click.option("--iface", "-i", metavar="IF", help="Only this interface (filtered in the kernel).")
@click.option("--netns", "-n", metavar="NS", help=NETNS_HELP + " Filtered in the kernel.")
@click.option("--reason", "-r", metavar="NAME", help="Only this drop reason, as the running kernel names it.")
@click.option("--sort", type=click.Choice(["rate", "count", "reason", "interface"]), default="rate", show_default=True)
@click.option("--once", is_flag=True, help="Print one snapshot and exit.")
@click.option("--count", type=click.IntRange(0), default=0, help="Print N snapshots and exit (0: until Ctrl-C).")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per interval (schema: docs/top.md).")
@READY_FILE
@click.option("--promisc", is_flag=True,
              help="Hold --iface promiscuous while top runs (packet-socket membership; released on any exit).")
@click.option("--wide", "-w", is_flag=True, help="Add each namespace's inode (NETNS-ID column).")
@pass_app
def top(app: App, interval, iface, netns, reason, sort, once, count, as_json, ready_file, promisc, wide) -> None:
    """A live, top-style view of every drop on the host: counts, rates, reasons, locations."""
    import time as _time

    from .collect import Collector
    from .render.live import render_view, view_json
    from .top import Top, TopConfig, run_live, run_plain
    cfg = TopConfig(interval=interval, iface=iface, netns=netns, reason=reason, sort=sort,
                    count=1 if once else count, ready_file=ready_file, debug=app.debug, promisc=promisc, wide=wide)
    kernel = app.kernel()
    # a dumb terminal (TERM=dumb: no cursor movement) gets the plain refreshing view, one snapshot per interval
    interactive = not as_json and not once and not count and sys.stdout.isatty() and sys.stdin.isatty() \
        and not app.out.is_dumb_terminal
    with Top(cfg, kernel, Collector) as t:
        for held in t.promisc_held:
            app.err.print(plain(f"promiscuous mode ON for {held} while netdrop runs; released on exit", "bold yellow"))
        if interactive:
            run_live(t, app.out, interval)
            return

        def show(view) -> None:
            if as_json:
                sys.stdout.write(view_json(view, interval, _time.time()) + "\n")
                sys.stdout.flush()
            else:
                app.out.print(render_view(view))
                app.out.print()

        run_plain(t, show, interval, cfg.count)


@cli.command()
@click.option("--iface", "-i", metavar="IF", help="Only drops on this interface (filtered in the kernel).")
@click.option("--netns", "-n", metavar="NS", help=NETNS_HELP + " Filtered in the kernel.")
@click.option("--reason", "-r", metavar="NAME", help="Only this drop reason, as the running kernel names it.")
@click.option("--proto", metavar="P", help="tcp, udp, icmp, icmp6, sctp or a number.")
@click.option("--host", metavar="ADDR", help="Source or destination address.")
@click.option("--port", type=int, metavar="N", help="Source or destination port.")
@click.option("--mac", metavar="MAC", help="Source or destination MAC.")
@click.option("--count", "-c", type=click.IntRange(0), default=0, help="Exit after N drops are printed.")
@click.option("--duration", "-d", type=DURATION, default=None,
              help="Exit after SECONDS (up to 86400) [default: without end, until Ctrl-C].")
@click.option("--stack", is_flag=True, help="Add the kernel stack of each drop.")
@click.option("--snaplen", type=int, default=256, show_default=True, help="Bytes of each frame kept (for --pcap).")
@click.option("--budget", type=int, default=100_000, show_default=True,
              help="Events per second per CPU; beyond it drops are counted, not streamed.")
@click.option("--pcap", type=click.Path(dir_okay=False), help="Write the dropped frames to this pcapng file.")
@click.option("--json", "as_json", is_flag=True, help="JSON lines (schema: docs/watch.md).")
@click.option("--wide", "-w", is_flag=True, help="Full lines instead of 80 columns (with the namespace's inode).")
@READY_FILE
@pass_app
def watch(app: App, iface, netns, reason, proto, host, port, mac, count, duration, stack, snaplen, budget, pcap,
          as_json, wide, ready_file) -> None:
    """Print every drop as it happens (Ctrl-C ends it and prints the accounting)."""
    from .collect import Collector
    from .render.stream import event_line, loss_json, summary_json, summary_text
    from .watch import WatchConfig
    from .watch import watch as run_watch
    cfg = WatchConfig(iface=iface, netns=netns, reason=reason, proto=proto, host=host, port=port, mac=mac,
                      count=count, duration=duration if duration is not None else float("inf"), stack=stack,
                      snaplen=snaplen, budget=budget, ready_file=ready_file, pcap=pcap, debug=app.debug)
    kernel = app.kernel()
    # 80 columns unless the terminal is wider (then reason, interface, location and addresses get the room)
    width = app.width or (max(80, app.out.width) if app.out.is_terminal else 80)

    lines: list = []  # JSON lines of the batch being handled: one write per batch, not per event

    def emit(row) -> None:
        if as_json:
            lines.append(row.to_json())
        else:
            app.out.print(event_line(row, width=width, wide=wide))

    def on_batch() -> None:
        if lines:
            lines.append("")
            sys.stdout.write("\n".join(lines))
            lines.clear()

    def on_loss(lost: int, sampled: int) -> None:
        if as_json:
            on_batch()
            sys.stdout.write(loss_json(lost, sampled) + "\n")
        else:
            app.err.print(plain(f"so far {lost} events lost, {sampled} sampled away (counts stay exact)", "yellow"))

    summary = run_watch(cfg, kernel, Collector, emit, on_loss, on_batch=on_batch)
    if as_json:
        sys.stdout.write(summary_json(summary) + "\n")
    else:
        app.err.print(plain(summary_text(summary), "dim"))


@cli.command()
@click.option("--listen", "-l", metavar="ADDR:PORT",
              help="Serve /metrics and /healthz here [default: :9932 (every address), unless only --textfile].")
@click.option("--textfile", metavar="PATH.prom",
              help="Also (or only) write node_exporter's textfile format here, replaced atomically each interval.")
@click.option("--interval", type=click.FloatRange(0.5, 3600), default=5.0, show_default=True,
              help="Seconds between readings of the kernel's counts.")
@click.option("--window", type=click.FloatRange(1, 86400), default=60.0, show_default=True,
              help="netdrop_finding is 1 while the cause's drops are in the last WINDOW seconds.")
@click.option("--max-series", type=click.IntRange(1, 100_000), default=500, show_default=True,
              help="Series per metric; beyond it label sets are folded into one labelled 'other'.")
@click.option("--iface", "-i", metavar="IF", help="Only this interface (filtered in the kernel).")
@click.option("--netns", "-n", metavar="NS", help=NETNS_HELP + " Filtered in the kernel.")
@click.option("--reason", "-r", metavar="NAME", help="Only this drop reason, as the running kernel names it.")
@click.option("--duration", "-d", type=DURATION, default=None, help="Exit after SECONDS [default: until SIGTERM].")
@READY_FILE
@pass_app
def export(app: App, listen, textfile, interval, window, max_series, iface, netns, reason, duration,
           ready_file) -> None:
    """Export the drop counts and active causes to Prometheus, until SIGTERM (docs/export.md)."""
    from .collect import Collector
    from .export.run import DEFAULT_LISTEN, ExportConfig, check as check_export
    from .export.run import export as run_export
    cfg = check_export(ExportConfig(
        listen=listen or (None if textfile else DEFAULT_LISTEN), textfile=textfile, interval=interval, window=window,
        max_series=max_series, netns=netns, iface=iface, reason=reason,
        duration=duration if duration is not None else float("inf"), ready_file=ready_file, debug=app.debug))

    def on_ready(where: str) -> None:
        app.err.print(plain(f"exporting to {where} every {interval:g} s (SIGTERM or Ctrl-C stops)", "dim"),
                      soft_wrap=True)

    run_export(cfg, app.kernel(), Collector, on_ready)


@cli.command()
@click.option("--json", "as_json", is_flag=True, help="Print the capabilities as JSON.")
@pass_app
def check(app: App, as_json: bool) -> None:
    """What this kernel and host offer netdrop: hooks, evidence, and how to fix what is missing."""
    from .render.check import render_check, check_json
    from .check import capabilities
    rows = capabilities()
    if as_json:
        click.echo(check_json(rows))
    else:
        app.out.print(render_check(rows))
    failed = [r for r in rows if r.required and not r.ok]
    if failed:  # the table is printed; the first thing that stops netdrop is the error, with its exit code
        first = failed[0]
        error = PermissionDenied if first.name in ("root", "BPF capabilities") else KernelError
        raise error(f"netdrop cannot run here: {first.name}: {first.detail}", first.hint)


@cli.group()
def lab() -> None:
    """The built-in reproduction lab (network namespaces named ndlab-*)."""


@lab.command("up")
@click.option("--scenario", default="wrong-mac", show_default=True, help="Which fault to build (see docs/usage.md).",
              type=click.Choice(list(LAB_SCENARIOS)))
@pass_app
def lab_up(app: App, scenario: str) -> None:
    """Build the lab (rebuilds it if it exists)."""
    from . import lab as labmod
    _print_status(app, labmod.up(scenario))


@lab.command("down")
@pass_app
def lab_down(app: App) -> None:
    """Remove every lab namespace, whatever state they are in."""
    from . import lab as labmod
    removed = labmod.down()
    app.out.print(plain("removed: " + (" ".join(removed) or "nothing")))


@lab.command("status")
@pass_app
def lab_status(app: App) -> None:
    """Show the lab's namespaces, addresses and the sender's neighbour entry."""
    from . import lab as labmod
    _print_status(app, labmod.status())


@lab.command("traffic")
@click.option("--count", "-c", type=click.IntRange(1, 10_000_000), default=3, show_default=True)
@click.option("--kind", type=click.Choice(list(TRAFFIC_KINDS)),
              default="wrong-mac", show_default=True,
              help="wrong-mac: to the secondary address; closed-port: UDP to a closed port; the others need the "
                   "lab scenario of the same name (or multi; no-route: forwarding); backlog sends broadcast frames, "
                   "one CPU_BACKLOG drop each.")
@pass_app
def lab_traffic(app: App, count: int, kind: str) -> None:
    """Send COUNT UDP datagrams from the sender namespace."""
    from . import lab as labmod
    sent = labmod.send(count, kind)
    app.out.print(plain(f"sent {sent} {kind} datagrams"))


@lab.command("flood")
@click.option("--seconds", "-s", type=float, default=3.0, show_default=True)
@pass_app
def lab_flood(app: App, seconds: float) -> None:
    """Send wrong-MAC frames as fast as possible for SECONDS."""
    from . import lab as labmod
    sent = labmod.flood(seconds)
    app.out.print(plain(f"sent {sent} frames ({sent / seconds:,.0f}/s)"))


def _print_status(app: App, status: dict) -> None:
    for k, v in status.items():
        app.out.print(plain(f"{k}: {v}"))


_MAIN_PID = 0


def _on_sigterm(_signum, _frame):
    if os.getpid() != _MAIN_PID:  # a forked helper (a library's child) must not run netdrop's exit path
        os._exit(EXIT_INTERRUPTED)
    raise KeyboardInterrupt


def main(argv=None) -> None:
    global _MAIN_PID
    _MAIN_PID = os.getpid()
    signal.signal(signal.SIGTERM, _on_sigterm)
    signal.signal(signal.SIGINT, signal.default_int_handler)  # entry.py's start-up handler is done
    debug = "--debug" in (argv if argv is not None else sys.argv)
    err = console(stderr=True)
    try:
        cli.main(args=argv, prog_name="netdrop", standalone_mode=False)
    except NetdropError as exc:
        _fail(err, exc.message, exc.hint, exc.exit_code)
    except click.exceptions.NoSuchOption as exc:
        _fail(err, exc.format_message(), f"see `netdrop {_cmd(exc)}--help`", EXIT_USAGE)
    except click.ClickException as exc:
        _fail(err, exc.format_message(), f"see `netdrop {_cmd(exc)}--help`", exc.exit_code or EXIT_USAGE)
    except (KeyboardInterrupt, _Interrupted, click.exceptions.Abort):
        if debug:
            traceback.print_exc()
        _fail(err, "interrupted", "probes were detached; the host is as it was", EXIT_INTERRUPTED)
    except (BrokenPipeError, _ClosedPipe):
        _closed_pipe()
    except Exception as exc:  # the one place a bug becomes a message
        if debug:
            traceback.print_exc()
        _fail(err, f"internal error: {type(exc).__name__}: {exc}", "rerun with --debug and report it", EXIT_INTERNAL)
    sys.exit(0)


def _closed_pipe() -> None:
    """The reader went away (`netdrop watch --json | head -n 1`): a normal end, exit 0. stdout points at /dev/null
    from here on so that the interpreter's final flush does not fail again (and exit 1)."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    os.close(devnull)
    sys.exit(0)


def _cmd(exc: click.ClickException) -> str:
    ctx = getattr(exc, "ctx", None)
    if ctx is None or ctx.command_path in ("", "netdrop"):
        return ""
    return ctx.command_path.split(" ", 1)[-1] + " "


def _fail(err, message: str, hint: str, code: int) -> None:
    # soft_wrap: one line each however long (the terminal may wrap it visually; scripts read lines)
    err.print(plain(f"error: {message}".replace("\n", " ")), soft_wrap=True)
    if hint:
        err.print(plain(f"hint: {hint}".replace("\n", " ")), soft_wrap=True)
    sys.exit(code)
