"""The bpf() system call, for the few programs netdrop loads itself (no bcc, no compiler): the fentry probe
(trampoline.py) and the tp_btf kfree_skb program (tpbtf.py). Only the attribute fields those need are packed."""
from __future__ import annotations

import ctypes
import errno
import os
import platform
import struct
from typing import Tuple

SYS_BPF = {"x86_64": 321, "aarch64": 280}
BPF_PROG_LOAD = 5
BPF_RAW_TRACEPOINT_OPEN = 17
BPF_PROG_TYPE_TRACING = 26
BPF_TRACE_RAW_TP = 23
BPF_TRACE_FENTRY = 24
# r0 = 0; exit
RETURN_0 = struct.pack("<BBhi", 0xB7, 0, 0, 0) + struct.pack("<BBhi", 0x95, 0, 0, 0)

_libc = None


def supported() -> bool:
    return platform.machine() in SYS_BPF


def bpf(cmd: int, attr: bytearray) -> Tuple[int, int]:
    """(result, errno) of bpf(cmd, attr)."""
    global _libc
    if _libc is None:
        _libc = ctypes.CDLL(None, use_errno=True)
    buf = (ctypes.c_char * len(attr)).from_buffer(attr)
    res = _libc.syscall(SYS_BPF[platform.machine()], cmd, buf, len(attr))
    return res, ctypes.get_errno()


def errname(err: int) -> str:
    return errno.errorcode.get(err, str(err))


def load_tracing(insns: bytes, attach_type: int, btf_id: int, name: bytes = b"",
                 log_size: int = 0) -> Tuple[int, int, str]:
    """BPF_PROG_LOAD of a BPF_PROG_TYPE_TRACING program (license GPL) at BTF type `btf_id`: (fd, errno, verifier
    log). With log_size > 0 the verifier's log is asked for (only worth it after a failure)."""
    code = ctypes.create_string_buffer(insns, len(insns))
    lic = ctypes.create_string_buffer(b"GPL")
    log = ctypes.create_string_buffer(log_size) if log_size else None
    attr = bytearray(128)
    struct.pack_into("<IIQQ", attr, 0, BPF_PROG_TYPE_TRACING, len(insns) // 8, ctypes.addressof(code),
                     ctypes.addressof(lic))
    if log is not None:
        struct.pack_into("<IIQ", attr, 24, 1, log_size, ctypes.addressof(log))
    attr[48:48 + min(15, len(name))] = name[:15]  # prog_name: what bpftool shows
    struct.pack_into("<I", attr, 68, attach_type)  # expected_attach_type
    struct.pack_into("<I", attr, 108, btf_id)  # attach_btf_id
    fd, err = bpf(BPF_PROG_LOAD, attr)
    text = log.value.decode(errors="replace") if log is not None else ""
    return fd, (err if fd < 0 else 0), text


def attach_at_btf_target(prog_fd: int) -> Tuple[int, int]:
    """BPF_RAW_TRACEPOINT_OPEN with name NULL: attach a tracing program where its attach_btf_id points. The
    returned link fd is the attachment: closing it (or the process ending, however) detaches."""
    attr = bytearray(16)
    struct.pack_into("<QI", attr, 0, 0, prog_fd)
    fd, err = bpf(BPF_RAW_TRACEPOINT_OPEN, attr)
    return fd, (err if fd < 0 else 0)


BPF_ENABLE_STATS = 32
BPF_STATS_RUN_TIME = 0


def probe_attach(attach_type: int, btf_id: int, what: str) -> Tuple[bool, str]:
    """(attachable, detail): a two-instruction tracing program of `attach_type` at BTF id `btf_id` is loaded,
    attached and closed at once; `what` names it in the detail ("a fentry program on eth_type_trans")."""
    prog, err, _ = load_tracing(RETURN_0, attach_type, btf_id)
    if prog < 0:
        return False, f"the kernel refused {what} ({errname(err)})"
    try:
        link, err = attach_at_btf_target(prog)
        if link < 0:
            return False, f"{what} loaded but did not attach ({errname(err)})"
        os.close(link)
        return True, f"{what} loaded and attached (then detached)"
    finally:
        os.close(prog)


def enable_run_time_stats() -> int:
    """An fd that keeps the kernel's per-program run_time_ns/run_cnt accounting on while it is open (the same as
    sysctl kernel.bpf_stats_enabled=1, but reference-counted: closing it, or the process ending, restores the
    host's setting, and other users of the statistics are not disturbed). -1 if the kernel refuses."""
    attr = bytearray(8)
    struct.pack_into("<I", attr, 0, BPF_STATS_RUN_TIME)
    fd, _ = bpf(BPF_ENABLE_STATS, attr)
    return fd


BPF_MAP_CREATE = 0
BPF_MAP_LOOKUP_ELEM = 1
BPF_MAP_UPDATE_ELEM = 2
BPF_MAP_GET_NEXT_KEY = 4
BPF_OBJ_GET_INFO_BY_FD = 15


def map_create(map_type: int, key_size: int, value_size: int, max_entries: int, flags: int,
               name: bytes) -> Tuple[int, int]:
    attr = bytearray(72)
    struct.pack_into("<IIIII", attr, 0, map_type, key_size, value_size, max_entries, flags)
    attr[28:28 + min(15, len(name))] = name[:15]
    fd, err = bpf(BPF_MAP_CREATE, attr)
    return fd, (err if fd < 0 else 0)


def map_info(fd: int) -> Tuple[int, int, int, int, int, bytes]:
    """(type, key_size, value_size, max_entries, flags, name) of a map fd."""
    info = ctypes.create_string_buffer(88)
    attr = bytearray(16)
    struct.pack_into("<IIQ", attr, 0, fd, len(info), ctypes.addressof(info))
    res, err = bpf(BPF_OBJ_GET_INFO_BY_FD, attr)
    if res < 0:
        raise OSError(err, f"BPF_OBJ_GET_INFO_BY_FD: {errname(err)}")
    mtype, _, key, value, entries, flags = struct.unpack_from("<IIIIII", info.raw, 0)
    return mtype, key, value, entries, flags, info.raw[24:40].rstrip(b"\0")
