"""Missing pieces of the host become one-line errors with hints and documented exit codes."""
import os
import subprocess
import sys

import pytest

from netdrop.errors import EXIT_KERNEL, KernelError
from netdrop.kernel.btf import BTF
from netdrop.kernel.headers import find_headers, overlay


def test_no_btf(tmp_path):
    with pytest.raises(KernelError) as e:
        BTF.load(str(tmp_path / "vmlinux"))
    assert e.value.exit_code == EXIT_KERNEL and "CONFIG_DEBUG_INFO_BTF" in e.value.hint


def test_no_headers(tmp_path):
    with pytest.raises(KernelError) as e:
        find_headers(str(tmp_path))
    assert "linux-headers-" in e.value.hint


def _tree(root, files):
    for f in files:
        p = root / f
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(f)


def test_split_debian_tree_is_overlaid(tmp_path):
    """A Debian-style split tree (arch part + common part) becomes one tree of symlinks; the arch part wins."""
    common, arch, mods = tmp_path / "common", tmp_path / "amd64", tmp_path / "modules" / "9.9.9-1-amd64"
    _tree(common, ["include/linux/kconfig.h", "include/linux/skbuff.h", "arch/x86/include/asm/ptrace.h",
                   "Makefile"])
    _tree(arch, ["include/generated/autoconf.h", "arch/x86/include/generated/asm/foo.h", "Makefile"])
    mods.mkdir(parents=True)
    os.symlink(arch, mods / "build")
    os.symlink(common, mods / "source")
    tree = find_headers(str(tmp_path / "modules"))
    try:
        assert not tree.exact and tree.kernel == "9.9.9-1-amd64"
        for f in ("include/linux/kconfig.h", "include/generated/autoconf.h", "arch/x86/include/asm/ptrace.h",
                  "arch/x86/include/generated/asm/foo.h"):
            assert os.path.exists(os.path.join(tree.path, f)), f
        with open(os.path.join(tree.path, "Makefile")) as f:
            assert f.read() == "Makefile" and os.path.realpath(os.path.join(tree.path, "Makefile")).startswith(
                str(arch))
    finally:
        tmp = tree.temporary
        tree.cleanup()
    assert not os.path.exists(tmp)


def test_overlay_upper_wins(tmp_path):
    a, b, d = tmp_path / "a", tmp_path / "b", tmp_path / "d"
    _tree(a, ["x/1", "x/2"])
    _tree(b, ["x/2", "y"])
    d.mkdir()
    overlay(str(d), str(a), str(b))
    assert os.path.realpath(d / "x" / "2") == str(b / "x" / "2")
    assert sorted(os.listdir(d / "x")) == ["1", "2"] and (d / "y").exists()


def test_bcc_missing_is_an_error_not_a_traceback():
    code = ("import sys; sys.modules['bcc'] = None\n"
            "from netdrop.bpf.session import DropSession, _import_bcc\n"
            "from netdrop.cli import _fail\n"
            "from netdrop.render.text import console\n"
            "try:\n    _import_bcc()\nexcept Exception as e:\n    _fail(console(stderr=True), e.message, e.hint, "
            "e.exit_code)\n")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert r.returncode == EXIT_KERNEL
    assert r.stderr.splitlines() == ["error: bcc's Python module is not installed",
                                     "hint: apt-get install python3-bpfcc (not the unrelated PyPI package named bcc)"]
