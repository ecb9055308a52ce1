"""What a container engine changes on the host, noted before a test and put back after it: forwarding sysctls,
firewall chains the engine adds (netavark, docker), nft tables that iptables-nft creates, bridges. Only what was not
there before the test is removed, so rules and links others made meanwhile stay."""
import re
import shlex
import subprocess
from dataclasses import dataclass
from typing import Dict, Set

SYSCTLS = ("net/ipv4/ip_forward", "net/ipv4/conf/all/forwarding", "net/ipv6/conf/all/forwarding")
ENGINE_CHAINS = re.compile(r"^(NETAVARK|CNI-|DOCKER|podman)")
ENGINE_RULE = re.compile(r"NETAVARK|CNI-|DOCKER|docker0|podman0")  # a rule an engine added (in a built-in chain)
TABLES = ("filter", "nat", "mangle", "raw")


def _run(*cmd):
    return subprocess.run(cmd, capture_output=True, text=True)


def _sysctls() -> Dict[str, str]:
    out = {}
    for k in SYSCTLS:
        try:
            with open("/proc/sys/" + k) as f:
                out[k] = f.read().strip()
        except OSError:
            pass
    return out


def _chains(table: str) -> Set[str]:
    text = _run("iptables-save", "-t", table).stdout
    return {line[1:].split()[0] for line in text.splitlines() if line.startswith(":")}


def _policies(table: str) -> Dict[str, str]:
    text = _run("iptables-save", "-t", table).stdout
    return {p[0][1:]: p[1] for p in (line.split() for line in text.splitlines() if line.startswith(":"))
            if p[1] != "-"}


def _rules(table: str) -> Set[str]:
    return {line for line in _run("iptables-save", "-t", table).stdout.splitlines() if line.startswith("-A ")}


def _nft_tables() -> Set[str]:
    return {line.strip() for line in _run("nft", "list", "tables").stdout.splitlines() if line.strip()}


def _links() -> Set[str]:
    return {line.split()[0].split("@")[0] for line in _run("ip", "-br", "link").stdout.splitlines() if line.strip()}


@dataclass
class HostState:
    sysctls: Dict[str, str]
    chains: Dict[str, Set[str]]
    nft_tables: Set[str]
    links: Set[str]
    rules: Dict[str, Set[str]]
    policies: Dict[str, Dict[str, str]]

    @classmethod
    def now(cls) -> "HostState":
        return cls(_sysctls(), {t: _chains(t) for t in TABLES}, _nft_tables(), _links(),
                   {t: _rules(t) for t in TABLES}, {t: _policies(t) for t in TABLES})

    def restore(self, bridges=("podman0", "docker0")) -> None:
        for k, v in self.sysctls.items():
            if _sysctls().get(k) != v:
                with open("/proc/sys/" + k, "w") as f:
                    f.write(v)
        for t in TABLES:
            new = {c for c in _chains(t) - self.chains[t] if ENGINE_CHAINS.match(c)}
            for line in _rules(t) - self.rules[t]:  # rules the engine added to chains that were there before
                args = shlex.split(line)
                if args[1] not in new and ENGINE_RULE.search(line):
                    _run("iptables", "-t", t, "-D", *args[1:])
            for chain, policy in self.policies[t].items():  # docker sets FORWARD's policy to DROP
                if _policies(t).get(chain) not in (None, policy):
                    _run("iptables", "-t", t, "-P", chain, policy)
            for c in new:
                _run("iptables", "-t", t, "-F", c)
            for c in new:
                _run("iptables", "-t", t, "-X", c)
        for table in _nft_tables() - self.nft_tables:  # "table ip nat" made by iptables-nft: only if left empty
            fam, name = table.split()[1:3]
            listing = _run("nft", "list", "table", fam, name).stdout
            if not re.search(r"^\s+(?!type |policy )\S.*$", "\n".join(
                    line for line in listing.splitlines() if not line.strip().startswith(("chain", "table", "}", "#"))),
                    re.M):
                _run("nft", "delete", "table", fam, name)
        for b in bridges:
            if b in _links() and b not in self.links:
                _run("ip", "link", "del", b)

    def differences(self) -> Dict[str, object]:
        """What is still changed compared with this state (empty when the host is as it was)."""
        now = HostState.now()
        diff: Dict[str, object] = {}
        if now.sysctls != self.sysctls:
            diff["sysctls"] = now.sysctls
        for t in TABLES:
            extra = {c for c in now.chains[t] - self.chains[t] if ENGINE_CHAINS.match(c)}
            extra |= {r for r in now.rules[t] - self.rules[t] if ENGINE_RULE.search(r)}
            if extra:
                diff[f"iptables {t}"] = extra
            changed = {c: p for c, p in now.policies[t].items() if self.policies[t].get(c, p) != p}
            if changed:
                diff[f"policies {t}"] = changed
        extra_links = {x for x in now.links - self.links if x in ("podman0", "docker0")}
        if extra_links:
            diff["links"] = extra_links
        if now.nft_tables - self.nft_tables:
            diff["nft tables"] = now.nft_tables - self.nft_tables
        return diff
