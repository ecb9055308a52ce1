"""A fix for a namespace netdrop could name only by its inode (no `ip netns` name, no holder it could see: e.g. it
ran without CAP_SYS_PTRACE) still runs as printed: the shell finds a process in it when the fix runs."""
import os
import subprocess

from netdrop.diagnose.text import ip_cmd
from netdrop.net.namespaces import NsLabel


def test_a_namespace_known_only_by_inode_gets_a_runnable_command():
    ino = os.stat("/proc/self/ns/net").st_ino  # read-only: `ip link show lo` in this very namespace
    cmd = ip_cmd(NsLabel(f"netns:{ino}", inode=ino)) + " -br link show lo"
    assert "netns:" not in cmd
    r = subprocess.run(cmd, shell=True, capture_output=True, text=True)
    assert r.returncode == 0 and r.stdout.startswith("lo "), (cmd, r.stderr)
