"""The namespace registry's cost: one full scan (ip netns, mountinfo, every /proc/<pid>/ns/net, labels) with N extra
processes running. Usage: python3 bench/registry.py [N ...] (default 1000 3000). Starts and ends its own sleepers."""
import os
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from netdrop.net.namespaces import measure  # noqa: E402


def main(counts):
    for n in counts:
        procs = [subprocess.Popen(["sleep", "600"], stdin=subprocess.DEVNULL) for _ in range(n)]
        try:
            total, seconds = measure(5)
            print(f"{total} processes: {seconds * 1000:.1f} ms per scan")
        finally:
            for p in procs:
                p.kill()
            for p in procs:
                p.wait()


if __name__ == "__main__":
    main([int(a) for a in sys.argv[1:]] or [1000, 3000])
