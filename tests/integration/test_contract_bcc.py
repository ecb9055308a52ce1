"""The BPF <-> Python contract as bcc itself compiled it: the ctypes types bcc generates for the maps' keys and
values (from the C it compiled, with the real compiler's layout) against netdrop/bpf/layout.py's descriptions."""
import ctypes

from netdrop.bpf import layout
from netdrop.bpf.offsets import ProbeConfig
from netdrop.collect import Collector
from netdrop.kernel.features import KernelInfo


def fields_of(ctype) -> dict:
    """{name: (offset, size)} of a bcc-generated ctypes struct (without the __pad_N fields bcc adds for C's
    padding: layout.py leaves padding implicit, and the offsets say where it is)."""
    return {name: (getattr(ctype, name).offset, getattr(ctype, name).size) for name, *_ in ctype._fields_
            if not name.startswith("__pad")}


def test_bcc_compiled_records_match_the_python_layout(monkeypatch):
    monkeypatch.setenv("NETDROP_KFREE_HOOK", "raw_tracepoint")  # bcc loads it, so its tables stay open to inspect
    with Collector(KernelInfo.load(), ProbeConfig(event_budget=10)) as col:
        bpf = col.session.bpf
        key, state = bpf[b"counts"].Key, bpf[b"state"].Leaf._type_  # per-CPU: bcc's Leaf is one per CPU
        assert fields_of(key) == layout.layout(layout.DROP_KEY_FIELDS)[1]
        assert ctypes.sizeof(key) == layout.DROP_KEY.size
        want = layout.layout(layout.ND_STATE_FIELDS)[1]
        assert fields_of(state) == want
        assert ctypes.sizeof(state) == layout.ND_STATE.size
