"""Which container holds a process: its cgroup path names the engine and the container id, the engine's own files on
disk name the container (and the Kubernetes pod). No network, no engine CLI. Parsing is pure (tests/unit)."""
from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass
from typing import Dict, Iterable, List, Optional, Tuple

HEX64 = r"[0-9a-f]{64}"
# (engine, pattern on one cgroup path); the first match wins, so the more specific (CRI, pod) rules come first
CGROUP_RULES: Tuple[Tuple[str, "re.Pattern"], ...] = (
    ("cri-o", re.compile(rf"crio-(?!conmon-)({HEX64})(?:\.scope)?")),
    ("containerd", re.compile(rf"cri-containerd-({HEX64})(?:\.scope)?")),
    ("docker", re.compile(rf"docker-({HEX64})\.scope")),
    ("podman", re.compile(rf"libpod-(?!conmon-)({HEX64})(?:\.scope)?")),
    ("docker", re.compile(rf"/docker/({HEX64})(?:/|$)")),
    ("containerd", re.compile(rf"/kubepods[^\s]*/pod[0-9a-f_-]+/({HEX64})(?:/|$)")),
    ("containerd", re.compile(rf"nerdctl-({HEX64})\.scope")),
    ("containerd", re.compile(rf"^/([A-Za-z0-9_.-]+)/({HEX64})$")),  # plain containerd (ctr): /<namespace>/<id>
)
POD_UID = re.compile(r"pod([0-9a-f]{8}[-_][0-9a-f]{4}[-_][0-9a-f]{4}[-_][0-9a-f]{4}[-_][0-9a-f]{12})")


@dataclass(frozen=True)
class Container:
    engine: str  # docker, podman, containerd, cri-o
    id: str
    name: str = ""  # the engine's name for it, when its files say
    pod: str = ""  # Kubernetes "namespace/pod", when the node has it
    pod_uid: str = ""

    @property
    def short_id(self) -> str:
        return self.id[:12]

    def label(self) -> str:
        if self.pod:
            return f"{self.pod} (pod, {self.engine} {self.short_id})"
        if self.name:
            return f"{self.name} ({self.engine} {self.short_id})"
        return f"{self.engine} {self.short_id}"

    def to_dict(self) -> Dict[str, str]:
        d = {"engine": self.engine, "id": self.id, "name": self.name or self.short_id}
        if self.pod:
            d["pod"] = self.pod
        return d


def parse_cgroup(text: str) -> Optional[Container]:
    """/proc/<pid>/cgroup (v1 or v2 lines "id:controllers:path") -> the container it names, without a name yet."""
    paths = [line.split(":", 2)[2] for line in text.splitlines() if line.count(":") >= 2]
    for path in paths:
        for engine, rx in CGROUP_RULES:
            m = rx.search(path)
            if m:
                uid = POD_UID.search(path)
                return Container(engine, m.group(m.lastindex), pod_uid=uid.group(1).replace("_", "-") if uid else "")
    return None


def parse_mountinfo_nsfs(text: str) -> List[Tuple[int, str]]:
    """[(netns inode, mount point)] of every nsfs mount of a network namespace in /proc/self/mountinfo."""
    out = []
    for line in text.splitlines():
        left, sep, right = line.partition(" - ")
        if not sep:
            continue
        fields, tail = left.split(), right.split()
        if len(fields) < 5 or not tail or tail[0] != "nsfs":
            continue
        m = re.fullmatch(r"net:\[(\d+)\]", fields[3])
        if m:
            out.append((int(m.group(1)), _unescape(fields[4])))
    return out


def _unescape(path: str) -> str:
    """mountinfo escapes space, tab, newline and backslash as \\ooo."""
    return re.sub(r"\\([0-7]{3})", lambda m: chr(int(m.group(1), 8)), path)


def pod_from_log_dirs(names: Iterable[str], uid: str) -> str:
    """kubelet keeps /var/log/pods/<namespace>_<pod>_<uid>: "namespace/pod" for `uid`, else ""."""
    for n in names:
        parts = n.split("_")
        if len(parts) >= 3 and parts[-1] == uid:
            return f"{parts[0]}/{'_'.join(parts[1:-1])}"
    return ""


def name_from_docker_config(text: str) -> str:
    """/var/lib/docker/containers/<id>/config.v2.json: "Name": "/web"."""
    try:
        return (json.loads(text).get("Name") or "").lstrip("/")
    except (ValueError, AttributeError):
        return ""


def names_from_storage(text: str) -> Dict[str, str]:
    """containers/storage's containers.json (podman, CRI-O): id -> first name."""
    try:
        rows = json.loads(text)
    except ValueError:
        return {}
    return {r["id"]: (r.get("names") or [""])[0] for r in rows if isinstance(r, dict) and r.get("id")}


def names_from_oci_annotations(text: str) -> Tuple[str, str]:
    """An OCI bundle's config.json (containerd): (container name, "namespace/pod") from the CRI/nerdctl annotations."""
    try:
        ann = json.loads(text).get("annotations") or {}
    except (ValueError, AttributeError):
        return "", ""
    pod = ""
    if ann.get("io.kubernetes.cri.sandbox-name"):
        pod = f"{ann.get('io.kubernetes.cri.sandbox-namespace', '')}/{ann['io.kubernetes.cri.sandbox-name']}"
    name = ann.get("nerdctl/name") or ann.get("io.kubernetes.cri.container-name") or ""
    return name, pod


class RuntimeFiles:
    """Reads the engines' state files under `root` (tests point it at a recorded tree); caches per scan."""

    DOCKER = "var/lib/docker/containers"
    STORAGE = ("var/lib/containers/storage/overlay-containers/containers.json",)
    CONTAINERD = "run/containerd/io.containerd.runtime.v2.task"
    POD_LOGS = "var/log/pods"

    def __init__(self, root: str = "/"):
        self.root = root
        self._storage: Optional[Dict[str, str]] = None
        self._pod_logs: Optional[List[str]] = None

    def _read(self, *parts: str) -> str:
        try:
            with open(os.path.join(self.root, *parts)) as f:
                return f.read()
        except OSError:
            return ""

    def named(self, c: Container) -> Container:
        name, pod = "", ""
        if c.engine == "docker":
            name = name_from_docker_config(self._read(self.DOCKER, c.id, "config.v2.json"))
        elif c.engine in ("podman", "cri-o"):
            if self._storage is None:
                self._storage = {}
                for p in self.STORAGE:
                    self._storage.update(names_from_storage(self._read(p)))
            name = self._storage.get(c.id, "")
        elif c.engine == "containerd":
            name, pod = self._containerd(c.id)
        if c.pod_uid and not pod:
            if self._pod_logs is None:
                try:
                    self._pod_logs = os.listdir(os.path.join(self.root, self.POD_LOGS))
                except OSError:
                    self._pod_logs = []
            pod = pod_from_log_dirs(self._pod_logs, c.pod_uid)
        return Container(c.engine, c.id, name, pod, c.pod_uid)

    def _containerd(self, cid: str) -> Tuple[str, str]:
        base = os.path.join(self.root, self.CONTAINERD)
        try:
            spaces = os.listdir(base)
        except OSError:
            return "", ""
        for ns in spaces:
            text = self._read(self.CONTAINERD, ns, cid, "config.json")
            if text:
                return names_from_oci_annotations(text)
        return "", ""
