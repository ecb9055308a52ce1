"""A real container engine: podman (Debian's, rootful, runc) runs a busybox container made offline; a wrong static
neighbour entry on the host for the container's address gives OTHERHOST drops in the container's namespace when the
host sends to it. The finding names the container, counts exactly, and its fix runs and stops the drops.
Everything made here (container, image, neighbour entry, the engine's host changes) is removed, even on failure."""
import json
import os
import re
import shlex
import shutil
import socket
import subprocess
import tempfile

import pytest

from netdrop import lab as L
from netdrop.net.links import HostFacts
from netdrop.net.namespaces import Registry

from ..conftest import counter, diagnose_report
from .hoststate import HostState

NAME = L.PREFIX + "web"
IMAGE = f"localhost/{L.PREFIX}bb:1"
RUN = ["--runtime", "runc", "--ulimit", "nofile=4096:4096", "--ulimit", "nproc=1024:1024"]
BRIDGE = "podman0"


def podman(*args, check=True):
    return subprocess.run(["podman", *args], capture_output=True, text=True, check=check)


def import_image(engine, image):
    """An image from Debian's busybox-static, no registry needed: `tar | ENGINE import - IMAGE`."""
    with tempfile.TemporaryDirectory(prefix=L.PREFIX) as d:
        os.mkdir(os.path.join(d, "bin"))
        shutil.copy("/bin/busybox", os.path.join(d, "bin", "busybox"))
        os.symlink("busybox", os.path.join(d, "bin", "sleep"))
        tar = subprocess.Popen(["tar", "-C", d, "-c", "."], stdout=subprocess.PIPE)
        subprocess.run([engine, "import", "-", image], stdin=tar.stdout, check=True, capture_output=True)
        tar.wait()


@pytest.fixture
def container():
    for tool in ("podman", "runc", "/bin/busybox"):
        assert shutil.which(tool) or os.path.exists(tool), f"{tool} missing: run `make test-containers`"
    state = HostState.now()
    made = {}
    try:
        import_image("podman", IMAGE)
        podman("run", "-d", "--name", NAME, *RUN, IMAGE, "/bin/sleep", "3600")
        info = json.loads(podman("inspect", NAME).stdout)[0]
        made["ip"] = info["NetworkSettings"]["IPAddress"]
        yield {"id": info["Id"], "pid": info["State"]["Pid"], "ip": made["ip"],
               "mac": info["NetworkSettings"]["MacAddress"]}
    finally:
        if made.get("ip"):
            subprocess.run(["ip", "neigh", "del", made["ip"], "dev", BRIDGE], capture_output=True)
        podman("rm", "-f", "-t", "0", NAME, check=False)
        podman("rmi", "-f", IMAGE, check=False)
        state.restore()
        assert not state.differences(), state.differences()


def send_udp(ip, n):
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        for i in range(n):
            s.sendto(b"netdrop %d" % i, (ip, L.UDP_PORT))


def eth0(inode):
    return [i for i in HostFacts.collect(Registry(), only=[inode]).interfaces if i.name == "eth0"][0]


def test_wrong_mac_in_a_podman_container(container, background):
    c = container
    subprocess.run(["ip", "neigh", "replace", c["ip"], "lladdr", L.WRONG_MAC, "dev", BRIDGE, "nud", "permanent"],
                   check=True)
    report = diagnose_report(background, lambda: send_udp(c["ip"], 5), "--netns", NAME, duration="2")
    found = [f for f in report["findings"] if f["cause"] == "mac-mismatch"]
    assert len(found) == 1, report["findings"]
    f = found[0]
    assert f["netns"] == f"{NAME} (podman {c['id'][:12]})"
    assert f["container"] == {"engine": "podman", "id": c["id"], "name": NAME}
    assert f["netns_holder"]["pid"] == c["pid"]
    assert f["netns_id"] == int(os.readlink(f"/proc/{c['pid']}/ns/net")[5:-1])
    assert (f["interface"], f["expected_mac"], f["ip"]) == ("eth0", c["mac"], c["ip"])
    assert f["address_role"] == "primary"
    assert f["count"] == 5 and f.get("counter_delta") == counter(5)
    assert "None" not in json.dumps(f) and "null" not in json.dumps(f)
    print("finding:", f["title"], "|", [e for e in f["evidence"] if "held by" in e])
    # the fix, as printed, then the same traffic: delivered, and no OTHERHOST drop any more
    fix_runs_and_delivers(f, c, BRIDGE)


def fix_runs_and_delivers(f, c, bridge):
    """The finding's fix, run as printed; then the same traffic is delivered, with no OTHERHOST drop any more."""
    cmd = [x for x in re.findall(r"`([^`]+)`", f["fix"]) if "neigh replace" in x]
    assert cmd == [f"ip neigh replace {c['ip']} lladdr {c['mac']} dev {bridge} nud permanent"]
    subprocess.run(shlex.split(cmd[0]), check=True)
    before = eth0(f["netns_id"])
    send_udp(c["ip"], 4)
    after = eth0(f["netns_id"])
    assert after.rx_packets - before.rx_packets >= 4
    if after.rx_otherhost_dropped is not None:
        assert after.rx_otherhost_dropped == before.rx_otherhost_dropped


def test_export_labels_a_podman_containers_drops_with_its_name(container, background, tmp_path):
    """`netdrop export` on a container's namespace: the series carry the container's label, counts exact."""
    import time

    from prometheus_client.parser import text_string_to_metric_families
    c = container
    subprocess.run(["ip", "neigh", "replace", c["ip"], "lladdr", L.WRONG_MAC, "dev", BRIDGE, "nud", "permanent"],
                   check=True)
    out = tmp_path / "netdrop.prom"
    bg = background("export", "--textfile", out, "--interval", "0.5", "--netns", NAME)
    bg.wait_ready()
    send_udp(c["ip"], 5)
    label = f"{NAME} (podman {c['id'][:12]})"
    want = {("otherhost", label, "eth0", c["ip"], L.WRONG_MAC, c["mac"]): 5.0,
            ("finding", "mac-mismatch", label, "eth0", c["ip"]): 1.0}
    got = {}
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and got != want:
        got = {}
        for fam in text_string_to_metric_families(out.read_text() if out.exists() else ""):
            for s in fam.samples:
                lb = s.labels
                if s.name == "netdrop_otherhost_drops_total":
                    got[("otherhost", lb["netns"], lb["interface"], lb["ip"], lb["seen_mac"],
                         lb["expected_mac"])] = s.value
                elif s.name == "netdrop_finding" and lb["cause"] == "mac-mismatch":
                    got[("finding", lb["cause"], lb["netns"], lb["interface"], lb["ip"])] = s.value
        time.sleep(0.2)
    bg.proc.terminate()
    rc, _, err = bg.finish()
    assert got == want
    assert rc == 0, err
    assert not out.exists()
