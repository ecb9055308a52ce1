"""Put the host (the initial network namespace) in the state of a host that runs containers, and back exactly.

Hosts running docker, podman or Kubernetes forward IPv4 and often filter reverse paths; new namespaces inherit
IPv4's conf/all and conf/default from the host. The tests and CI run netdrop's lab that way too, to prove the lab
does not depend on the host's values. Writing ip_forward also rewrites other keys (every interface's forwarding,
conf/all/accept_redirects), so the whole net.ipv4.conf tree is saved first and every changed key is put back.

Usage (root): python3 tests/hostsysctl.py forwarding STATE_FILE | restore STATE_FILE
"""
from __future__ import annotations

import glob
import json
import os
import sys
from contextlib import contextmanager
from typing import Dict, Iterator

CONTAINER_HOST = {"net/ipv4/ip_forward": "1", "net/ipv4/conf/all/rp_filter": "1",
                  "net/ipv4/conf/default/rp_filter": "1"}


def snapshot() -> Dict[str, str]:
    """Every writable key of the host's IPv4 conf tree plus ip_forward."""
    out = {}
    for path in ["/proc/sys/net/ipv4/ip_forward"] + sorted(glob.glob("/proc/sys/net/ipv4/conf/*/*")):
        if not os.access(path, os.W_OK):
            continue
        try:
            with open(path) as f:
                out[path[len("/proc/sys/"):]] = f.read().strip()
        except OSError:  # an interface that vanished meanwhile, or a key that cannot be read
            continue
    return out


def write(values: Dict[str, str]) -> None:
    for key, value in values.items():
        try:
            with open("/proc/sys/" + key, "w") as f:
                f.write(value)
        except FileNotFoundError:  # an interface that is gone
            continue


def restore(saved: Dict[str, str]) -> Dict[str, str]:
    """Write back what differs (ip_forward first: it rewrites the others); returns what still differs."""
    first = {k: v for k, v in saved.items() if k == "net/ipv4/ip_forward"}
    write(first)
    now = snapshot()
    write({k: v for k, v in saved.items() if k in now and now[k] != v})
    now = snapshot()
    return {k: now[k] for k in saved if k in now and now[k] != saved[k]}


@contextmanager
def container_host() -> Iterator[None]:
    """The host forwards and filters reverse paths for the block; exactly as before afterwards, even on failure."""
    saved = snapshot()
    try:
        write(CONTAINER_HOST)
        yield
    finally:
        left = restore(saved)
        assert not left, f"host sysctls not restored: {left}"


def main(argv) -> int:
    if len(argv) != 3 or argv[1] not in ("forwarding", "restore"):
        print("usage: hostsysctl.py forwarding|restore STATE_FILE", file=sys.stderr)
        return 2
    state = argv[2]
    if argv[1] == "forwarding":
        with open(state, "w") as f:
            json.dump(snapshot(), f)
        write(CONTAINER_HOST)
        return 0
    with open(state) as f:
        left = restore(json.load(f))
    os.unlink(state)
    if left:
        print(f"host sysctls not restored: {left}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
