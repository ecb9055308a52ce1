"""Can this kernel attach fentry/fexit programs? Asked the only reliable way: load and attach a two-instruction
tracing program on a function's BTF id with the bpf() syscall, then close it at once (nothing stays attached).

BTF for a function is not enough: a kernel may have BTF yet no BPF trampoline for the architecture, or refuse
tracing programs (lockdown), as this project's development VM does. No bcc and no compiler are needed.
"""
from __future__ import annotations

import ctypes
import errno
import os
import platform
import struct
from typing import Tuple

from .btf import BTF, FUNC

_SYS_BPF = {"x86_64": 321, "aarch64": 280}
BPF_PROG_LOAD = 5
BPF_RAW_TRACEPOINT_OPEN = 17
BPF_PROG_TYPE_TRACING = 26
BPF_TRACE_FENTRY = 24
# r0 = 0; exit
_INSNS = struct.pack("<BBhi", 0xB7, 0, 0, 0) + struct.pack("<BBhi", 0x95, 0, 0, 0)


def _bpf(libc, cmd: int, attr: bytearray) -> Tuple[int, int]:
    buf = (ctypes.c_char * len(attr)).from_buffer(attr)
    fd = libc.syscall(_SYS_BPF[platform.machine()], cmd, buf, len(attr))
    return fd, ctypes.get_errno()


def probe_fentry(btf: BTF, func: str = "eth_type_trans") -> Tuple[bool, str]:
    """(attachable, detail). Never raises."""
    if platform.machine() not in _SYS_BPF:
        return False, f"not probed on {platform.machine()}"
    tid = btf.find(FUNC, func)
    if tid is None:
        return False, f"no BTF for {func}"
    libc = ctypes.CDLL(None, use_errno=True)
    insns = ctypes.create_string_buffer(_INSNS, len(_INSNS))
    lic = ctypes.create_string_buffer(b"GPL")
    attr = bytearray(128)
    struct.pack_into("<IIQQ", attr, 0, BPF_PROG_TYPE_TRACING, 2, ctypes.addressof(insns), ctypes.addressof(lic))
    struct.pack_into("<I", attr, 68, BPF_TRACE_FENTRY)  # expected_attach_type
    struct.pack_into("<I", attr, 108, tid)  # attach_btf_id
    prog, err = _bpf(libc, BPF_PROG_LOAD, attr)
    if prog < 0:
        return False, f"the kernel refused a fentry program on {func} ({errno.errorcode.get(err, err)})"
    try:
        attr = bytearray(16)
        struct.pack_into("<QI", attr, 0, 0, prog)  # name = NULL: attach at the program's BTF target
        link, err = _bpf(libc, BPF_RAW_TRACEPOINT_OPEN, attr)
        if link < 0:
            return False, f"a fentry program on {func} loaded but did not attach ({errno.errorcode.get(err, err)})"
        os.close(link)
        return True, f"a fentry program on {func} loaded and attached (then detached)"
    finally:
        os.close(prog)
