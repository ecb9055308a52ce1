"""The kfunc placeholder rewrite (bcc cannot declare kfuncs): only placeholder helper calls change."""
from netdrop.kernel import tpbtf


class FakeBTF:
    """Stands in for the kernel's BTF lookup only (ids by name); the rewrite itself is what is tested."""

    def find(self, kind, name):
        return {"bpf_rdonly_cast": 4242}.get(name)


def call(imm: int, src: int = 0) -> bytes:
    return bytes([tpbtf.CALL, src << 4, 0, 0]) + imm.to_bytes(4, "little")


def test_placeholder_calls_become_kfunc_calls_and_helpers_stay():
    _, placeholder = tpbtf.KFUNCS["bpf_rdonly_cast"]
    insns = call(1) + call(placeholder) + bytes([0xB7, 0, 0, 0]) + placeholder.to_bytes(4, "little")
    out = tpbtf.kfunc_calls(insns, FakeBTF())
    assert out[0:8] == call(1)  # bpf_map_lookup_elem stays a helper call
    assert out[8:16] == call(4242, tpbtf.PSEUDO_KFUNC_CALL)
    assert out[16:24] == insns[16:24]  # a mov of the same number is not a call


def test_macros_only_for_kfuncs_the_kernel_has():
    assert tpbtf.kfunc_macros(FakeBTF()) == {"KFUNC_RDONLY_CAST": tpbtf.KFUNCS["bpf_rdonly_cast"][1]}

    class NoKfuncs:
        def find(self, kind, name):
            return None
    assert tpbtf.kfunc_macros(NoKfuncs()) == {}
