"""The namespace registry's pure parts on recorded files: mountinfo nsfs lines, cgroup paths of docker, podman,
containerd/CRI-O and kubelet, the engines' state files, labels, --netns resolution and the fix commands."""
import os
import struct

import pytest

from netdrop.diagnose.text import exec_prefix, ip_cmd
from netdrop.errors import NotFound, UsageError
from netdrop.net.namespaces import Namespace, NsLabel, Registry
from netdrop.net.runtimes import Container, RuntimeFiles, parse_cgroup, parse_mountinfo_nsfs

DATA = os.path.join(os.path.dirname(os.path.dirname(__file__)), "data", "namespaces")
DOCKER = "5c0b8e0c8f3e1a2b3c4d5e6f708192a3b4c5d6e7f8091a2b3c4d5e6f70819203"
PODMAN = "73592c5a161cf30bada7c9ae527a121c8cd1ee1f7c9430e1fccc4a5933789f75"
K8S = "9f1e2d3c4b5a69788796a5b4c3d2e1f00f1e2d3c4b5a69788796a5b4c3d2e1f0"
CRIO = "0a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8f9"
POD_UID = "8a9c1b2e-1f3d-4c5b-9a7e-6d2f0e1c3b4a"


def read(name):
    with open(os.path.join(DATA, name)) as f:
        return f.read()


def test_mountinfo_lists_network_namespace_mounts_only():
    got = parse_mountinfo_nsfs(read("mountinfo.txt"))
    assert got == [(4026532578, "/run/docker/netns/5c0b8e0c8f3e"),
                   (4026532651, "/run/netns/cni-3f0d6a1e-5b2c-7d4e-8f9a-0b1c2d3e4f5a"),
                   (4026532388, "/run/netns/netns-3240c257-8105-e818-e1c3-76390d401de6"),
                   (4026531833, "/tmp/nd13 bm/ns")]  # mnt: namespaces left out; \040 is a space


@pytest.mark.parametrize("sample,engine,cid,uid", [
    ("cgroup-podman.txt", "podman", PODMAN, ""),
    ("cgroup-docker-systemd.txt", "docker", DOCKER, ""),
    ("cgroup-docker-cgroupfs.txt", "docker", DOCKER, ""),
    ("cgroup-kubelet-containerd.txt", "containerd", K8S, POD_UID),
    ("cgroup-kubelet-cgroupfs.txt", "containerd", K8S, POD_UID),
    ("cgroup-crio.txt", "cri-o", CRIO, "11112222-3333-4444-5555-666677778888"),
])
def test_cgroup_names_engine_and_id(sample, engine, cid, uid):
    assert parse_cgroup(read(sample)) == Container(engine, cid, pod_uid=uid)


@pytest.mark.parametrize("sample", ["cgroup-host-process.txt", "cgroup-podman-conmon.txt"])
def test_cgroup_of_a_host_process_or_the_monitor_is_no_container(sample):
    assert parse_cgroup(read(sample)) is None


@pytest.mark.parametrize("sample,label", [
    ("cgroup-podman.txt", f"nd13-web (podman {PODMAN[:12]})"),
    ("cgroup-docker-systemd.txt", f"shop-db (docker {DOCKER[:12]})"),
    ("cgroup-kubelet-containerd.txt", f"default/web-7d9f5c (pod, containerd {K8S[:12]})"),
    ("cgroup-kubelet-cgroupfs.txt", f"default/web-7d9f5c (pod, containerd {K8S[:12]})"),
    ("cgroup-crio.txt", f"k8s_api_api-6c9_prod_{POD_UID}_0 (cri-o {CRIO[:12]})"),
])
def test_names_come_from_the_engines_files(sample, label):
    files = RuntimeFiles(os.path.join(DATA, "root"))
    assert files.named(parse_cgroup(read(sample))).label() == label


def test_a_container_whose_files_are_missing_keeps_its_engine_and_short_id():
    c = RuntimeFiles(os.path.join(DATA, "no-such-root")).named(parse_cgroup(read("cgroup-docker-systemd.txt")))
    assert c.label() == f"docker {DOCKER[:12]}" and c.to_dict()["name"] == DOCKER[:12]


def _registry():
    web = Container("podman", PODMAN, "web")
    api = Container("docker", DOCKER, "api")
    spaces = {
        1: Namespace(1),
        10: Namespace(10, ip_name="blue"),
        11: Namespace(11, ip_name="netns-3240c257-8105-e818-e1c3-76390d401de6", pid=500, comm="sleep", container=web),
        12: Namespace(12, mounts=["/run/docker/netns/5c0b8e0c8f3e"], pid=600, comm="nginx", container=api),
        13: Namespace(13, pid=700, comm="sleep"),
        14: Namespace(14, mounts=["/tmp/x/ns"]),
        15: Namespace(15, pid=800, comm="redis", container=Container("docker", DOCKER[:11] + "0" * 53, "cache")),
    }
    return Registry(spaces, own=1)


def test_labels_prefer_ip_netns_names_then_containers_then_processes():
    r = _registry()
    assert [str(r.name(i)) for i in range(10, 15)] == [
        "blue", f"web (podman {PODMAN[:12]})", f"api (docker {DOCKER[:12]})", "pid 700 (sleep)", "/tmp/x/ns"]
    assert r.name(1) == "host" and r.name(99) == "netns:99"
    assert r.name(12).handle == "/run/docker/netns/5c0b8e0c8f3e" and r.name(13).handle == "/proc/700/ns/net"
    assert r.name(11).handle == "/run/netns/netns-3240c257-8105-e818-e1c3-76390d401de6"
    assert r.name(12).to_dict() == {"netns_id": 12, "netns_kind": "container",
                                    "container": {"engine": "docker", "id": DOCKER, "name": "api"},
                                    "netns_holder": {"pid": 600, "comm": "nginx"}}


def test_netns_option_forms():
    r = _registry()
    assert r.resolve("blue").inode == 10
    assert r.resolve("web").inode == 11 and r.resolve(PODMAN[:6]).inode == 11
    assert r.resolve("14").inode == 14 and r.resolve("/tmp/x/ns").inode == 14
    assert r.resolve("host").inode == 1
    with pytest.raises(UsageError) as e:
        r.resolve(DOCKER[:8])  # api and cache share the prefix
    assert e.value.message == f"--netns {DOCKER[:8]} matches 2 namespaces"
    assert "api (docker" in e.value.hint and "cache (docker" in e.value.hint and "[12]" in e.value.hint
    with pytest.raises(NotFound) as e:
        r.resolve("nope")
    assert "pid 700 (sleep) [13]" in e.value.hint and "pid:N" in e.value.hint


def test_fix_commands_run_in_the_namespace_at_hand():
    r = _registry()
    assert ip_cmd(r.name(1)) == "ip" and exec_prefix(r.name(1)) == ""
    assert ip_cmd(r.name(10)) == "ip -n blue" and exec_prefix(r.name(10)) == "ip netns exec blue "
    assert ip_cmd(r.name(11)) == "ip -n netns-3240c257-8105-e818-e1c3-76390d401de6"
    assert ip_cmd(r.name(12)) == "nsenter -t 600 -n ip" and ip_cmd(r.name(13)) == "nsenter -t 700 -n ip"
    assert ip_cmd(r.name(14)) == "nsenter --net=/tmp/x/ns ip"
    assert ip_cmd("blue") == "ip -n blue"  # a plain name (unit tests, old callers)


def test_a_reused_inode_is_a_new_namespace():
    old = Namespace(20, ip_name="nd17-rx", pid=999999999)
    assert not old.same_as(Namespace(20, pid=4242, comm="sleep"))
    assert old.same_as(Namespace(20, ip_name="nd17-rx"))
    assert Namespace(21, mounts=["/a"]).same_as(Namespace(21, mounts=["/a", "/b"]))


def test_label_is_a_string_everywhere():
    lab = NsLabel("pid 7 (x)", inode=5, handle="/proc/7/ns/net", pid=7, comm="x")
    assert lab == "pid 7 (x)" and f"{lab}" == "pid 7 (x)" and lab.kind == "process"


def test_nsid_reply_parsing():
    from netdrop.net.nsid import RTM_NEWNSID, parse_nsid_reply
    attr = struct.pack("=HHi", 8, 1, 7)
    body = struct.pack("=B3x", 0) + attr
    msg = struct.pack("=IHHII", 16 + len(body), RTM_NEWNSID, 0, 1, 0) + body
    assert parse_nsid_reply(msg) == 7
    assert parse_nsid_reply(msg[:-4] + struct.pack("=i", -1)) is None  # NETNSA_NSID_NOT_ASSIGNED
    assert parse_nsid_reply(struct.pack("=IHHII", 36, 2, 0, 1, 0) + b"\0" * 20) is None  # NLMSG_ERROR
