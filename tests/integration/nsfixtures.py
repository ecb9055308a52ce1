"""Namespaces the tests make outside /run/netns, and always remove: one held only by a process (`unshare -n` and a
sleeping holder), one held only by a bind mount under a test-made directory (the holder gone). Names carry the lab
prefix so parallel runs never touch each other's."""
import os
import subprocess
import time

from netdrop import lab as L


def _inode(path):
    return int(os.readlink(path)[5:-1]) if path.startswith("/proc/") else os.stat(path).st_ino


class Held:
    """A namespace held by a sleeping process: its pid, its inode, and the process to end."""

    def __init__(self):
        own = _inode("/proc/self/ns/net")
        self.proc = subprocess.Popen(["unshare", "-n", "sleep", "3600"], stdin=subprocess.DEVNULL)
        self.pid = self.proc.pid
        deadline = time.monotonic() + 10
        while True:  # unshare has entered its namespace once the link changes (a state, not a guessed delay)
            try:
                if _inode(f"/proc/{self.pid}/ns/net") != own:
                    break
            except OSError:
                pass
            assert time.monotonic() < deadline, "unshare -n did not start"
            time.sleep(0.005)
        self.inode = _inode(f"/proc/{self.pid}/ns/net")
        self.path = f"/proc/{self.pid}/ns/net"

    def end(self):
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()


class Mounted:
    """A namespace bind-mounted at DIR/name and held by nothing else (its creator has exited)."""

    def __init__(self, directory, name):
        held = Held()
        os.makedirs(directory, exist_ok=True)
        self.path = os.path.join(directory, name)
        open(self.path, "w").close()
        try:
            subprocess.run(["mount", "--bind", held.path, self.path], check=True, capture_output=True)
        finally:
            held.end()
        self.inode = os.stat(self.path).st_ino
        assert self.inode == held.inode

    def end(self):
        subprocess.run(["umount", self.path], capture_output=True)
        os.unlink(self.path)


class Spaces:
    """Everything one test made; `close()` removes it all (called by the fixture, whatever happened)."""

    def __init__(self, tmp_path):
        self.tmp_path = tmp_path
        self.made = []

    def held(self):
        h = Held()
        self.made.append(h)
        return h

    def mounted(self, name):
        m = Mounted(str(self.tmp_path / (L.PREFIX + "netns")), L.PREFIX + name)
        self.made.append(m)
        return m

    def close(self):
        for x in reversed(self.made):
            x.end()
