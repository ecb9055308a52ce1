"""The ONLY module that imports bcc: compile, attach, read maps and the ring buffer, detach on every exit path.

Everything it returns is raw bytes or plain numbers; netdrop/decode.py turns them into the model.
"""
from __future__ import annotations

import os
import struct
import time
from contextlib import contextmanager, nullcontext
from typing import Dict, Iterator, List, Optional, Tuple

from ..errors import KernelError, PermissionDenied
from ..kernel.caps import bpf_capability_problem
from ..kernel.features import kprobes_available
from ..kernel.headers import HeaderTree, find_headers
from . import cache, sources
from .layout import ND_STATE, STATE_LAST, STATE_PENDING, STATE_SEQ, STATE_STAT, STATS
from .maps import Map
from .ringbuf import RingBuffer
from .offsets import BUDGET_TICK_MS, ProbeConfig


def bcc_version() -> Optional[str]:
    """bcc's version, or None when its Python module (python3-bpfcc) is missing."""
    try:
        import bcc
    except ImportError:
        return None
    return getattr(bcc, "__version__", "unknown version")


def _import_bcc():
    try:
        import bcc
    except ImportError:
        raise KernelError("bcc's Python module is not installed",
                          "apt-get install python3-bpfcc (not the unrelated PyPI package named bcc)") from None
    return bcc


class _Quiet:
    """bcc (LLVM) writes compiler warnings to fd 2; keep them out of the user's terminal unless --debug."""

    def __init__(self, enabled: bool):
        self.enabled = enabled
        self.saved = -1
        self.captured = b""

    def __enter__(self):
        if self.enabled:
            import tempfile
            self.tmp = tempfile.TemporaryFile()
            self.saved = os.dup(2)
            os.dup2(self.tmp.fileno(), 2)
        return self

    def __exit__(self, *exc):
        if self.saved >= 0:
            os.dup2(self.saved, 2)
            os.close(self.saved)
            self.tmp.seek(0)
            self.captured = self.tmp.read()
            self.tmp.close()
        return False


@contextmanager
def kernel_source(tree: HeaderTree) -> Iterator[None]:
    """Point bcc at `tree` (BCC_KERNEL_SOURCE) while it compiles, unless it is the running kernel's own."""
    before = os.environ.get("BCC_KERNEL_SOURCE")
    if not tree.exact:
        os.environ["BCC_KERNEL_SOURCE"] = tree.path
    try:
        yield
    finally:
        if before is None:
            os.environ.pop("BCC_KERNEL_SOURCE", None)
        else:
            os.environ["BCC_KERNEL_SOURCE"] = before


class _Loaded:
    """A compiled bcc module and the header tree it was built against; both released by close()/exit."""

    bpf = None
    headers: Optional[HeaderTree] = None

    def __exit__(self, *exc) -> bool:
        self.close()
        return False

    def close(self) -> None:
        if self.bpf is not None:
            _cleanup(self.bpf)
            self.bpf = None
        if self.headers is not None:
            self.headers.cleanup()
            self.headers = None


TP_BTF = "tp_btf"
RAW_TP = "raw_tracepoint"
READ_ATTEMPTS = 5  # snapshots of the counts tried before accepting one a flush may have torn (see read_counts)
_ZERO = bytes(4)  # key 0 of the single-slot arrays
DROPS_MAPS = ("counts", "state", "events", "tick", "stacks")  # the maps bpf/drops.c declares


class DropSession(_Loaded):
    """One loaded drops.c. Use as a context manager; the probes are detached and maps freed on exit.

    `hook` is TP_BTF (direct loads; `btf` is then needed to find the attach point) or RAW_TP. If the tp_btf
    program is refused, the session falls back to the raw tracepoint and says why in `fallback_why`.

    bcc is only the compiler here: the maps are read through netdrop's own bpf() calls (maps.py, ringbuf.py) on fds
    duplicated from the program's instructions, and a tp_btf program comes from the compile cache (cache.py) when
    it can, without loading bcc at all. `startup` records each start-up phase's seconds."""

    def __init__(self, config: ProbeConfig, kernel_macros: Dict[str, int], debug: bool = False,
                 hook: str = RAW_TP, btf=None):
        self.config = config
        self.kernel_macros = kernel_macros
        self.debug = debug
        self.hook = hook
        self.btf = btf
        self.fallback_why = ""
        self.prog = None  # the tp_btf program (netdrop's own loader); bcc owns the raw tracepoint's
        self.bpf = None
        self.headers: Optional[HeaderTree] = None
        self.maps: Dict[str, Map] = {}
        self.ring: Optional[RingBuffer] = None
        self._counted = 0
        self._gen = 0
        self._tick_at = 0.0
        self.startup: Dict[str, float] = {}
        self.from_cache = False

    def cflags(self) -> List[str]:
        return ["-I" + sources.bpf_dir(), "-Wno-unused-function", "-Wno-macro-redefined"] + \
            self.config.cflags(self.kernel_macros) + (["-DHOOK_TP_BTF=1"] if self.hook == TP_BTF else [])

    def _phase(self, name: str, t0: float) -> float:
        now = time.monotonic()
        self.startup[name] = self.startup.get(name, 0.0) + now - t0
        return now

    def _compile(self):
        """bcc's compile of drops.c for self.hook (for RAW_TP bcc also loads and attaches it)."""
        t0 = time.monotonic()
        bcc = _import_bcc()
        t0 = self._phase("import bcc", t0)
        if self.headers is None:
            self.headers = find_headers()
            t0 = self._phase("header tree", t0)
        with kernel_source(self.headers), _Quiet(not self.debug) as quiet:
            try:
                bpf = bcc.BPF(src_file=sources.source("drops.c").encode(), cflags=self.cflags())
            except Exception as exc:  # bcc raises bare Exception for compile and load failures
                detail = quiet.captured.decode(errors="replace").strip().splitlines()
                tail = detail[-1] if detail else str(exc)
                raise KernelError(f"could not load the kfree_skb probe: {tail}",
                                  "run `netdrop check`; rerun with --debug for the compiler's output") from None
        self._phase("compile (clang/LLVM)" + (" + load + attach" if self.hook == RAW_TP else ""), t0)
        return bpf

    def _own_maps(self, bpf, insns: bytes) -> Tuple[List[Map], List[Tuple[int, int]]]:
        """The maps a compiled program refers to, as fds of our own (dup'ed), and where each goes. Named after
        bcc's tables (an older bcc may create maps without a kernel-side name)."""
        names = {}
        for name in DROPS_MAPS:
            try:
                names[bpf[name.encode()].map_fd] = name
            except KeyError:  # not compiled in (no events, no stacks)
                continue
        order: Dict[int, int] = {}
        relocs = []
        for idx, fd in cache.map_fds(insns):
            relocs.append((idx, order.setdefault(fd, len(order))))
        return [Map(os.dup(fd), names.get(fd, "")) for fd in order], relocs

    def warm(self) -> bool:
        """Whether attaching now needs no compiler in this process: a tp_btf program already in the compile cache
        (or nothing a cache could keep: the raw tracepoint is always compiled by bcc, or the cache is off)."""
        if self.hook != TP_BTF or cache.cache_dir() is None:
            return True
        paths = [sources.source("drops.c"), sources.source("netdrop.h")]
        return cache.load(cache.key(paths, self.cflags())) is not None

    def _load_tp_btf(self) -> None:
        """From the compile cache, else compile with bcc (and fill the cache); load and attach with netdrop's own
        loader (kernel/tpbtf.py: bcc cannot attach tp_btf)."""
        from ..kernel.tpbtf import TpBtfProgram
        t0 = time.monotonic()
        paths = [sources.source("drops.c"), sources.source("netdrop.h")]
        k = cache.key(paths, self.cflags())
        hit = cache.load(k)
        t0 = self._phase("compile cache lookup", t0)
        compiled = None
        if hit is not None:
            for spec in hit.maps:  # kept in self.maps as they come, so that a failure releases them
                m = Map.create(**spec)
                self.maps[m.name or str(len(self.maps))] = m
            insns = cache.patched(hit.insns, hit.relocs, [m.fd for m in self.maps.values()])
            self.from_cache = True
            t0 = self._phase("maps", t0)
        else:
            self.bpf = self._compile()
            t0 = time.monotonic()
            insns = self.bpf.dump_func(b"kfree_skb")
            maps, relocs = self._own_maps(self.bpf, insns)
            self.maps = {m.name: m for m in maps}
            insns = cache.patched(insns, relocs, [m.fd for m in maps])  # ours: bcc's fds close with its module
            compiled = cache.Compiled(insns, [m.spec() for m in maps], relocs)
            # the program holds its maps; bcc's module (and the compiler's memory it keeps) is no longer needed
            _cleanup(self.bpf)
            self.bpf = None
        prog = TpBtfProgram(self.btf, "kfree_skb", insns, "kfree_skb")
        self.prog = prog
        prog.attach()
        t0 = self._phase("load + attach", t0)
        if compiled is not None:  # only a program the kernel accepted is kept
            cache.store(k, compiled)
            self._phase("cache store", t0)

    def __enter__(self) -> "DropSession":
        if os.geteuid() != 0:
            raise PermissionDenied("loading BPF programs needs root", "run netdrop with sudo")
        problem = bpf_capability_problem()
        if problem:
            raise PermissionDenied(f"loading BPF programs is not allowed: {problem}",
                                   "run netdrop with full root capabilities (a container needs "
                                   "--cap-add BPF --cap-add PERFMON, or --privileged)")
        try:
            if self.hook == TP_BTF:
                try:
                    self._load_tp_btf()
                except (KernelError, OSError) as exc:
                    self.fallback_why = exc.message if isinstance(exc, KernelError) else str(exc)
                    self.hook = RAW_TP
                    self._release()
            if self.hook == RAW_TP:
                self.bpf = self._compile()  # bcc attaches the RAW_TRACEPOINT_PROBE when it loads it
                own, _ = self._own_maps(self.bpf, self.bpf.dump_func(b"raw_tracepoint__kfree_skb"))
                self.maps = {m.name: m for m in own}
            if self.config.event_budget:
                ev = self.maps["events"]
                self.ring = RingBuffer(ev.fd, ev.max_entries)
        except BaseException:
            self.close()
            raise
        return self

    def detach(self) -> None:
        """Stop counting and emitting, keep the maps and ring buffer readable (for exact end-of-run accounting)."""
        if self.prog is not None:
            self.prog.detach()
        if self.bpf is not None and b"kfree_skb" in self.bpf.raw_tracepoint_fds:
            self.bpf.detach_raw_tracepoint(b"kfree_skb")

    def _release(self) -> None:
        if self.prog is not None:
            self.prog.close()
            self.prog = None
        if self.ring is not None:
            self.ring.close()
            self.ring = None
        for m in self.maps.values():
            m.close()
        self.maps = {}
        if self.bpf is not None:
            _cleanup(self.bpf)
            self.bpf = None

    def close(self) -> None:
        self._release()
        super().close()

    # -- reading ------------------------------------------------------------------------------------------------------

    def _state(self) -> List[tuple]:
        return [ND_STATE.unpack_from(v) for v in self.maps["state"].per_cpu(_ZERO)]

    def read_counts(self) -> List[Tuple[bytes, int]]:
        """[(raw drop_key, count summed over CPUs)]: the counts hash plus every CPU's pending slot (drops.c
        counts a run of drops with the same key in the slot and moves it into the hash when the key changes).

        A snapshot is kept when no CPU moved a slot while the hash was read (each CPU's `seq` unchanged and even);
        under a flood that changes keys on every drop, the last of READ_ATTEMPTS is kept and may be off by one
        slot for that moment. Once detached (end of run) every snapshot is exact. No last-seen time is kept in the
        kernel (a bpf_ktime_get_ns() per drop): callers derive "last seen" from count changes."""
        table = self.maps["counts"]
        seq = STATE_SEQ
        for _ in range(READ_ATTEMPTS):
            before = self._state()
            counts: Dict[bytes, int] = {k: sum(_U64.unpack_from(v)[0] for v in per_cpu)
                                        for k, per_cpu in table.items_per_cpu()}
            after = self._state()
            if all(a[seq] == b[seq] and not a[seq] % 2 for a, b in zip(before, after)):
                break
        pending, last = STATE_PENDING, STATE_LAST
        for cpu in after:
            if cpu[pending]:
                counts[cpu[last]] = counts.get(cpu[last], 0) + cpu[pending]
        self._counted = sum(counts.values())
        return list(counts.items())

    def read_stats(self) -> Dict[str, int]:
        """Event and loss counters. "counted" (drops that passed the filters) is the counts map's total plus the
        drops the full map could not take."""
        self.read_counts()
        first = STATE_STAT
        per_cpu = self._state()
        out = {name: sum(cpu[first + i] for cpu in per_cpu) for i, name in enumerate(STATS)}
        out["counted"] = self._counted + out["map_full"]
        return out

    def drain(self, max_events: int = 0) -> List[bytes]:
        """Consume what the ring buffer holds now (no wakeups are used: call this on a timer). Also opens a new
        event-budget window every BUDGET_TICK_MS (see drops.c): events flow only while somebody drains."""
        if self.ring is None:
            return []
        now = time.monotonic()
        if now - self._tick_at >= BUDGET_TICK_MS / 1000:
            self._tick_at = now
            self._gen += 1
            self.maps["tick"].update(_ZERO, _U64.pack(self._gen))
        return self.ring.drain(max_events)

    def stack(self, stack_id: int) -> List[int]:
        if stack_id < 0 or not self.config.with_stack:
            return []
        raw = self.maps["stacks"].lookup(struct.pack("<i", stack_id))
        if raw is None:
            return []
        ips = struct.unpack(f"<{len(raw) // 8}Q", raw)
        return [ip for ip in ips if ip]


class ClassifySession(_Loaded):
    """bpf/classify.c on eth_type_trans (return) and ip_rcv_core (entry), where the kernel lets them attach:
    fentry/fexit first, else kprobes, else nothing. Never raises for a hook that cannot attach: `hooks` says why.
    These fire per received packet: open them only for a diagnosis window."""

    def __init__(self, kernel_macros: Dict[str, int], ip_rcv_core_sym: Optional[str], btf_has_ip_rcv_core: bool,
                 prefer: str = "auto", debug: bool = False, trampoline: Tuple[bool, str] = (True, "")):
        self.macros = kernel_macros
        self.ip_sym = ip_rcv_core_sym
        self.btf_ip = btf_has_ip_rcv_core
        self.prefer = prefer  # auto | fentry | kprobe | none
        self.trampoline = trampoline  # (fentry can attach, why not): asked cheaply before a ~0.3 s compile
        self.debug = debug
        self.bpf = None
        self.mode = "none"
        self.hooks: List[Dict[str, object]] = []
        self.headers: Optional[HeaderTree] = None

    def _compile(self, bcc, mode: str):
        flags = ["-I" + sources.bpf_dir(), "-Wno-unused-function", "-Wno-macro-redefined"]
        flags += [f"-D{k}={v}" for k, v in sorted(self.macros.items())]
        flags += [f"-DHOOK_{mode.upper()}=1", f"-DIP_RCV_CORE={'ip_rcv_core' if mode == 'fentry' else 'x'}"]
        with _Quiet(not self.debug):
            return bcc.BPF(src_file=sources.source("classify.c").encode(), cflags=flags)

    def _possible(self, why: Dict[str, str]) -> List[str]:
        """The modes worth a compile, in order; the others get their reason in `why` (cheap checks first)."""
        out = []
        for mode in (["fentry", "kprobe"] if self.prefer == "auto" else [self.prefer]):
            if mode == "fentry" and not self.trampoline[0]:
                why[mode] = self.trampoline[1]
            elif mode == "kprobe" and not kprobes_available():
                why[mode] = "kprobes are not available on this kernel (CONFIG_KPROBES off)"
            elif mode != "none":
                out.append(mode)
        return out

    def __enter__(self) -> "ClassifySession":
        why = {"fentry": "", "kprobe": ""}
        modes = self._possible(why)
        if modes:
            bcc = _import_bcc()
            self.headers = find_headers()
        with kernel_source(self.headers) if modes else nullcontext():
            for mode in modes:
                try:
                    why[mode] = self._attach(bcc, mode)
                except Exception as exc:  # bcc raises bare Exception on load/attach failures
                    text = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
                    if "super-user" in text:  # bcc's wording for EPERM
                        text = "the kernel refused the program (EPERM: no BPF trampoline here, or lockdown)"
                    why[mode] = text
                    if self.bpf is not None:
                        _cleanup(self.bpf)
                        self.bpf = None
                    self.hooks = []
                    continue
                if self.hooks:
                    self.mode = mode
                    break
        if self.mode == "none" and self.prefer in ("fentry", "kprobe"):  # asked for by name: not a quiet fallback
            self.close()
            raise KernelError(f"--classify {self.prefer}: the hooks cannot attach here: {why[self.prefer]}",
                              "use --classify auto (the kfree_skb evidence stands without them); "
                              "`netdrop check` lists what this kernel allows")
        if self.mode == "none":
            reason = "; ".join(f"{m}: {w}" for m, w in why.items() if w) or "disabled (--classify none)"
            # the fentry probe is made on eth_type_trans; for ip_rcv_core's row that is said as what it is
            ip_reason = reason.replace("a fentry program on eth_type_trans",
                                       "fentry programs (probed on eth_type_trans)")
            self.hooks = [{"name": "eth_type_trans (return)", "type": "none", "attached": False, "why": reason},
                          {"name": "ip_rcv_core (entry)", "type": "none", "attached": False, "why": ip_reason}]
        return self

    def _attach(self, bcc, mode: str) -> str:
        if mode == "fentry":
            self.bpf = self._compile(bcc, "fentry")  # bcc attaches kfunc__/kretfunc__ programs when it loads them
            if not self.btf_ip:
                return "ip_rcv_core has no BTF entry on this kernel"
            self.hooks = [{"name": "eth_type_trans (return)", "type": "fexit", "attached": True},
                          {"name": "ip_rcv_core (entry)", "type": "fentry", "attached": True}]
            return ""
        self.bpf = self._compile(bcc, "kprobe")
        self.bpf.attach_kprobe(event=b"eth_type_trans", fn_name=b"eth_entry")
        self.bpf.attach_kretprobe(event=b"eth_type_trans", fn_name=b"eth_return")
        self.hooks = [{"name": "eth_type_trans (return)", "type": "kretprobe", "attached": True}]
        if self.ip_sym:
            self.bpf.attach_kprobe(event=self.ip_sym.encode(), fn_name=b"iprcv_entry")
            self.hooks.append({"name": "ip_rcv_core (entry)", "type": "kprobe", "attached": True,
                               "symbol": self.ip_sym})
        else:
            self.hooks.append({"name": "ip_rcv_core (entry)", "type": "kprobe", "attached": False,
                               "why": "ip_rcv_core is not in kallsyms (inlined into ip_rcv on this build)"})
        return ""

    def read(self) -> List[Tuple[bytes, int]]:
        """[(raw class_key, count summed over CPUs)]"""
        if self.bpf is None:
            return []
        return [(bytes(k), sum(v)) for k, v in self.bpf["classified"].items()]


def _cleanup(bpf) -> None:
    """Workaround (bcc 0.18, Debian 11): detaching a kprobe writes to /sys/kernel/debug/tracing/kprobe_events and
    raises when debugfs is not mounted, although the probe, created through the perf PMU, goes away with its file
    descriptor anyway. Detach what can be detached; never let bcc's cleanup turn a finished run into a traceback."""
    try:
        bpf.cleanup()
    except Exception:  # noqa: BLE001 -- the fds close with the BPF object / the process
        pass
    import atexit
    atexit.unregister(bpf.cleanup)


_U64 = struct.Struct("<Q")
